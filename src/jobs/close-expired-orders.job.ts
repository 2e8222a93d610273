import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { jobsConfig } from '../config/jobs.config';
import { JobLeaseService } from '../database/job-lease.service';
import { OrdersService } from '../orders/orders.service';
import { PaymentsService } from '../payments/payments.service';
import { PolledJob } from './polled-job';

/**
 * close-expired-orders: PENDING orders past expires_at are closed the same way
 * as through the API — at the channel first — so an order paid at the last
 * moment ends PAID, not CLOSED.
 */
@Injectable()
export class CloseExpiredOrdersJob extends PolledJob {
  constructor(
    registry: SchedulerRegistry,
    private readonly leases: JobLeaseService,
    private readonly orders: OrdersService,
    private readonly payments: PaymentsService,
    @Inject(jobsConfig.KEY) jobs: ConfigType<typeof jobsConfig>,
  ) {
    super('close-expired-orders', registry, jobs);
  }

  run(now?: Date, signal?: AbortSignal): Promise<number> {
    return this.withLease(this.leases, async () => {
      let handled = 0;
      // A full batch is followed at once by the next (a backlog after an outage or a
      // quiet night closes at the channel's pace, not one batch per poll), as long as
      // the batch closed something (orders the channel keeps failing wait for the next
      // poll) and the lease is still ours.
      for (;;) {
        const at = now ?? new Date();
        const expired = await this.orders.findExpired(this.jobs.batchSize, at);
        let closed = 0;
        await eachWithConcurrency(expired, CLOSE_CONCURRENCY, async (order) => {
          try {
            await this.payments.closeOrder(order.id, at, order);
            closed += 1;
          } catch (error) {
            // Left PENDING: the next run tries again.
            this.logger.warn(`order ${order.id} not closed yet: ${(error as Error).message}`);
          }
        });
        handled += expired.length;
        if (expired.length < this.jobs.batchSize || closed === 0 || signal?.aborted) break;
        if (!(await this.renewLease(this.leases))) break;
      }
      return handled;
    });
  }

  protected override runInLoop(signal: AbortSignal): Promise<unknown> {
    return this.run(undefined, signal);
  }
}

/**
 * How many orders of a batch are closed at once: each waits mostly on its channel
 * call and its commit, and one instance closes at a time (the lease), so a
 * backlog needs a few in flight; 16 keeps the channel busy without crowding it.
 */
const CLOSE_CONCURRENCY = 16;

async function eachWithConcurrency<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}
