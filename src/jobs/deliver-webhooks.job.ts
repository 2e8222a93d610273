import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { DeliveryRunSummary, WebhookDeliveryService } from '../webhooks/webhook-delivery.service';
import { WebhookOutboxService } from '../webhooks/webhook-outbox.service';
import { PolledJob } from './polled-job';
import { PollLoopOptions } from './poll-loop';

/**
 * deliver-webhooks: due merchant webhooks → POST → retry with back-off. The
 * schedule only; the work is WebhookDeliveryService.drain, which goes on page
 * after page while there is due work, so the poll interval only paces an empty
 * outbox. An event committed by this instance wakes the loop at once; one that
 * arrives while a drain is going makes it look again (so do poll ticks).
 *
 * No job lease here, unlike other jobs: every delivery is claimed with a
 * conditional update before it is sent, so instances polling at the same time
 * share the due rows instead of sending any of them twice.
 */
@Injectable()
export class DeliverWebhooksJob extends PolledJob {
  private unsubscribe?: () => void;

  constructor(
    registry: SchedulerRegistry,
    private readonly deliveries: WebhookDeliveryService,
    private readonly outbox: WebhookOutboxService,
    @Inject(jobsConfig.KEY) jobs: ConfigType<typeof jobsConfig>,
  ) {
    super('deliver-webhooks', registry, jobs);
  }

  /** Delivers everything due now; resolves to the number of attempts made. */
  async run(now?: Date): Promise<number> {
    return attempts(await this.deliveries.drain(this.jobs.batchSize, { now }));
  }

  override onApplicationBootstrap(): void {
    super.onApplicationBootstrap();
    if (this.jobs.enabled) this.unsubscribe = this.outbox.onCommitted(() => this.wake());
  }

  override async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    await super.onModuleDestroy();
  }

  protected override runInLoop(signal: AbortSignal): Promise<unknown> {
    return this.deliveries.drain(this.jobs.batchSize, { signal });
  }

  protected override loopOptions(): PollLoopOptions {
    return { onBusy: () => this.deliveries.nudge() };
  }
}

function attempts(s: DeliveryRunSummary): number {
  return s.delivered + s.retrying + s.failed + s.claim_lost + s.error;
}
