/**
 * Alipay writes every time as `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8, no
 * daylight saving), whatever the server's time zone (protocols.md A2).
 */
const BEIJING_OFFSET_MS = 8 * 3600_000;
const STAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

function shifted(d: Date): string {
  return new Date(d.getTime() + BEIJING_OFFSET_MS).toISOString();
}

/** 2024-01-01 12:00:00 */
export function formatBeijing(d: Date): string {
  return shifted(d).slice(0, 19).replace('T', ' ');
}

/** 2024-01-01 12:00:00.123, as Alipay writes gmt_refund in notifications. */
export function formatBeijingMillis(d: Date): string {
  return shifted(d).slice(0, 23).replace('T', ' ');
}

/** 2024-01-01 */
export function beijingDate(d: Date): string {
  return shifted(d).slice(0, 10);
}

/** 20240101 */
export function beijingCompactDate(d: Date): string {
  return beijingDate(d).replace(/-/g, '');
}

/** Parses `yyyy-MM-dd HH:mm:ss` as Beijing time; null when malformed or not a real date. */
export function parseBeijing(text: string): Date | null {
  const m = STAMP.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s) - BEIJING_OFFSET_MS);
  // Date.UTC rolls 2024-02-30 over to March; a round trip catches it.
  return formatBeijing(date) === text ? date : null;
}

/** The instant a Beijing calendar day (`yyyy-MM-dd`) starts. */
export function beijingDayStart(day: string): Date | null {
  return parseBeijing(`${day} 00:00:00`);
}
