import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { WebhookDeliveryService } from '../webhooks/webhook-delivery.service';
import { PolledJob } from './polled-job';

/**
 * deliver-webhooks: due merchant webhooks → POST → retry with back-off. The
 * schedule only; the work is WebhookDeliveryService.deliverDue.
 *
 * No job lease here, unlike other jobs: every delivery is claimed row by row
 * with a conditional update before it is sent, so instances polling at the
 * same time share the due rows instead of sending any of them twice.
 */
@Injectable()
export class DeliverWebhooksJob extends PolledJob {
  constructor(
    registry: SchedulerRegistry,
    private readonly deliveries: WebhookDeliveryService,
    @Inject(jobsConfig.KEY) jobs: ConfigType<typeof jobsConfig>,
  ) {
    super('deliver-webhooks', registry, jobs);
  }

  async run(now?: Date): Promise<number> {
    return (await this.deliveries.deliverDue(this.jobs.batchSize, now)).due;
  }
}
