import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { JobLeaseService } from '../database/job-lease.service';
import { RefundsService } from '../refunds/refunds.service';
import { PolledJob } from './polled-job';

/**
 * auto-refunds: duplicate payments, and late payments under
 * LATE_PAYMENT_POLICY=refund, are refunded in full, once. Each was marked in the
 * transaction that found it; the mark is claimed in the transaction that writes
 * its refund, so no crash, restart or second instance loses or doubles one.
 */
@Injectable()
export class AutoRefundsJob extends PolledJob {
  constructor(
    registry: SchedulerRegistry,
    private readonly leases: JobLeaseService,
    private readonly refunds: RefundsService,
    @Inject(jobsConfig.KEY) jobs: ConfigType<typeof jobsConfig>,
  ) {
    super('auto-refunds', registry, jobs);
  }

  run(now = new Date()): Promise<number> {
    return this.withLease(this.leases, () =>
      this.refunds.startDueAutoRefunds(this.jobs.batchSize, now),
    );
  }
}
