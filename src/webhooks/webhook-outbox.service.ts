import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { newId } from '../common/ids/ids';
import { webhooksConfig } from '../config/webhooks.config';
import { Tx } from '../database/unit-of-work';
import { insertRow } from '../database/sql';
import { WebhookCommitSubscriber } from './webhook-commit.subscriber';
import { DeliveryStatus, WebhookDelivery } from './entities/webhook-delivery.entity';
import { WebhookEvent, WebhookEventType } from './entities/webhook-event.entity';

export interface NewWebhookEvent {
  type: WebhookEventType;
  orderId: string;
  refundId?: string;
  /** The order or refund as it is after the change, in its public shape. */
  data: unknown;
  /** The order's notifyUrl; MERCHANT_WEBHOOK_URL when absent. */
  notifyUrl?: string | null;
}

/**
 * The outbox: callers write an event inside the transaction of the state change
 * that causes it, so there is never one without the other. Delivery happens
 * later, from these rows; onCommitted tells the delivery loop when there are
 * new ones, once they are committed.
 */
@Injectable()
export class WebhookOutboxService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Webhooks');

  constructor(
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly commits: WebhookCommitSubscriber,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.defaultUrl) {
      this.logger.warn(
        'MERCHANT_WEBHOOK_URL is not set: orders created without a notifyUrl get no webhooks (their events are recorded, not sent)',
      );
    }
  }

  /** Whether events of an order with this notifyUrl are delivered anywhere. */
  delivers(notifyUrl: string | null | undefined): boolean {
    return Boolean(notifyUrl ?? this.config.defaultUrl);
  }

  async enqueue(tx: Tx, input: NewWebhookEvent, now = new Date()): Promise<WebhookEvent> {
    const id = newId('evt');
    const event: WebhookEvent = {
      id,
      type: input.type,
      orderId: input.orderId,
      refundId: input.refundId ?? null,
      payload: { id, type: input.type, createdAt: now.toISOString(), data: input.data },
      createdAt: now,
    };
    await insertRow(tx, WebhookEvent, event);
    const url = input.notifyUrl ?? this.config.defaultUrl;
    if (url) {
      await insertRow(tx, WebhookDelivery, {
        id: newId('whd'),
        eventId: id,
        orderId: input.orderId,
        url,
        status: DeliveryStatus.PENDING,
        attempts: 0,
        nextAttemptAt: now,
        claimedBy: null,
        claimedUntil: null,
        lastStatus: null,
        lastError: null,
        deliveredAt: null,
        createdAt: now,
        updatedAt: now,
      });
      this.commits.noteEnqueued(tx);
    }
    return event;
  }

  /**
   * `listener` is called soon after each commit (in this process) that wrote
   * deliveries, never before it; returns its removal.
   */
  onCommitted(listener: () => void): () => void {
    return this.commits.onCommitted(listener);
  }

  /** Every event of an order, oldest first (admin view). */
  listForOrder(orderId: string): Promise<WebhookEvent[]> {
    return this.dataSource.manager.find(WebhookEvent, {
      where: { orderId },
      order: { createdAt: 'ASC' },
    });
  }
}
