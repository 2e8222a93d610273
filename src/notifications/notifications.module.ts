import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { RefundsModule } from '../refunds/refunds.module';
import { AlipayNotifyController } from './alipay-notify.controller';
import { NotificationsService } from './notifications.service';
import { WechatNotifyController } from './wechat-notify.controller';
import { NotifyAllowlistGuard } from './notify-allowlist.guard';

@Module({
  imports: [PaymentsModule, RefundsModule],
  controllers: [AlipayNotifyController, WechatNotifyController],
  providers: [NotificationsService, NotifyAllowlistGuard],
  exports: [NotificationsService],
})
export class NotificationsModule {}
