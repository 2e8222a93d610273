/**
 * Orders with one pending QR attempt each (Alipay or WeChat Pay), written straight into the
 * tables (setup only), with the columns of orders/payments as the initial
 * migration creates them and the values the services would write.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { BenchDatabase } from './bench-db';

export interface AttemptFixture {
  orderId: string;
  merchantOrderNo: string;
  paymentId: string;
  outTradeNo: string;
  amountFen: number;
  subject: string;
}

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function alnum(n: number): string {
  let out = '';
  for (const byte of randomBytes(n)) out += ALNUM[byte % 62];
  return out;
}

/** "YYYY-MM-DD HH:MM:SS.mmm" UTC, as both databases keep DATETIME(3). */
export function sqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** yyyyMMddHHmmss in Beijing time, like the service's out_trade_no prefix. */
export function beijingStamp(date: Date): string {
  return new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

export function makeAttempts(count: number, now = new Date()): AttemptFixture[] {
  const stamp = beijingStamp(now);
  return Array.from({ length: count }, (_, i) => ({
    orderId: `ord_${alnum(24)}`,
    merchantOrderNo: `BENCH-${stamp}-${i}`,
    paymentId: `pay_${alnum(24)}`,
    outTradeNo: `${stamp}${alnum(18)}`,
    amountFen: randomInt(1, 1_000_000),
    subject: `Bench item ${i}`,
  }));
}

const ORDER_COLUMNS = [
  'id',
  'merchant_order_no',
  'amount',
  'currency',
  'subject',
  'description',
  'status',
  'paid_amount',
  'refunded_amount',
  'channel',
  'channel_trade_no',
  'paid_payment_id',
  'client_secret',
  'notify_url',
  'metadata',
  'expires_at',
  'paid_at',
  'closed_at',
  'created_at',
  'updated_at',
];

const PAYMENT_COLUMNS = [
  'id',
  'order_id',
  'out_trade_no',
  'channel',
  'method',
  'amount',
  'status',
  'anomaly',
  'channel_trade_no',
  'action',
  'client_ip',
  'return_url',
  'openid',
  'expires_at',
  'paid_at',
  'closed_at',
  'next_query_at',
  'query_attempts',
  'created_at',
  'updated_at',
];

export type BenchChannel = 'alipay' | 'wechat';

/**
 * notify_url is left NULL: the service sends webhooks to MERCHANT_WEBHOOK_URL
 * and the baseline to its own receiver URL, so both write the same rows.
 */
export async function insertAttempts(
  db: BenchDatabase,
  attempts: AttemptFixture[],
  channel: BenchChannel,
  now = new Date(),
): Promise<void> {
  const created = sqlTime(now);
  const expires = sqlTime(new Date(now.getTime() + 24 * 3600_000));
  const nextQuery = sqlTime(new Date(now.getTime() + 3600_000));
  await db.insertMany(
    'orders',
    ORDER_COLUMNS,
    attempts.map((a) => [
      a.orderId,
      a.merchantOrderNo,
      a.amountFen,
      'CNY',
      a.subject,
      null,
      'PENDING',
      0,
      0,
      null,
      null,
      null,
      `cs_${alnum(40)}`,
      null,
      JSON.stringify({ bench: true, sku: `SKU-${a.amountFen}` }),
      expires,
      null,
      null,
      created,
      created,
    ]),
  );
  await db.insertMany(
    'payments',
    PAYMENT_COLUMNS,
    attempts.map((a) => [
      a.paymentId,
      a.orderId,
      a.outTradeNo,
      channel,
      'qr',
      a.amountFen,
      'PENDING',
      null,
      null,
      JSON.stringify({
        type: 'qr',
        qrCode:
          channel === 'alipay'
            ? `http://127.0.0.1/sandbox/alipay/cashier/${a.outTradeNo}`
            : `weixin://wxpay/bizpayurl?pr=${alnum(7)}`,
      }),
      null,
      null,
      null,
      expires,
      null,
      null,
      nextQuery,
      0,
      created,
      created,
    ]),
  );
}
