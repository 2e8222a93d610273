import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature on outgoing merchant webhooks (contract.md, "Outgoing merchant
 * webhooks"): `Paygate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 * t + "." + raw body)>`. Signing the timestamp with the body lets receivers
 * refuse replays of an old, validly signed request.
 */
export const SIGNATURE_HEADER = 'Paygate-Signature';

function hmac(secret: string, rawBody: string | Buffer, t: number): Buffer {
  return createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
}

/**
 * The header value for one POST; `t` in unix seconds, taken at send time.
 * With several secrets (WEBHOOK_SECRET=new,old during a rotation) one v1 per
 * secret, in the order given: a receiver holding either one accepts it.
 */
export function signWebhook(
  secrets: string | readonly string[],
  rawBody: string | Buffer,
  t: number,
): string {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  return `t=${t},${list.map((s) => `v1=${hmac(s, rawBody, t).toString('hex')}`).join(',')}`;
}

export interface ParsedSignature {
  t: number;
  /** Several during a secret rotation: one per secret in use. */
  v1: string[];
}

/** Reads `t=…,v1=…[,v1=…]`; unknown schemes are ignored so new ones can be added. */
export function parseSignatureHeader(header: string | undefined | null): ParsedSignature | null {
  if (typeof header !== 'string' || header.length > 2048) return null;
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined || !/^\d{1,12}$/.test(value)) return null;
      t = Number(value);
    } else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) {
      v1.push(value.toLowerCase());
    }
  }
  return t === undefined || v1.length === 0 ? null : { t, v1 };
}

/**
 * True when one of the header's v1 signatures matches the body under `secret`
 * and its timestamp is within `toleranceSeconds` of `now`. Comparison is
 * constant-time; the lengths compared are fixed (32 bytes), so nothing leaks.
 */
export function verifyWebhookSignature(
  header: string | undefined | null,
  rawBody: string | Buffer,
  secret: string,
  toleranceSeconds = 300,
  now: Date = new Date(),
): boolean {
  const parsed = parseSignatureHeader(header);
  if (!parsed) return false;
  if (Math.abs(now.getTime() / 1000 - parsed.t) > toleranceSeconds) return false;
  const expected = hmac(secret, rawBody, parsed.t);
  let match = false;
  for (const candidate of parsed.v1) {
    match = timingSafeEqual(Buffer.from(candidate, 'hex'), expected) || match;
  }
  return match;
}
