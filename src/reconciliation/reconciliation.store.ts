import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { DomainError } from '../common/errors/domain-error';
import { newId } from '../common/ids/ids';
import { keysetPage, Page, PageQuery } from '../common/pagination/keyset';
import { isUniqueViolation } from '../database/database-errors';
import { execute, executeOnce, findById, insertRow, select } from '../database/sql';
import { withStatementTimeout } from '../database/statement-timeout';
import { Tx, UnitOfWork } from '../database/unit-of-work';
import type { Channel } from '../payments/payment-provider';
import {
  DiscrepancyType,
  ReconciliationDiscrepancy,
} from './entities/reconciliation-discrepancy.entity';
import { ReconciliationRun, RunErrorReason, RunStatus } from './entities/reconciliation-run.entity';

/**
 * The bound on a statement as large as a day's bill (its keys deleted when a
 * run fails, or a week later), in place of DB_STATEMENT_TIMEOUT_MS: on a large
 * day it may take minutes. Every other statement here is one batch or one row.
 */
const WHOLE_DAY_STATEMENT_TIMEOUT_MS = 15 * 60_000;

/** A discrepancy as the comparison finds it; the store adds id, run and times. */
export type FoundDiscrepancy = Pick<
  ReconciliationDiscrepancy,
  | 'type'
  | 'kind'
  | 'outTradeNo'
  | 'outRefundNo'
  | 'channelTradeNo'
  | 'channelAmount'
  | 'localAmount'
  | 'channelStatus'
  | 'localStatus'
>;

/** What a run counted, written when it completes. */
export interface RunCounts {
  channelRows: number;
  localRows: number;
  matched: number;
  discrepancies: number;
  healed: number;
  feeTotal: string;
}

export type BillRowKind = 'P' | 'R';

/** How long a run counts as alive after its last sign of life. */
export const RUN_LEASE_MS = 120_000;

/**
 * Every statement on the reconciliation tables. A run's rows (its bill keys and
 * discrepancies) are written batch by batch while it runs and removed in the
 * transaction that marks it FAILED, so a failed run leaves nothing half-recorded.
 */
