import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../../database/entity-columns';

export enum DeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  FAILED = 'FAILED',
}

/** Sending one event to one URL, until a 2xx or the retry schedule runs out. */
@Entity('webhook_deliveries')
export class WebhookDelivery {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ name: 'event_id', type: 'varchar', length: 32 })
  eventId!: string;

  @Column({ name: 'order_id', type: 'varchar', length: 32 })
  orderId!: string;

  @Column({ type: 'varchar', length: 1024 })
  url!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: DeliveryStatus;

  @Column({ type: 'integer' })
  attempts!: number;

  @TimeColumn('next_attempt_at')
  nextAttemptAt!: Date;

  @Column({ name: 'claimed_by', type: 'varchar', length: 64, nullable: true })
  claimedBy!: string | null;

  @TimeColumn('claimed_until', { nullable: true })
  claimedUntil!: Date | null;

  @Column({ name: 'last_status', type: 'integer', nullable: true })
  lastStatus!: number | null;

  @Column({ name: 'last_error', type: 'varchar', length: 512, nullable: true })
  lastError!: string | null;

  @TimeColumn('delivered_at', { nullable: true })
  deliveredAt!: Date | null;

  @TimeColumn('created_at')
  createdAt!: Date;

  @TimeColumn('updated_at')
  updatedAt!: Date;
}
