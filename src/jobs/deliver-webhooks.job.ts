import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { WebhookDeliveryService } from '../webhooks/webhook-delivery.service';
import { PollLoop } from './poll-loop';

/**
 * deliver-webhooks: due merchant webhooks → POST → retry with back-off. The
 * schedule only; the work is WebhookDeliveryService.deliverDue.
 *
 * No job lease here, unlike other jobs: every delivery is claimed row by row
 * with a conditional update before it is sent, so instances polling at the
 * same time share the due rows instead of sending any of them twice.
 */
@Injectable()
export class DeliverWebhooksJob implements OnApplicationBootstrap, OnModuleDestroy {
  static readonly NAME = 'deliver-webhooks';
  private loop?: PollLoop;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly deliveries: WebhookDeliveryService,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.jobs.enabled) return;
    this.loop = new PollLoop(DeliverWebhooksJob.NAME, this.jobs.pollIntervalMs, () =>
      this.deliveries.deliverDue(this.jobs.batchSize),
    );
    this.loop.start(this.registry);
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop?.stop(this.registry);
  }
}
