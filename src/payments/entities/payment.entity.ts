import { Column, Entity, PrimaryColumn } from 'typeorm';
import { FenColumn, JsonColumn, TimeColumn } from '../../database/entity-columns';
import type { Channel, PaymentAction, PaymentMethod } from '../payment-provider';

export enum PaymentStatus {
  PENDING = 'PENDING',
  SUCCEEDED = 'SUCCEEDED',
  CLOSED = 'CLOSED',
  FAILED = 'FAILED',
}

/**
 * Why a succeeded attempt is not simply "the order's payment":
 * DUPLICATE — the order was already paid by another attempt, refund this one;
 * LATE_ACCEPTED — paid after the order closed, and the order was reopened as paid;
 * LATE_REFUND — paid after the order closed under LATE_PAYMENT_POLICY=refund, refund it.
 */
export type PaymentAnomaly = 'DUPLICATE' | 'LATE_ACCEPTED' | 'LATE_REFUND';

/** One attempt to pay an order on one channel with one method. */
@Entity('payments')
export class Payment {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ name: 'order_id', type: 'varchar', length: 32 })
  orderId!: string;

  @Column({ name: 'out_trade_no', type: 'varchar', length: 32 })
  outTradeNo!: string;

  @Column({ type: 'varchar', length: 16 })
  channel!: Channel;

  @Column({ type: 'varchar', length: 16 })
  method!: PaymentMethod;

  @FenColumn('amount')
  amount!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: PaymentStatus;

  @Column({ type: 'varchar', length: 16, nullable: true })
  anomaly!: PaymentAnomaly | null;

  @Column({ name: 'channel_trade_no', type: 'varchar', length: 64, nullable: true })
  channelTradeNo!: string | null;

  @JsonColumn('action')
  action!: PaymentAction | null;

  @Column({ name: 'client_ip', type: 'varchar', length: 64, nullable: true })
  clientIp!: string | null;

  @Column({ name: 'return_url', type: 'varchar', length: 1024, nullable: true })
  returnUrl!: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  openid!: string | null;

  @TimeColumn('expires_at')
  expiresAt!: Date;

  @TimeColumn('paid_at', { nullable: true })
  paidAt!: Date | null;

  @TimeColumn('closed_at', { nullable: true })
  closedAt!: Date | null;

  @TimeColumn('next_query_at', { nullable: true })
  nextQueryAt!: Date | null;

  @Column({ name: 'query_attempts', type: 'integer' })
  queryAttempts!: number;

  /**
   * Set, in the transaction that found a duplicate or late payment, when paygate
   * must refund it by itself; cleared in the transaction that writes that refund.
   */
  @TimeColumn('refund_due_at', { nullable: true })
  refundDueAt!: Date | null;

  @TimeColumn('created_at')
  createdAt!: Date;

  @TimeColumn('updated_at')
  updatedAt!: Date;
}
