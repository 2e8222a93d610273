import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module';
import { OrdersModule } from '../orders/orders.module';
import { PaymentsModule } from '../payments/payments.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { AdminController } from './admin.controller';

@Module({
  imports: [OrdersModule, PaymentsModule, NotificationsModule, WebhooksModule],
  controllers: [AdminController],
})
export class AdminModule {}
