import { Column, Entity, PrimaryColumn } from 'typeorm';
import { JsonColumn, TimeColumn } from '../../database/entity-columns';

/**
 * The inbox: every callback a channel made, verified or not, with what became
 * of it. outcome is `processed`, `duplicate` or `rejected:<reason>`.
 */
@Entity('channel_notifications')
export class ChannelNotification {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  channel!: string;

  /** Unique per channel: the first receipt of a notification holds it, copies get a suffixed key. */
  @Column({ name: 'dedupe_key', type: 'varchar', length: 191 })
  dedupeKey!: string;

  @Column({ type: 'varchar', length: 32 })
  kind!: string;

  @Column({ name: 'out_trade_no', type: 'varchar', length: 64, nullable: true })
  outTradeNo!: string | null;

  @Column({ name: 'source_ip', type: 'varchar', length: 64 })
  sourceIp!: string;

  @Column({ type: 'boolean' })
  verified!: boolean;

  @Column({ type: 'varchar', length: 128 })
  outcome!: string;

  /** The notification's fields for audit, signature and secrets removed. */
  @JsonColumn('body')
  body!: Record<string, unknown> | null;

  @TimeColumn('received_at')
  receivedAt!: Date;
}
