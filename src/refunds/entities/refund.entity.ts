import { Column, Entity, PrimaryColumn } from 'typeorm';
import { FenColumn, TimeColumn } from '../../database/entity-columns';
import type { Channel } from '../../payments/payment-provider';
import { RefundKind, RefundStatus } from '../refund-state';

/** One refund of one payment attempt, on the channel that took the money. */
@Entity('refunds')
export class Refund {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ name: 'order_id', type: 'varchar', length: 32 })
  orderId!: string;

  @Column({ name: 'payment_id', type: 'varchar', length: 32 })
  paymentId!: string;

  @Column({ type: 'varchar', length: 16 })
  channel!: Channel;

  /** The refunded attempt's number at the channel. */
  @Column({ name: 'out_trade_no', type: 'varchar', length: 32 })
  outTradeNo!: string;

  @Column({ type: 'varchar', length: 24 })
  kind!: RefundKind;

  @Column({ name: 'merchant_refund_no', type: 'varchar', length: 64, nullable: true })
  merchantRefundNo!: string | null;

  /** The number the channel knows this refund by; every retry re-sends the same one. */
  @Column({ name: 'out_refund_no', type: 'varchar', length: 64 })
  outRefundNo!: string;

  @FenColumn('amount')
  amount!: number;

  @FenColumn('total_amount')
  totalAmount!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: RefundStatus;

  @Column({ type: 'varchar', length: 256, nullable: true })
  reason!: string | null;

  @Column({ name: 'failure_reason', type: 'varchar', length: 512, nullable: true })
  failureReason!: string | null;

  @Column({ name: 'channel_refund_no', type: 'varchar', length: 64, nullable: true })
  channelRefundNo!: string | null;

  /** When the sync job next asks the channel; also its claim on the row while it does. */
  @TimeColumn('next_query_at', { nullable: true })
  nextQueryAt!: Date | null;

  @Column({ name: 'query_attempts', type: 'integer' })
  queryAttempts!: number;

  @TimeColumn('created_at')
  createdAt!: Date;

  @TimeColumn('succeeded_at', { nullable: true })
  succeededAt!: Date | null;

  @TimeColumn('failed_at', { nullable: true })
  failedAt!: Date | null;

  @TimeColumn('updated_at')
  updatedAt!: Date;
}
