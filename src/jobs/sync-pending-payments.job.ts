import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { JobLeaseService } from '../database/job-lease.service';
import { PaymentsService } from '../payments/payments.service';
import { PolledJob } from './polled-job';

/**
 * sync-pending-payments: attempts that have heard nothing are queried at the
 * channel (back-off 1, 2, 5, 10, 30 min until expiry) and the answer applied
 * through the same path as a notification — for notifications that never came.
 */
@Injectable()
export class SyncPendingPaymentsJob extends PolledJob {
  constructor(
    registry: SchedulerRegistry,
    private readonly leases: JobLeaseService,
    private readonly payments: PaymentsService,
    @Inject(jobsConfig.KEY) jobs: ConfigType<typeof jobsConfig>,
  ) {
    super('sync-pending-payments', registry, jobs);
  }

  run(now = new Date()): Promise<number> {
    return this.withLease(this.leases, () => this.payments.syncDue(this.jobs.batchSize, now));
  }
}
