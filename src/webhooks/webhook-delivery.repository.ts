import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { randomAlphanumeric } from '../common/ids/ids';
import { sqlTime } from '../database/sql-time';
import { Tx, UnitOfWork } from '../database/unit-of-work';
import { DeliveryStatus, WebhookDelivery } from './entities/webhook-delivery.entity';
import { WebhookPostResult } from './webhook-http.client';

/** A due row as the scan sees it; `createdAt` is kept as DATETIME text for the keyset. */
export interface DueDelivery {
  id: string;
  orderId: string;
  url: string;
  createdAt: string;
}

/** Where a scan of due rows goes on from: after this (created_at, id). */
export type DueCursor = Pick<DueDelivery, 'createdAt' | 'id'>;

export interface ClaimedDelivery {
  id: string;
  eventId: string;
  eventType: string;
  orderId: string;
  url: string;
  attempts: number;
  payload: string;
  token: string;
  /** When our claim runs out, on the clock of the run that took it. */
  claimedUntil: Date;
}

/** One finished attempt, ready to be written. */
export interface AttemptRecord {
  claimed: ClaimedDelivery;
  result: WebhookPostResult;
  /** claimed.attempts + 1 */
  attemptNo: number;
  status: DeliveryStatus;
  next: Date | null;
  error: string | null;
  at: Date;
}

/** A delivered row of a batch was no longer ours: the batch is undone and written row by row. */
export class BatchClaimConflict extends Error {
  constructor() {
    super('a claim in the batch was lost');
  }
}

/** Ids per statement: far below SQLite's 999 bound parameters even with the other values. */
export const MAX_IDS_PER_STATEMENT = 500;
/** webhook_attempts rows per INSERT: 7 values each, 700 parameters. */
const ATTEMPTS_PER_INSERT = 100;
/** Destinations a scan leaves out in SQL (one LIKE each); any further ones are skipped in memory. */
const MAX_EXCLUDED_DESTINATIONS = 50;

/**
 * The statements of webhook delivery. Every change of a delivery row is
 * conditional (on its status, its due time, its claim token and its attempt
 * count), so whoever runs them concurrently, each row is claimed by one caller
 * and its outcome written by that caller only.
 */
