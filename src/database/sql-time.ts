/**
 * A Date as both databases store it in a DATETIME(3) column: UTC text
 * "YYYY-MM-DD HH:MM:SS.mmm". Raw queries bind this instead of a Date, because
 * better-sqlite3 cannot bind Dates and text compares correctly in SQLite.
 */
export function sqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
