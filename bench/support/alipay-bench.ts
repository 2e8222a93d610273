/**
 * The Alipay pieces both sides of a bench need (protocols.md A3, A4, A9),
 * written here rather than imported from src/ so the bench measures the service
 * against an independent reading of the protocol.
 */
import { KeyObject, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttemptFixture, alnum } from './fixtures';

export interface SandboxKeys {
  appId: string;
  sellerId: string;
  appPrivateKey: KeyObject;
  appPublicKey: KeyObject;
  gatewayPrivateKey: KeyObject;
  gatewayPublicKey: KeyObject;
}

export function sandboxKeyFile(dataDir: string): string {
  return join(dataDir, 'sandbox', 'alipay-keys.json');
}

/** `<DATA_DIR>/sandbox/alipay-keys.json`, as the service generated it on first start. */
export function readSandboxKeys(dataDir: string): SandboxKeys {
  const raw = JSON.parse(readFileSync(sandboxKeyFile(dataDir), 'utf8')) as Record<string, string>;
  return {
    appId: raw.appId,
    sellerId: raw.sellerId,
    appPrivateKey: createPrivateKey(raw.appPrivateKeyPem),
    appPublicKey: createPublicKey(raw.appPublicKeyPem),
    gatewayPrivateKey: createPrivateKey(raw.gatewayPrivateKeyPem),
    gatewayPublicKey: createPublicKey(raw.gatewayPublicKeyPem),
  };
}

/** Non-empty fields except the excluded ones, sorted, `k=v` joined by `&`, raw values. */
export function signContent(params: Record<string, string>, exclude: readonly string[]): string {
  return Object.keys(params)
    .filter((k) => !exclude.includes(k) && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function rsa2Sign(content: string, key: KeyObject): string {
  return sign('sha256', Buffer.from(content, 'utf8'), key).toString('base64');
}

export function rsa2Verify(content: string, signature: string, key: KeyObject): boolean {
  try {
    return verify('sha256', Buffer.from(content, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Exact fen → "12.34". */
export function yuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/** Exact "12.34" → fen, or NaN. */
export function fenOf(yuanText: string): number {
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(yuanText);
  if (!m) return NaN;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

export function beijing(date: Date): string {
  return new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A TRADE_SUCCESS notification for one attempt, signed with the gateway key (A9). */
export function signedPaidNotification(
  attempt: AttemptFixture,
  keys: SandboxKeys,
  now: Date,
): Record<string, string> {
  const total = yuan(attempt.amountFen);
  const compact = beijing(now).replace(/[- :]/g, '');
  const fields: Record<string, string> = {
    notify_time: beijing(now),
    notify_type: 'trade_status_sync',
    notify_id: `${compact.slice(0, 8)}${alnum(26)}`,
    app_id: keys.appId,
    auth_app_id: keys.appId,
    charset: 'utf-8',
    version: '1.0',
    sign_type: 'RSA2',
    trade_no: `${compact.slice(0, 8)}22001${alnum(15)}`,
    out_trade_no: attempt.outTradeNo,
    seller_id: keys.sellerId,
    trade_status: 'TRADE_SUCCESS',
    total_amount: total,
    subject: attempt.subject,
    gmt_create: beijing(new Date(now.getTime() - 60_000)),
    buyer_id: `2088${alnum(12).replace(/\D/g, '7').padEnd(12, '1')}`,
    buyer_logon_id: 'bue***@example.com',
    receipt_amount: total,
    buyer_pay_amount: total,
    invoice_amount: total,
    point_amount: '0.00',
    gmt_payment: beijing(new Date(now.getTime() - 5_000)),
    fund_bill_list: JSON.stringify([{ amount: total, fundChannel: 'ALIPAYACCOUNT' }]),
  };
  fields.sign = rsa2Sign(signContent(fields, ['sign', 'sign_type']), keys.gatewayPrivateKey);
  return fields;
}

export function formEncode(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/** JSON as the Alipay gateway writes it: slashes escaped. */
export function alipayJson(value: unknown): string {
  return JSON.stringify(value).replace(/\//g, '\\/');
}
