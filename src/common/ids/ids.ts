import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// Random bytes are drawn from the CSPRNG a pool at a time: several ids are made
// per request, and one system call per id showed up in the notify profile.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++];
}

/** n characters of [0-9A-Za-z] from the CSPRNG, without modulo bias. */
export function randomAlphanumeric(n: number): string {
  let out = '';
  while (out.length < n) {
    const byte = randomByte();
    // 248 = 62 * 4: bytes above it would favour the first characters.
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

function beijingStamp(now: Date): string {
  // yyyyMMddHHmmss in UTC+8: readable in both channels' merchant consoles, and
  // it sorts by creation time.
  const t = new Date(now.getTime() + 8 * 3600_000).toISOString();
  return t.slice(0, 19).replace(/[-T:]/g, '');
}

/**
 * An out_trade_no / out_refund_no both channels accept: exactly 32 characters of
 * [0-9A-Za-z] (WeChat's limit is 32, Alipay's 64). 14 characters of time plus 18
 * random ones (~107 bits) keep it unique across instances with no shared counter.
 */
export function newChannelNo(now = new Date()): string {
  return beijingStamp(now) + randomAlphanumeric(18);
}

export const CHANNEL_NO_PATTERN = /^[0-9A-Za-z]{1,32}$/;

export type IdPrefix = 'ord' | 'pay' | 'ref' | 'evt' | 'whd' | 'ntf' | 'rec' | 'dsc';

/** Public ids: a type prefix and 24 random characters (~143 bits), e.g. ord_4fK…. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomAlphanumeric(24)}`;
}

/** A bearer-style secret handed to storefront browsers for one order. */
export function newClientSecret(): string {
  return `cs_${randomAlphanumeric(40)}`;
}
