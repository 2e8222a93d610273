import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { GracefulShutdown } from './graceful-shutdown.service';
import { HealthController } from './health.controller';
import { LifecycleLogService } from './lifecycle-log.service';
import { RootController } from './root.controller';

@Module({
  imports: [PaymentsModule],
  controllers: [HealthController, RootController],
  providers: [LifecycleLogService, GracefulShutdown],
  exports: [GracefulShutdown],
})
export class HealthModule {}
