import { Module } from '@nestjs/common';
import { OrdersModule } from '../orders/orders.module';
import { AlipayProvider } from './channels/alipay/alipay.provider';
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
      provide: PAYMENT_PROVIDERS,
      useFactory: (...providers: PaymentProvider[]) => providers,
      inject: [AlipayProvider],
    },
    ProviderRegistry,
    PaymentsService,
  ],
  exports: [PaymentsService, ProviderRegistry],
})
export class PaymentsModule {}
