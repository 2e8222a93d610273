/**
 * WeChat Pay APIv3 writes every time as RFC 3339 with an offset, in Beijing
 * time: `2018-06-08T10:34:56+08:00` (protocols.md C1), whatever the server's
 * time zone.
 */
const BEIJING_OFFSET_MS = 8 * 3600_000;
/** What WeChat documents: `yyyy-MM-DDTHH:mm:ss+TIMEZONE`; no fractions, no `Z`. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})([+-])(\d{2}):(\d{2})$/;

/** 2024-01-01T12:00:00+08:00 */
export function formatRfc3339Beijing(d: Date): string {
  return `${new Date(d.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/** yyyyMMddHHmmss in Beijing time. */
export function beijingStamp(d: Date): string {
  return new Date(d.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

/** Parses `yyyy-MM-DDTHH:mm:ss±hh:mm`; null when malformed or not a real date. */
export function parseRfc3339(text: string): Date | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const [oh, om] = [Number(m[8]), Number(m[9])];
  if (oh > 23 || om > 59) return null;
  const local = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 2024-02-30 over to March and 24:00 to the next day; a round trip catches it.
  if (new Date(local).toISOString().slice(0, 19) !== text.slice(0, 19)) return null;
  const offset = (m[7] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  return new Date(local - offset);
}
