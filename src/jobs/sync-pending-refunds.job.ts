import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { JobLeaseService } from '../database/job-lease.service';
import { RefundsService } from '../refunds/refunds.service';
import { PolledJob } from './polled-job';

/**
 * sync-pending-refunds: PENDING refunds whose next look is due are queried at
 * the channel (back-off 1, 2, 5, 10, 30, then every 60 min) and settled; one the
 * channel never received is sent again under the same number.
 */
@Injectable()
export class SyncPendingRefundsJob extends PolledJob {
  constructor(
    registry: SchedulerRegistry,
    private readonly leases: JobLeaseService,
    private readonly refunds: RefundsService,
    @Inject(jobsConfig.KEY) jobs: ConfigType<typeof jobsConfig>,
  ) {
    super('sync-pending-refunds', registry, jobs);
  }

  run(now = new Date()): Promise<number> {
    return this.withLease(this.leases, () => this.refunds.syncDue(this.jobs.batchSize, now));
  }
}
