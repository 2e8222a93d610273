import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { CheckoutModule } from './checkout/checkout.module';
import { RequestIdMiddleware } from './common/logging/request-id.middleware';
import { AppConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsMiddleware } from './metrics/metrics.middleware';
import { MetricsModule } from './metrics/metrics.module';
import { NotificationsModule } from './notifications/notifications.module';
import { OrdersModule } from './orders/orders.module';
import { PaymentsModule } from './payments/payments.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';
import { RefundsModule } from './refunds/refunds.module';
import { sandboxModules } from './sandbox/sandbox.modules';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class AppModule implements NestModule {
  /**
   * Built from the environment at the time of the call, because which channel
   * modules and sandboxes exist depends on it (tests set the environment first).
   */
  static register(): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule,
        DatabaseModule,
        MetricsModule,
        HealthModule,
        WebhooksModule,
        OrdersModule,
        PaymentsModule,
        RefundsModule,
        NotificationsModule,
        ReconciliationModule,
        AdminModule,
        AuthModule,
        CheckoutModule,
        JobsModule,
        ...sandboxModules(process.env),
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestIdMiddleware, MetricsMiddleware).forRoutes('*path');
  }
}
