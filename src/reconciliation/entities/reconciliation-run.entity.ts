import { Column, Entity, PrimaryColumn } from 'typeorm';
import { FenColumn, TimeColumn } from '../../database/entity-columns';
import type { Channel } from '../../payments/payment-provider';

export enum RunStatus {
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}

/** Why a run failed, as BillError says (`not_ready` is retried by the daily job), or `error`. */
export type RunErrorReason = 'not_ready' | 'corrupt' | 'unavailable' | 'error' | 'abandoned';

/** One comparison of one channel's bill of one Beijing day with our books. */
@Entity('reconciliation_runs')
export class ReconciliationRun {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  channel!: Channel;

  /** YYYY-MM-DD, Beijing. */
  @Column({ name: 'bill_date', type: 'varchar', length: 10 })
  billDate!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: RunStatus;

  /** 'daily' for the job's run of a channel and day (unique), null for runs an operator asked for. */
  @Column({ name: 'schedule_key', type: 'varchar', length: 16, nullable: true })
  scheduleKey!: string | null;

  @Column({ type: 'varchar', length: 1024, nullable: true })
  error!: string | null;

  @Column({ name: 'error_reason', type: 'varchar', length: 16, nullable: true })
  errorReason!: RunErrorReason | null;

  @Column({ type: 'integer' })
  attempts!: number;

  /** Daily runs that failed because the bill was not ready: when the job tries again. */
  @TimeColumn('next_attempt_at', { nullable: true })
  nextAttemptAt!: Date | null;

  /** The instance running it, and until when it counts as alive (renewed while it runs). */
  @Column({ type: 'varchar', length: 64, nullable: true })
  owner!: string | null;

  @TimeColumn('lease_until', { nullable: true })
  leaseUntil!: Date | null;

  @FenColumn('channel_rows')
  channelRows!: number;

  @FenColumn('local_rows')
  localRows!: number;

  @FenColumn('matched')
  matched!: number;

  @FenColumn('discrepancies')
  discrepancies!: number;

  @FenColumn('healed')
  healed!: number;

  /** The channel's fees on the bill, summed exactly, yuan (recorded, never compared). */
  @Column({ name: 'fee_total', type: 'varchar', length: 32, nullable: true })
  feeTotal!: string | null;

  @TimeColumn('started_at')
  startedAt!: Date;

  @TimeColumn('finished_at', { nullable: true })
  finishedAt!: Date | null;
}
