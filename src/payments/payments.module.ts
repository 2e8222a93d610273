import { Module } from '@nestjs/common';
import { OrdersModule } from '../orders/orders.module';
import { wechatConfig } from '../config/wechat.config';
import { MetricsService } from '../metrics/metrics.service';
import { AlipayProvider } from './channels/alipay/alipay.provider';
import { WechatV3Provider } from './channels/wechat/wechat-v3.provider';
import { createWechatProvider } from './channels/wechat/wechat.providers';
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
      provide: WechatV3Provider,
      useFactory: createWechatProvider,
      inject: [wechatConfig.KEY, MetricsService],
    },
    {
      provide: PAYMENT_PROVIDERS,
      useFactory: (...providers: PaymentProvider[]) => providers,
      inject: [AlipayProvider, WechatV3Provider],
    },
    ProviderRegistry,
    PaymentsService,
  ],
  exports: [PaymentsService, ProviderRegistry],
})
export class PaymentsModule {}
