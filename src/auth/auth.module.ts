import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { OrdersModule } from '../orders/orders.module';
import { ApiAuthGuard } from './api-auth.guard';

@Module({
  imports: [OrdersModule],
  providers: [{ provide: APP_GUARD, useClass: ApiAuthGuard }],
})
export class AuthModule {}