@Injectable()
export class ReconciliationStore {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
  ) {
    this.sqlite = dataSource.options.type === 'better-sqlite3';
  }

  private readonly sqlite: boolean;

  /** A new RUNNING run held by `owner`; null when the daily run of that channel and day exists already. */
  async insertRun(
    channel: Channel,
    billDate: string,
    owner: string,
    scheduleKey: string | null,
    now: Date,
  ): Promise<ReconciliationRun | null> {
    const run: ReconciliationRun = {
      id: newId('rec'),
      channel,
      billDate,
      status: RunStatus.RUNNING,
      scheduleKey,
      error: null,
      errorReason: null,
      attempts: 1,
      nextAttemptAt: null,
      owner,
      leaseUntil: new Date(now.getTime() + RUN_LEASE_MS),
      channelRows: 0,
      localRows: 0,
      matched: 0,
      discrepancies: 0,
      healed: 0,
      feeTotal: null,
      startedAt: now,
      finishedAt: null,
    };
    try {
      await this.uow.run((tx) => insertRow(tx, ReconciliationRun, run));
      return run;
    } catch (error) {
      if (scheduleKey && isUniqueViolation(error)) return null;
      throw error;
    }
  }

  async getRun(id: string): Promise<ReconciliationRun> {
    const run = await findById(this.dataSource.manager, ReconciliationRun, id);
    if (!run)
      throw new DomainError(
        'RECONCILIATION_NOT_FOUND',
        `reconciliation run ${JSON.stringify(id)} not found`,
      );
    return run;
  }

  listRuns(
    filter: { channel?: string; date?: string },
    limit: number,
  ): Promise<ReconciliationRun[]> {
    return this.dataSource.manager.find(ReconciliationRun, {
      where: {
        ...(filter.channel ? { channel: filter.channel as Channel } : {}),
        ...(filter.date ? { billDate: filter.date } : {}),
      },
      order: { startedAt: 'DESC', id: 'DESC' },
      take: limit,
    });
  }

  /** The latest completed runs of these days on a channel (their bill keys count as seen). */
  async completedRunIds(channel: Channel, billDates: string[]): Promise<string[]> {
    const runs = await this.dataSource.manager.find(ReconciliationRun, {
      select: { id: true, billDate: true, finishedAt: true },
      where: { channel, billDate: In(billDates), status: RunStatus.COMPLETED },
      order: { finishedAt: 'DESC' },
    });
    const latest = new Map<string, string>();
    for (const run of runs) if (!latest.has(run.billDate)) latest.set(run.billDate, run.id);
    return [...latest.values()];
  }

  /** Keeps the run alive; false when it is no longer this owner's RUNNING run. */
  async renewLease(run: ReconciliationRun, now: Date): Promise<boolean> {
    const changed = await this.uow.run((tx) =>
      execute(
        tx,
        'UPDATE reconciliation_runs SET lease_until = ? WHERE id = ? AND status = ? AND owner = ?',
        [new Date(now.getTime() + RUN_LEASE_MS), run.id, RunStatus.RUNNING, run.owner],
      ),
    );
    return changed === 1;
  }

  /** One batch of the comparison: the bill keys it saw and what disagreed, in one transaction. */
  async recordBatch(
    run: ReconciliationRun,
    keys: { kind: BillRowKind; key: string }[],
    found: FoundDiscrepancy[],
    seenElsewhere: { kind: 'payment' | 'refund'; key: string }[],
    now: Date,
  ): Promise<void> {
    if (keys.length === 0 && found.length === 0 && seenElsewhere.length === 0) return;
    await this.uow.run(async (tx) => {
      if (keys.length > 0) {
        // A key the bill lists twice is kept once.
        const values = keys.map(() => '(?, ?, ?)').join(', ');
        await executeOnce(
          tx,
          this.sqlite
            ? `INSERT OR IGNORE INTO reconciliation_bill_keys (run_id, kind, out_key) VALUES ${values}`
            : `INSERT INTO reconciliation_bill_keys (run_id, kind, out_key) VALUES ${values} ON DUPLICATE KEY UPDATE kind = kind`,
          keys.flatMap((k) => [run.id, k.kind, k.key]),
        );
      }
      for (const d of found) await this.insertDiscrepancy(tx, run, d, now);
      if (seenElsewhere.length > 0) await this.resolveFoundLater(tx, run, seenElsewhere, now);
    });
  }

  async recordDiscrepancies(
    run: ReconciliationRun,
    found: FoundDiscrepancy[],
    now: Date,
  ): Promise<void> {
    if (found.length === 0) return;
    await this.uow.run(async (tx) => {
      for (const d of found) await this.insertDiscrepancy(tx, run, d, now);
    });
  }

  private insertDiscrepancy(
    tx: Tx,
    run: ReconciliationRun,
    d: FoundDiscrepancy,
    now: Date,
  ): Promise<void> {
    return insertRow(tx, ReconciliationDiscrepancy, {
      id: newId('dsc'),
      runId: run.id,
      channel: run.channel,
      ...d,
      healed: false,
      resolvedAt: null,
      note: null,
      createdAt: now,
    });
  }

  /**
   * A payment or refund an earlier run reported MISSING_REMOTE (paid at 23:59:59,
   * booked by the channel the next day) turned up in this run's bill: that report
   * is resolved, and nothing new is reported for it.
   */
  private async resolveFoundLater(
    tx: Tx,
    run: ReconciliationRun,
    seen: { kind: 'payment' | 'refund'; key: string }[],
    now: Date,
  ): Promise<void> {
    const note = `found in the ${run.channel} bill of ${run.billDate} (run ${run.id})`;
    for (const kind of ['payment', 'refund'] as const) {
      const keys = seen.filter((s) => s.kind === kind).map((s) => s.key);
      if (keys.length === 0) continue;
      const column = kind === 'payment' ? 'out_trade_no' : 'out_refund_no';
      await executeOnce(
        tx,
        `UPDATE reconciliation_discrepancies SET resolved_at = ?, note = ? WHERE channel = ? AND type = ? AND kind = ? AND resolved_at IS NULL AND run_id <> ? AND ${column} IN (${keys.map(() => '?').join(', ')})`,
        [now, note, run.channel, DiscrepancyType.MISSING_REMOTE, kind, run.id, ...keys],
      );
    }
  }

  /**
   * Which of `keys` (a batch) appear in the bills of these runs, in one
   * statement. Every (run, kind, key) is a point of the primary key, which the
   * planner counts as one row without consulting statistics. (With a plain
   * index, MariaDB estimated an IN list of eq_range_index_dive_limit (200)
   * values or more from index statistics sampled while a run filled the table,
   * and in some runs read all of the run's keys for every lookup: a day of
   * 400,000 payments checked in 47–219 s instead of 1–2 s.)
   */
  async billKeysPresent(runIds: string[], kind: BillRowKind, keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await select<{ out_key: string }>(
      this.dataSource.manager,
      `SELECT out_key FROM reconciliation_bill_keys WHERE run_id IN (${runIds.map(() => '?').join(', ')}) AND kind = ? AND out_key IN (${keys.map(() => '?').join(', ')})`,
      [...runIds, kind, ...keys],
    );
    return new Set(rows.map((r) => r.out_key));
  }

  /** STATUS_MISMATCH discrepancies of a run not healed yet, `limit` after `afterId`. */
  unhealed(runId: string, afterId: string, limit: number): Promise<ReconciliationDiscrepancy[]> {
    return this.dataSource.manager
      .createQueryBuilder(ReconciliationDiscrepancy, 'd')
      .where('d.run_id = :runId AND d.type = :type AND d.healed = :healed AND d.id > :afterId', {
        runId,
        type: DiscrepancyType.STATUS_MISMATCH,
        healed: false,
        afterId,
      })
      .orderBy('d.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** In `tx` when given (the transaction that applied what heals it), else in one of its own. */
  async markHealed(id: string, note: string, now: Date, tx?: Tx): Promise<void> {
    const mark = (t: Tx) =>
      execute(
        t,
        'UPDATE reconciliation_discrepancies SET healed = ?, resolved_at = ?, note = ? WHERE id = ? AND healed = ?',
        [true, now, note, id, false],
      );
    await (tx ? mark(tx) : this.uow.run(mark));
  }

  /** RUNNING → COMPLETED with its counts; false when the run was no longer this owner's. */
  async complete(run: ReconciliationRun, counts: RunCounts, now: Date): Promise<boolean> {
    const changed = await this.uow.run((tx) =>
      execute(
        tx,
        'UPDATE reconciliation_runs SET status = ?, channel_rows = ?, local_rows = ?, matched = ?, discrepancies = ?, healed = ?, fee_total = ?, finished_at = ?, lease_until = ?, error = ?, error_reason = ?, next_attempt_at = ? ' +
          'WHERE id = ? AND status = ? AND owner = ?',
        [
          RunStatus.COMPLETED,
          counts.channelRows,
          counts.localRows,
          counts.matched,
          counts.discrepancies,
          counts.healed,
          counts.feeTotal,
          now,
          null,
          null,
          null,
          null,
          run.id,
          RunStatus.RUNNING,
          run.owner,
        ],
      ),
    );
    return changed === 1;
  }

  /**
   * RUNNING → FAILED, removing what the run had recorded, in one transaction.
   * `retryAt` is when the daily job tries again (daily runs only).
   */
  async fail(
    run: Pick<ReconciliationRun, 'id' | 'owner'>,
    reason: RunErrorReason,
    message: string,
    retryAt: Date | null,
    now: Date,
  ): Promise<boolean> {
    return withStatementTimeout(WHOLE_DAY_STATEMENT_TIMEOUT_MS, () =>
      this.uow.run(async (tx) => {
        const changed = await execute(
          tx,
          'UPDATE reconciliation_runs SET status = ?, error = ?, error_reason = ?, next_attempt_at = ?, finished_at = ?, lease_until = ?, channel_rows = 0, local_rows = 0, matched = 0, discrepancies = 0, healed = 0 ' +
            'WHERE id = ? AND status = ? AND owner = ?',
          [
            RunStatus.FAILED,
            message.slice(0, 1024),
            reason,
            retryAt,
            now,
            null,
            run.id,
            RunStatus.RUNNING,
            run.owner,
          ],
        );
        if (changed !== 1) return false;
        await execute(tx, 'DELETE FROM reconciliation_discrepancies WHERE run_id = ?', [run.id]);
        await execute(tx, 'DELETE FROM reconciliation_bill_keys WHERE run_id = ?', [run.id]);
        return true;
      }),
    );
  }

  /** Daily runs due for another attempt on `billDate`. */
  dueRetries(billDate: string, now: Date): Promise<ReconciliationRun[]> {
    return this.dataSource.manager
      .createQueryBuilder(ReconciliationRun, 'r')
      .where('r.bill_date = :billDate AND r.schedule_key IS NOT NULL AND r.status = :status', {
        billDate,
        status: RunStatus.FAILED,
      })
      .andWhere('r.next_attempt_at <= :now', { now })
      .getMany();
  }

  /** FAILED → RUNNING for this owner; false when another instance took it first. */
  async claimRetry(run: ReconciliationRun, owner: string, now: Date): Promise<boolean> {
    const changed = await this.uow.run((tx) =>
      execute(
        tx,
        'UPDATE reconciliation_runs SET status = ?, owner = ?, lease_until = ?, attempts = ?, error = ?, error_reason = ?, next_attempt_at = ?, started_at = ?, finished_at = ? ' +
          'WHERE id = ? AND status = ? AND attempts = ?',
        [
          RunStatus.RUNNING,
          owner,
          new Date(now.getTime() + RUN_LEASE_MS),
          run.attempts + 1,
          null,
          null,
          null,
          now,
          null,
          run.id,
          RunStatus.FAILED,
          run.attempts,
        ],
      ),
    );
    if (changed !== 1) return false;
    Object.assign(run, {
      status: RunStatus.RUNNING,
      owner,
      attempts: run.attempts + 1,
      startedAt: now,
    });
    return true;
  }

  /** RUNNING runs whose instance stopped renewing them. */
  abandoned(now: Date, limit: number): Promise<ReconciliationRun[]> {
    return this.dataSource.manager
      .createQueryBuilder(ReconciliationRun, 'r')
      .where('r.status = :status AND r.lease_until < :now', { status: RunStatus.RUNNING, now })
      .limit(limit)
      .getMany();
  }

  /**
   * Bill keys are kept for the latest completed run of a channel and day (a
   * neighbouring day's run looks at them) and dropped for the others, and for
   * every day more than `keepDays` before `billDate`.
   */
  async pruneBillRows(run: ReconciliationRun, oldestKept: string): Promise<void> {
    // The runs that still have keys first, then their keys by the key's first
    // column: MariaDB ran one DELETE with a subquery as a scan of every key of
    // every run kept.
    const runs = await select<{ id: string }>(
      this.dataSource.manager,
      'SELECT r.id FROM reconciliation_runs r WHERE r.channel = ? AND ((r.bill_date = ? AND r.id <> ?) OR r.bill_date < ?) AND EXISTS (SELECT 1 FROM reconciliation_bill_keys k WHERE k.run_id = r.id)',
      [run.channel, run.billDate, run.id, oldestKept],
    );
    for (const { id } of runs) {
      await withStatementTimeout(WHOLE_DAY_STATEMENT_TIMEOUT_MS, () =>
        this.uow.run((tx) =>
          execute(tx, 'DELETE FROM reconciliation_bill_keys WHERE run_id = ?', [id]),
        ),
      );
    }
  }

  // ---- discrepancies, for operators ------------------------------------------------------

  listDiscrepancies(
    runId: string,
    filter: PageQuery & { type?: DiscrepancyType; resolved?: boolean },
  ): Promise<Page<ReconciliationDiscrepancy>> {
    const qb = this.dataSource.manager
      .createQueryBuilder(ReconciliationDiscrepancy, 'd')
      .where('d.run_id = :runId', { runId });
    if (filter.type) qb.andWhere('d.type = :type', { type: filter.type });
    if (filter.resolved === true) qb.andWhere('d.resolved_at IS NOT NULL');
    if (filter.resolved === false) qb.andWhere('d.resolved_at IS NULL');
    return keysetPage(qb, 'd', 'createdAt', filter);
  }

  async getDiscrepancy(id: string): Promise<ReconciliationDiscrepancy> {
    const d = await findById(this.dataSource.manager, ReconciliationDiscrepancy, id);
    if (!d)
      throw new DomainError('DISCREPANCY_NOT_FOUND', `discrepancy ${JSON.stringify(id)} not found`);
    return d;
  }

  /** Resolves once: an already resolved discrepancy is a 409 that says when. */
  async resolve(id: string, note: string, now: Date): Promise<ReconciliationDiscrepancy> {
    const changed = await this.uow.run((tx) =>
      execute(
        tx,
        'UPDATE reconciliation_discrepancies SET resolved_at = ?, note = ? WHERE id = ? AND resolved_at IS NULL',
        [now, note, id],
      ),
    );
    const d = await this.getDiscrepancy(id);
    if (changed !== 1) {
      throw new DomainError(
        'DISCREPANCY_RESOLVED',
        `discrepancy ${JSON.stringify(id)} was resolved at ${d.resolvedAt?.toISOString()}`,
      );
    }
    return d;
  }
}
