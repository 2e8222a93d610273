import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module';
import { PaymentsModule } from '../payments/payments.module';
import { RefundsModule } from '../refunds/refunds.module';
import { ReconciliationController } from './reconciliation.controller';
import { ReconciliationRunner } from './reconciliation.runner';
import { ReconciliationService } from './reconciliation.service';
import { ReconciliationStore } from './reconciliation.store';

@Module({
  imports: [PaymentsModule, RefundsModule, NotificationsModule],
  controllers: [ReconciliationController],
  providers: [ReconciliationService, ReconciliationRunner, ReconciliationStore],
  exports: [ReconciliationService],
})
export class ReconciliationModule {}
