import { Logger } from '@nestjs/common';
import { JobLeaseService } from '../database/job-lease.service';

/**
 * Runs `work` only while this instance holds the job's lease, so one instance
 * at a time does a job that calls channels. The lease is an economy, not the
 * safety: every row still changes through conditional updates.
 */
export async function withLease(
  leases: JobLeaseService,
  name: string,
  owner: string,
  ttlMs: number,
  work: () => Promise<number>,
  logger: Logger,
): Promise<number> {
  if (!(await leases.tryAcquire(name, owner, ttlMs))) return 0;
  const done = await work();
  if (done > 0) logger.log(`${name}: ${done} handled`);
  return done;
}
