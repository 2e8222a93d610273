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

  run(now = new Date()): Promise<number> {
    return this.withLease(this.leases, async () => {
      const expired = await this.orders.findExpired(this.jobs.batchSize, now);
      for (const order of expired) {
        try {
          await this.payments.closeOrder(order.id, now);
        } catch (error) {
          // Left PENDING: the next run tries again.
          this.logger.warn(`order ${order.id} not closed yet: ${(error as Error).message}`);
        }
      }
      return expired.length;
    });
  }
}
