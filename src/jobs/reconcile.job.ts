import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { JobLeaseService } from '../database/job-lease.service';
import { ReconciliationService } from '../reconciliation/reconciliation.service';
import { PolledJob } from './polled-job';

/**
 * reconcile: from RECONCILE_AT Beijing time, each configured channel's bill of
 * the day before is compared with our books, once across instances; a bill
 * that is not ready is tried again every 30 minutes until that day ends.
 * Off with RECONCILE_ENABLED=false.
 */
@Injectable()
export class ReconcileJob extends PolledJob {
  constructor(
    registry: SchedulerRegistry,
    private readonly leases: JobLeaseService,
    private readonly reconciliation: ReconciliationService,
    @Inject(jobsConfig.KEY) jobs: ConfigType<typeof jobsConfig>,
  ) {
    super('reconcile', registry, { ...jobs, enabled: jobs.enabled && jobs.reconcile.enabled });
  }

  run(now = new Date(), signal = new AbortController().signal): Promise<number> {
    return this.withLease(this.leases, () => this.reconciliation.runDaily(signal, now));
  }

  protected override runInLoop(signal: AbortSignal): Promise<unknown> {
    return this.run(new Date(), signal);
  }
}
