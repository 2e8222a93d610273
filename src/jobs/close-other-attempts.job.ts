import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { JobLeaseService } from '../database/job-lease.service';
import { PaymentsService } from '../payments/payments.service';
import { PolledJob } from './polled-job';

/**
 * close-other-attempts: once an order is paid, its other open attempts are
 * closed at their channels, which removes the way to pay it twice. A payment that
 * lands meanwhile takes the duplicate path (and is refunded).
 */
@Injectable()
export class CloseOtherAttemptsJob extends PolledJob {
  constructor(
    registry: SchedulerRegistry,
    private readonly leases: JobLeaseService,
    private readonly payments: PaymentsService,
    @Inject(jobsConfig.KEY) jobs: ConfigType<typeof jobsConfig>,
  ) {
    super('close-other-attempts', registry, jobs);
  }

  run(now = new Date()): Promise<number> {
    return this.withLease(this.leases, () =>
      this.payments.closeOtherAttempts(this.jobs.batchSize, now),
    );
  }
}
