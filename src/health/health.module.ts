import { Module } from '@nestjs/common';
import { HealthController } from './health.controller';
import { LifecycleLogService } from './lifecycle-log.service';
import { RootController } from './root.controller';

@Module({ controllers: [HealthController, RootController], providers: [LifecycleLogService] })
export class HealthModule {}
