import { randomBytes, randomInt } from 'node:crypto';
import { randomAlphanumeric } from '../../common/ids/ids';
import { beijingStamp } from './wechat-sandbox.time';

export function randomDigits(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String(randomInt(10));
  return out;
}

/** 28 digits as WeChat's transaction_id: `42000` + 5 digits + yyyyMMdd + 10 digits. */
export function newTransactionId(now: Date): string {
  return `42000${randomDigits(5)}${beijingStamp(now).slice(0, 8)}${randomDigits(10)}`;
}

/** 36 characters as a real prepay_id: `wx` + yyyyMMddHHmmss + 20 digits. */
export function newPrepayId(now: Date): string {
  return `wx${beijingStamp(now)}${randomDigits(20)}`;
}

/** 29 digits as a refund_id: `50` + 27 digits. */
export function newRefundId(): string {
  return `50${randomDigits(27)}`;
}

/** 28 characters as an openid, e.g. `oUpF8uMuAJO_M2pxb1Q9zNjWeS6o`. */
export function newOpenid(): string {
  return `o${randomAlphanumeric(27)}`;
}

/** Wechatpay-Nonce: 32 hex, as WeChat sends it. */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** A resource nonce: 12 alphanumerics (the AES-GCM IV is its 12 bytes). */
export function newResourceNonce(): string {
  return randomAlphanumeric(12);
}

/** Request-ID as WeChat's look: upper-case hex. */
export function newRequestId(): string {
  return randomBytes(19).toString('hex').toUpperCase();
}
