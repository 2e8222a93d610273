import { Module } from '@nestjs/common';
import { WebhookCommitSubscriber } from './webhook-commit.subscriber';
import { WebhookDeliveryRepository } from './webhook-delivery.repository';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookHttpClient } from './webhook-http.client';
import { WebhookOutboxService } from './webhook-outbox.service';
import { WebhooksAdminController } from './webhooks-admin.controller';
import { WebhooksAdminService } from './webhooks-admin.service';

@Module({
  controllers: [WebhooksAdminController],
  providers: [
    WebhookOutboxService,
    WebhookCommitSubscriber,
    WebhookDeliveryRepository,
    WebhookDeliveryService,
    WebhookHttpClient,
    WebhooksAdminService,
  ],
  exports: [WebhookOutboxService, WebhookDeliveryService],
})
export class WebhooksModule {}