@Injectable()
export class WebhookDeliveryRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
  ) {}

  /**
   * Due and not held by a live claim, oldest first (created_at, id). `after`
   * continues a scan past the rows already seen; `excludeDestinations` (origins)
   * leaves out rows whose URL starts with one of them, which the scan would
   * only pass over.
   */
  async findDue(
    limit: number,
    now: Date,
    options: { after?: DueCursor; excludeDestinations?: string[] } = {},
  ): Promise<DueDelivery[]> {
    const at = sqlTime(now);
    const params: unknown[] = [DeliveryStatus.PENDING, at, at];
    let where = '';
    if (options.after) {
      where += ' AND (created_at > ? OR (created_at = ? AND id > ?))';
      params.push(options.after.createdAt, options.after.createdAt, options.after.id);
    }
    for (const origin of (options.excludeDestinations ?? []).slice(0, MAX_EXCLUDED_DESTINATIONS)) {
      where += " AND url NOT LIKE ? ESCAPE '!'";
      params.push(`${origin.replace(/[!%_]/g, '!$&')}/%`);
    }
    params.push(Math.max(1, Math.floor(limit)));
    const rows: {
      id: string;
      order_id: string;
      url: string;
      created_at: string | Date;
    }[] = await this.dataSource.query(
      `SELECT id, order_id, url, created_at FROM webhook_deliveries
        WHERE status = ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)${where}
        ORDER BY created_at, id
        LIMIT ?`,
      params,
    );
    return rows.map((r) => ({
      id: r.id,
      orderId: r.order_id,
      url: r.url,
      createdAt: typeof r.created_at === 'string' ? r.created_at : sqlTime(r.created_at),
    }));
  }

  /**
   * Claims those of `ids` (at most MAX_IDS_PER_STATEMENT) that are still due and
   * unclaimed with one conditional UPDATE, then reads back the ones now carrying
   * `token`, with their events, in the order of `ids`. Checks next_attempt_at
   * again, because the caller's list may be stale (another instance may have
   * tried and rescheduled a row since). `orphans`: claimed rows whose event is
   * missing (never written so); they keep the claim until it runs out.
   */
  async claim(
    ids: string[],
    token: string,
    until: Date,
    now: Date,
  ): Promise<{ claimed: ClaimedDelivery[]; orphans: string[] }> {
    if (ids.length === 0) return { claimed: [], orphans: [] };
    if (ids.length > MAX_IDS_PER_STATEMENT) throw new RangeError(`claim ${ids.length} ids at once`);
    const rows = await this.uow.run(async (tx) => {
      const result = await tx
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({ claimedBy: token, claimedUntil: until, updatedAt: now })
        .where(
          'id IN (:...ids) AND status = :pending AND next_attempt_at <= :now' +
            ' AND (claimed_until IS NULL OR claimed_until < :now)',
          { ids, pending: DeliveryStatus.PENDING, now: sqlTime(now) },
        )
        .execute();
      if ((result.affected ?? 0) === 0) return [];
      const found: {
        id: string;
        event_id: string;
        type: string | null;
        order_id: string;
        url: string;
        attempts: number | string;
        payload: string | null;
      }[] = await tx.query(
        `SELECT d.id, d.event_id, e.type, d.order_id, d.url, d.attempts, e.payload
           FROM webhook_deliveries d LEFT JOIN webhook_events e ON e.id = d.event_id
          WHERE d.id IN (${ids.map(() => '?').join(', ')}) AND d.claimed_by = ?`,
        [...ids, token],
      );
      return found;
    });
    const position = new Map(ids.map((id, i) => [id, i]));
    rows.sort((a, b) => position.get(a.id)! - position.get(b.id)!);
    const claimed: ClaimedDelivery[] = [];
    const orphans: string[] = [];
    for (const row of rows) {
      if (row.payload === null || row.type === null) {
        orphans.push(row.id);
        continue;
      }
      claimed.push({
        id: row.id,
        eventId: row.event_id,
        eventType: row.type,
        orderId: row.order_id,
        url: row.url,
        attempts: Number(row.attempts),
        payload: row.payload,
        token,
        claimedUntil: until,
      });
    }
    return { claimed, orphans };
  }

  /** Extends a claim still held (the row waited long for a slot); false if it was lost. */
  async renewClaim(claimed: ClaimedDelivery, until: Date, now: Date): Promise<boolean> {
    const renewed = await this.uow.run(async (tx) => {
      const result = await tx
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({ claimedUntil: until, updatedAt: now })
        .where('id = :id AND claimed_by = :token AND status = :pending', {
          id: claimed.id,
          token: claimed.token,
          pending: DeliveryStatus.PENDING,
        })
        .execute();
      return (result.affected ?? 0) === 1;
    });
    if (renewed) claimed.claimedUntil = until;
    return renewed;
  }

  /** Gives back claims that will not be used (shutdown): the rows are due again at once. */
  async releaseClaims(claimed: ClaimedDelivery[]): Promise<void> {
    const byToken = groupBy(claimed, (c) => c.token);
    await this.uow.run(async (tx) => {
      for (const [token, rows] of byToken) {
        await tx
          .createQueryBuilder()
          .update(WebhookDelivery)
          .set({ claimedBy: null, claimedUntil: null })
          .where('id IN (:...ids) AND claimed_by = :token', { ids: rows.map((r) => r.id), token })
          .execute();
      }
    });
  }

  /**
   * Writes many outcomes in one transaction: every attempt row with multi-row
   * INSERTs, the delivered rows with one UPDATE per claim (and attempt count),
   * each failure with its own UPDATE (its error and next attempt differ).
   * Resolves to whether each row was still ours. If a delivered row was not,
   * the whole batch is undone (BatchClaimConflict) so that the caller can
   * write it row by row and tell which one was lost.
   */
  async recordAll(records: AttemptRecord[]): Promise<boolean[]> {
    return this.uow.run(async (tx) => {
      for (let i = 0; i < records.length; i += ATTEMPTS_PER_INSERT) {
        await insertAttempts(tx, records.slice(i, i + ATTEMPTS_PER_INSERT));
      }
      const kept = new Array<boolean>(records.length).fill(true);
      const delivered = groupBy(
        records.filter((r) => r.status === DeliveryStatus.DELIVERED),
        (r) => `${r.claimed.token} ${r.claimed.attempts} ${r.result.statusCode} ${r.at.getTime()}`,
      );
      for (const group of delivered.values()) {
        for (let i = 0; i < group.length; i += MAX_IDS_PER_STATEMENT) {
          const part = group.slice(i, i + MAX_IDS_PER_STATEMENT);
          const changed = await updateHeld(
            tx,
            part.map((r) => r.claimed.id),
            part[0],
          );
          if (changed !== part.length) throw new BatchClaimConflict();
        }
      }
      // In id order, as the multi-row statements lock them: fewer deadlocks between instances.
      const failures = records
        .map((record, i) => ({ record, i }))
        .filter(({ record }) => record.status !== DeliveryStatus.DELIVERED)
        .sort((a, b) => (a.record.claimed.id < b.record.claimed.id ? -1 : 1));
      for (const { record, i } of failures) {
        kept[i] = (await updateHeld(tx, [record.claimed.id], record)) === 1;
      }
      return kept;
    });
  }

  /** One outcome in its own transaction; false when the claim was lost meanwhile. */
  async recordOne(record: AttemptRecord): Promise<boolean> {
    return this.uow.run(async (tx) => {
      await insertAttempts(tx, [record]);
      return (await updateHeld(tx, [record.claimed.id], record)) === 1;
    });
  }

  async statusOf(id: string): Promise<DeliveryStatus | null> {
    const rows: { status: DeliveryStatus }[] = await this.dataSource.query(
      'SELECT status FROM webhook_deliveries WHERE id = ?',
      [id],
    );
    return rows[0]?.status ?? null;
  }

  /** Back to PENDING, due now, claim cleared; refused (false) while a live claim holds it. */
  async requeue(id: string, now: Date): Promise<boolean> {
    return this.uow.run(async (tx) => {
      const result = await tx
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({
          status: DeliveryStatus.PENDING,
          nextAttemptAt: now,
          claimedBy: null,
          claimedUntil: null,
          updatedAt: now,
        })
        .where('id = :id AND (claimed_until IS NULL OR claimed_until < :now)', {
          id,
          now: sqlTime(now),
        })
        .execute();
      return (result.affected ?? 0) === 1;
    });
  }
}

