import type { EntityManager } from 'typeorm';
import { select } from './sql';

/**
 * The two reads reconciliation makes of a table it compares with a bill, built
 * for large days: rows by a batch of keys, and a time range in keyset pages.
 * Table and column names come from the calling service, never from input.
 */
export interface KeyedTable {
  table: string;
  /** Columns to read, comma-separated. */
  columns: string;
  channelColumn: string;
}

/**
 * Rows of `channel` whose `keyColumn` (a unique column) is one of `keys`, one
 * statement per batch. The statement names the key only, so the planner walks
 * the unique index rather than an index that starts with the channel (which
 * would read every row of the channel); the channel is checked here.
 */
export async function selectByKeys(
  manager: EntityManager,
  t: KeyedTable,
  keyColumn: string,
  channel: string,
  keys: readonly string[],
): Promise<Record<string, unknown>[]> {
  if (keys.length === 0) return [];
  const rows = await select<Record<string, unknown>>(
    manager,
    `SELECT ${t.channelColumn} AS keyed_channel, ${t.columns} FROM ${t.table} WHERE ${keyColumn} IN (${keys.map(() => '?').join(', ')})`,
    [...keys],
  );
  return rows.filter((r) => r.keyed_channel === channel);
}

/** Rows a time window aims at: a window that brings far more is read again in halves. */
const WINDOW_ROWS = 1000;
const FIRST_WINDOW_MS = 60_000;
const LONGEST_WINDOW_MS = 3_600_000;

/**
 * Rows of `channel` in `status` with `timeColumn` in [from, to), a window of
 * time at a time, each window's rows in one array. Windows are half-open, so
 * no row is read twice or missed, and sized as they go to bring about a
 * thousand rows (a burst makes them shorter, a quiet hour longer). Each is a
 * plain range of an index on (channel, status, time): no LIMIT and no keyset
 * for the planner to read from the start of the channel (MariaDB did, for
 * ORDER BY … LIMIT pages deep into a large day).
 */
export async function* rowsByTimeWindow(
  manager: EntityManager,
  t: KeyedTable,
  timeColumn: string,
  filter: { channel: string; status: string; from: Date; to: Date },
  /** What to read; the key alone lets an index on (channel, status, time, key) answer by itself. */
  columns = t.columns,
): AsyncGenerator<Record<string, unknown>[]> {
  const sql = `SELECT ${columns} FROM ${t.table} WHERE ${t.channelColumn} = ? AND status = ? AND ${timeColumn} >= ? AND ${timeColumn} < ?`;
  const end = filter.to.getTime();
  let windowMs = FIRST_WINDOW_MS;
  for (let start = filter.from.getTime(); start < end;) {
    const stop = Math.min(start + windowMs, end);
    const rows = await select<Record<string, unknown>>(manager, sql, [
      filter.channel,
      filter.status,
      new Date(start),
      new Date(stop),
    ]);
    if (rows.length > WINDOW_ROWS * 4 && stop - start > 1) {
      windowMs = Math.max(1, Math.floor((stop - start) / 4));
      continue;
    }
    if (rows.length > 0) yield rows;
    start = stop;
    if (rows.length > WINDOW_ROWS * 2) windowMs = Math.max(1, Math.floor(windowMs / 2));
    else if (rows.length < WINDOW_ROWS / 2) windowMs = Math.min(windowMs * 2, LONGEST_WINDOW_MS);
  }
}
