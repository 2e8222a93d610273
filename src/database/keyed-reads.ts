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

/**
 * Rows of `channel` in `status` with `timeColumn` in [from, to), in (time, id)
 * order, `limit` after `after`. An index on (channel, status, time, id) serves it
 * as one range per page, at the same cost however deep the page.
 */
export function pageByTime(
  manager: EntityManager,
  t: KeyedTable,
  timeColumn: string,
  filter: { channel: string; status: string; from: Date; to: Date },
  after: { at: Date; id: string } | null,
  limit: number,
): Promise<Record<string, unknown>[]> {
  // One lower bound only: given two (the day's start and the last row's time),
  // SQLite may range over the first and read the whole day up to here for every page.
  const from = after && after.at > filter.from ? after.at : filter.from;
  const params: unknown[] = [filter.channel, from, filter.to, filter.status];
  let keyset = '';
  if (after) {
    // Rows at the last row's very instant come after it by id.
    keyset = ` AND (${timeColumn} > ? OR id > ?)`;
    params.push(after.at, after.id);
  }
  return select<Record<string, unknown>>(
    manager,
    `SELECT ${t.columns} FROM ${t.table} WHERE ${t.channelColumn} = ? AND ${timeColumn} >= ? AND ${timeColumn} < ? AND status = ?${keyset} ` +
      `ORDER BY ${timeColumn}, id LIMIT ${Math.max(1, Math.floor(limit))}`,
    params,
  );
}
