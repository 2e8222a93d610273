import { Module } from '@nestjs/common';
import { OrdersModule } from '../orders/orders.module';
import { wechatConfig } from '../config/wechat.config';
import { MetricsService } from '../metrics/metrics.service';
import { AlipayProvider } from './channels/alipay/alipay.provider';
import { WECHAT_PROVIDER, createWechatProvider } from './channels/wechat/wechat.providers';
import { PAYMENT_PROVIDERS, PaymentProvider } from './payment-provider';
import { PaymentsController } from './payments.controller';
import { PaymentsService } from './payments.service';
import { ProviderRegistry } from './provider-registry';

/** Channel providers are DI strategies: each registered here joins PAYMENT_PROVIDERS. */
@Module({
  imports: [OrdersModule],
  controllers: [PaymentsController],
  providers: [
    AlipayProvider,
    {
      provide: WECHAT_PROVIDER,
      useFactory: createWechatProvider,
      inject: [wechatConfig.KEY, MetricsService],
    },
    {
      provide: PAYMENT_PROVIDERS,
      useFactory: (...providers: PaymentProvider[]) => providers,
      inject: [AlipayProvider, WECHAT_PROVIDER],
    },
    ProviderRegistry,
    PaymentsService,
  ],
  exports: [PaymentsService, ProviderRegistry],
})
export class PaymentsModule {}
