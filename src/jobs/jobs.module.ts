import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { OrdersModule } from '../orders/orders.module';
import { PaymentsModule } from '../payments/payments.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { CloseExpiredOrdersJob } from './close-expired-orders.job';
import { DeliverWebhooksJob } from './deliver-webhooks.job';
import { SyncPendingPaymentsJob } from './sync-pending-payments.job';

/**
 * Schedules only (design.md, "Jobs and many instances"). Each job is a thin
 * class that, when JOBS_ENABLED, runs a PollLoop around one method of the
 * service that owns the work. To add one (refund sync, reconciliation…):
 * write it like CloseExpiredOrdersJob, import the module exporting
 * its service, list it in providers. Jobs that call channels take a
 * JobLeaseService lease (withLease) so one instance at a time does them.
 */
@Module({
  imports: [ScheduleModule.forRoot(), WebhooksModule, OrdersModule, PaymentsModule],
  providers: [DeliverWebhooksJob, CloseExpiredOrdersJob, SyncPendingPaymentsJob],
})
export class JobsModule {}