function insertAttempts(tx: Tx, records: AttemptRecord[]): Promise<unknown> {
  const params: unknown[] = [];
  for (const r of records) {
    params.push(
      `wha_${randomAlphanumeric(24)}`,
      r.claimed.id,
      r.attemptNo,
      r.result.statusCode,
      r.error,
      r.result.latencyMs,
      sqlTime(r.at),
    );
  }
  return tx.query(
    'INSERT INTO webhook_attempts' +
      ' (id, delivery_id, attempt_no, status_code, error, latency_ms, attempted_at) VALUES ' +
      records.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', '),
    params,
  );
}

/**
 * Writes `record`'s outcome to the rows `ids`, which share its claim, attempt
 * count and outcome; only where the claim is still ours and nothing was
 * recorded since. Resolves to the number of rows changed.
 */
async function updateHeld(tx: Tx, ids: string[], record: AttemptRecord): Promise<number> {
  const delivered = record.status === DeliveryStatus.DELIVERED;
  const changes: QueryDeepPartialEntity<WebhookDelivery> = {
    status: record.status,
    attempts: record.attemptNo,
    lastStatus: record.result.statusCode,
    lastError: record.error,
    claimedBy: null,
    claimedUntil: null,
    updatedAt: record.at,
    ...(delivered ? { deliveredAt: record.at } : {}),
    ...(record.next ? { nextAttemptAt: record.next } : {}),
  };
  const result = await tx
    .createQueryBuilder()
    .update(WebhookDelivery)
    .set(changes)
    .where('id IN (:...ids) AND claimed_by = :token AND status = :pending AND attempts = :before', {
      ids,
      token: record.claimed.token,
      pending: DeliveryStatus.PENDING,
      before: record.claimed.attempts,
    })
    .execute();
  return result.affected ?? 0;
}

/** Items by key, each group in the order given. */
export function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
