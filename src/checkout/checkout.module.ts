import { Module } from '@nestjs/common';
import { OrdersModule } from '../orders/orders.module';
import { PaymentsModule } from '../payments/payments.module';
import { CheckoutAssets } from './checkout-assets';
import { CheckoutRateLimits } from './checkout-rate-limits';
import { CheckoutController } from './checkout.controller';
import { CheckoutService } from './checkout.service';

/** The hosted checkout page: orders and payments through their exported services only. */
@Module({
  imports: [OrdersModule, PaymentsModule],
  controllers: [CheckoutController],
  providers: [CheckoutService, CheckoutAssets, CheckoutRateLimits],
})
export class CheckoutModule {}
