import { Column, Entity, PrimaryColumn } from 'typeorm';
import { FenColumn, TimeColumn } from '../../database/entity-columns';
import type { Channel } from '../../payments/payment-provider';

export enum DiscrepancyType {
  /** The channel has a payment or refund we do not know. Never healed by inventing one: a person looks. */
  MISSING_LOCAL = 'MISSING_LOCAL',
  /** We hold a payment or refund as succeeded that the channel's bill lacks. */
  MISSING_REMOTE = 'MISSING_REMOTE',
  AMOUNT_MISMATCH = 'AMOUNT_MISMATCH',
  /** The bill has it as done, we do not (unpaid payment, refund not succeeded). */
  STATUS_MISMATCH = 'STATUS_MISMATCH',
}

export const DISCREPANCY_TYPES = Object.values(DiscrepancyType);

@Entity('reconciliation_discrepancies')
export class ReconciliationDiscrepancy {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ name: 'run_id', type: 'varchar', length: 32 })
  runId!: string;

  @Column({ type: 'varchar', length: 16 })
  channel!: Channel;

  @Column({ type: 'varchar', length: 24 })
  type!: DiscrepancyType;

  @Column({ type: 'varchar', length: 16 })
  kind!: 'payment' | 'refund';

  @Column({ name: 'out_trade_no', type: 'varchar', length: 64, nullable: true })
  outTradeNo!: string | null;

  @Column({ name: 'out_refund_no', type: 'varchar', length: 64, nullable: true })
  outRefundNo!: string | null;

  @Column({ name: 'channel_trade_no', type: 'varchar', length: 64, nullable: true })
  channelTradeNo!: string | null;

  /** fen; null when the bill lacks the row. */
  @FenColumn('channel_amount', { nullable: true })
  channelAmount!: number | null;

  /** fen; null when we lack the row. */
  @FenColumn('local_amount', { nullable: true })
  localAmount!: number | null;

  @Column({ name: 'channel_status', type: 'varchar', length: 32, nullable: true })
  channelStatus!: string | null;

  @Column({ name: 'local_status', type: 'varchar', length: 16, nullable: true })
  localStatus!: string | null;

  /** Set when paygate fixed our side itself (STATUS_MISMATCH healed through the notification path). */
  @Column({ type: 'boolean' })
  healed!: boolean;

  @TimeColumn('resolved_at', { nullable: true })
  resolvedAt!: Date | null;

  @Column({ type: 'varchar', length: 1024, nullable: true })
  note!: string | null;

  @TimeColumn('created_at')
  createdAt!: Date;
}
