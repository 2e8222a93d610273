import { Column, Entity, PrimaryColumn } from 'typeorm';
import { JsonColumn, TimeColumn } from '../../database/entity-columns';

export type WebhookEventType = 'order.paid' | 'order.closed' | 'refund.succeeded' | 'refund.failed';

/** One merchant-facing event, written in the transaction of the state change that caused it. */
@Entity('webhook_events')
export class WebhookEvent {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ type: 'varchar', length: 32 })
  type!: WebhookEventType;

  @Column({ name: 'order_id', type: 'varchar', length: 32 })
  orderId!: string;

  @Column({ name: 'refund_id', type: 'varchar', length: 32, nullable: true })
  refundId!: string | null;

  /** The exact JSON body sent to the merchant: `{id, type, createdAt, data}`. */
  @JsonColumn('payload', { nullable: false })
  payload!: { id: string; type: WebhookEventType; createdAt: string; data: unknown };

  @TimeColumn('created_at')
  createdAt!: Date;
}
