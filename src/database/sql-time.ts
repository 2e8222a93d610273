/**
 * A Date as both databases store it in a DATETIME(3) column: UTC text
 * "YYYY-MM-DD HH:MM:SS.mmm". Raw queries bind this instead of a Date, because
 * better-sqlite3 cannot bind Dates and text compares correctly in SQLite.
 */
export function sqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** A DATETIME column as a raw query returns it (text on SQLite, a Date on mysql2) → Date, or null. */
export function timeFromColumn(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  return new Date(`${String(value).replace(' ', 'T')}Z`);
}
