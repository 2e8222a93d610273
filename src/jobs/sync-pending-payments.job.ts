import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { JobLeaseService } from '../database/job-lease.service';
import { PaymentsService } from '../payments/payments.service';
import { withLease } from './leased-job';
import { PollLoop } from './poll-loop';

/**
 * sync-pending-payments: attempts that have heard nothing are queried at the
 * channel (back-off 1, 2, 5, 10, 30 min until expiry) and the answer applied
 * through the same path as a notification — for notifications that never came.
 */
@Injectable()
export class SyncPendingPaymentsJob implements OnApplicationBootstrap, OnModuleDestroy {
  static readonly NAME = 'sync-pending-payments';
  private readonly logger = new Logger(`Job ${SyncPendingPaymentsJob.NAME}`);
  private loop?: PollLoop;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly leases: JobLeaseService,
    private readonly payments: PaymentsService,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.jobs.enabled) return;
    this.loop = new PollLoop(SyncPendingPaymentsJob.NAME, this.jobs.pollIntervalMs, () =>
      this.run(),
    );
    this.loop.start(this.registry);
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop?.stop(this.registry);
  }

  run(now = new Date()): Promise<number> {
    const ttl = Math.max(60_000, this.jobs.pollIntervalMs * 3);
    return withLease(
      this.leases,
      SyncPendingPaymentsJob.NAME,
      this.jobs.instanceId,
      ttl,
      () => this.payments.syncDue(this.jobs.batchSize, now),
      this.logger,
    );
  }
}
