import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module';
import { OrdersModule } from '../orders/orders.module';
import { PaymentsModule } from '../payments/payments.module';
import { RefundsModule } from '../refunds/refunds.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { AdminController } from './admin.controller';

@Module({
  imports: [OrdersModule, PaymentsModule, RefundsModule, NotificationsModule, WebhooksModule],
  controllers: [AdminController],
})
export class AdminModule {}
