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

/** Rows of `channel` whose `keyColumn` is one of `keys` (one statement per batch). */
export function selectByKeys(
  manager: EntityManager,
  t: KeyedTable,
  keyColumn: string,
  channel: string,
  keys: readonly string[],
): Promise<Record<string, unknown>[]> {
  if (keys.length === 0) return Promise.resolve([]);
  return select<Record<string, unknown>>(
    manager,
    `SELECT ${t.columns} FROM ${t.table} WHERE ${t.channelColumn} = ? AND ${keyColumn} IN (${keys.map(() => '?').join(', ')})`,
    [channel, ...keys],
  );
}

/**
 * Rows of `channel` in `status` with `timeColumn` in [from, to), in (time, id)
 * order, `limit` after `after`. An index on (channel, time, id) serves it at the
 * same cost however deep the page.
 */
export function pageByTime(
  manager: EntityManager,
  t: KeyedTable,
  timeColumn: string,
  filter: { channel: string; status: string; from: Date; to: Date },
  after: { at: Date; id: string } | null,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const params: unknown[] = [filter.channel, filter.from, filter.to, filter.status];
  let keyset = '';
  if (after) {
    keyset = ` AND (${timeColumn} > ? OR (${timeColumn} = ? AND id > ?))`;
    params.push(after.at, after.at, after.id);
  }
  return select<Record<string, unknown>>(
    manager,
    `SELECT ${t.columns} FROM ${t.table} WHERE ${t.channelColumn} = ? AND ${timeColumn} >= ? AND ${timeColumn} < ? AND status = ?${keyset} ` +
      `ORDER BY ${timeColumn}, id LIMIT ${Math.max(1, Math.floor(limit))}`,
    params,
  );
}
