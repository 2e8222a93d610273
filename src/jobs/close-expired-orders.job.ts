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
import { OrdersService } from '../orders/orders.service';
import { PaymentsService } from '../payments/payments.service';
import { withLease } from './leased-job';
import { PollLoop } from './poll-loop';

/**
 * close-expired-orders: PENDING orders past expires_at are closed the same way
 * as through the API — at the channel first — so an order paid at the last
 * moment ends PAID, not CLOSED.
 */
@Injectable()
export class CloseExpiredOrdersJob implements OnApplicationBootstrap, OnModuleDestroy {
  static readonly NAME = 'close-expired-orders';
  private readonly logger = new Logger(`Job ${CloseExpiredOrdersJob.NAME}`);
  private loop?: PollLoop;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly leases: JobLeaseService,
    private readonly orders: OrdersService,
    private readonly payments: PaymentsService,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.jobs.enabled) return;
    this.loop = new PollLoop(CloseExpiredOrdersJob.NAME, this.jobs.pollIntervalMs, () =>
      this.run(),
    );
    this.loop.start(this.registry);
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop?.stop(this.registry);
  }

  /** One batch; returns how many orders were looked at. */
  run(now = new Date()): Promise<number> {
    const ttl = Math.max(60_000, this.jobs.pollIntervalMs * 3);
    return withLease(
      this.leases,
      CloseExpiredOrdersJob.NAME,
      this.jobs.instanceId,
      ttl,
      async () => {
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
      },
      this.logger,
    );
  }
}
