import { Column, Entity, PrimaryColumn } from 'typeorm';
import { FenColumn, JsonColumn, TimeColumn } from '../../database/entity-columns';
import { OrderStatus } from '../order-state';

@Entity('orders')
export class Order {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ name: 'merchant_order_no', type: 'varchar', length: 64 })
  merchantOrderNo!: string;

  @FenColumn('amount')
  amount!: number;

  @Column({ type: 'varchar', length: 3 })
  currency!: string;

  @Column({ type: 'varchar', length: 128 })
  subject!: string;

  @Column({ type: 'varchar', length: 512, nullable: true })
  description!: string | null;

  @Column({ type: 'varchar', length: 24 })
  status!: OrderStatus;

  @FenColumn('paid_amount')
  paidAmount!: number;

  @FenColumn('refunded_amount')
  refundedAmount!: number;

  /** Held for merchant refunds in flight: refunded + reserved never passes paid (design.md invariant 3). */
  @FenColumn('refund_reserved')
  refundReserved!: number;

  @Column({ type: 'varchar', length: 16, nullable: true })
  channel!: string | null;

  @Column({ name: 'channel_trade_no', type: 'varchar', length: 64, nullable: true })
  channelTradeNo!: string | null;

  @Column({ name: 'paid_payment_id', type: 'varchar', length: 32, nullable: true })
  paidPaymentId!: string | null;

  @Column({ name: 'client_secret', type: 'varchar', length: 64 })
  clientSecret!: string;

  @Column({ name: 'notify_url', type: 'varchar', length: 1024, nullable: true })
  notifyUrl!: string | null;

  /** Where the hosted checkout page sends the buyer once the order is paid (http or https). */
  @Column({ name: 'return_url', type: 'varchar', length: 1024, nullable: true })
  returnUrl!: string | null;

  @JsonColumn('metadata')
  metadata!: Record<string, unknown> | null;

  @TimeColumn('expires_at')
  expiresAt!: Date;

  @TimeColumn('paid_at', { nullable: true })
  paidAt!: Date | null;

  @TimeColumn('closed_at', { nullable: true })
  closedAt!: Date | null;

  @TimeColumn('created_at')
  createdAt!: Date;

  @TimeColumn('updated_at')
  updatedAt!: Date;
}
