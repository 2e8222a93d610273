import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { OrdersModule } from '../orders/orders.module';
import { PaymentsModule } from '../payments/payments.module';
import { ReconciliationModule } from '../reconciliation/reconciliation.module';
import { RefundsModule } from '../refunds/refunds.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { AutoRefundsJob } from './auto-refunds.job';
import { CloseExpiredOrdersJob } from './close-expired-orders.job';
import { CloseOtherAttemptsJob } from './close-other-attempts.job';
import { DeliverWebhooksJob } from './deliver-webhooks.job';
import { ReconcileJob } from './reconcile.job';
import { SyncPendingPaymentsJob } from './sync-pending-payments.job';
import { SyncPendingRefundsJob } from './sync-pending-refunds.job';

/**
 * Schedules only (design.md, "Jobs and many instances"). Each job is a thin
 * class that, when JOBS_ENABLED, runs a PollLoop around one method of the
 * service that owns the work. To add one (refund sync, reconciliation…):
 * write it like CloseExpiredOrdersJob, import the module exporting
 * its service, list it in providers. Jobs that call channels take a
 * JobLeaseService lease (withLease) so one instance at a time does them.
 */
@Module({
  imports: [
    ScheduleModule.forRoot(),
    WebhooksModule,
    OrdersModule,
    PaymentsModule,
    RefundsModule,
    ReconciliationModule,
  ],
  providers: [
    DeliverWebhooksJob,
    CloseExpiredOrdersJob,
    CloseOtherAttemptsJob,
    SyncPendingPaymentsJob,
    SyncPendingRefundsJob,
    AutoRefundsJob,
    ReconcileJob,
  ],
})
export class JobsModule {}
