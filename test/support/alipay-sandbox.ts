import { KeyObject, createPrivateKey, createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestApp } from './test-app';

export { eventually } from './eventually';

/** Creates an order and a payment attempt on the Alipay sandbox; returns both bodies. */
export async function orderWithAlipayAttempt(
  t: TestApp,
  method: 'qr' | 'page' | 'wap' | 'app' = 'qr',
  order: Record<string, unknown> = {},
): Promise<{
  order: { id: string; amount: number; clientSecret: string };
  payment: { id: string; outTradeNo: string; action: Record<string, string> };
}> {
  const created = await t.http
    .post('/api/orders')
    .set(t.merchant)
    .send({
      merchantOrderNo: `AL-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      amount: 8880,
      subject: 'Blue mug',
      ...order,
    })
    .expect(201);
  const payment = await t.http
    .post(`/api/orders/${created.body.id}/payments`)
    .set(t.merchant)
    .send({ channel: 'alipay', method })
    .expect(201);
  return { order: created.body, payment: payment.body };
}

export const sandboxPay = (t: TestApp, outTradeNo: string, body: Record<string, unknown> = {}) =>
  t.http.post(`/sandbox/alipay/control/trades/${outTradeNo}/pay`).send(body);

export async function orderStatus(t: TestApp, id: string): Promise<string> {
  const res = await t.http.get(`/api/orders/${id}`).set(t.merchant).expect(200);
  return res.body.status as string;
}

/**
 * Signs a notification the way Alipay does (protocols.md A9: every field but
 * sign and sign_type, sorted, k=v&…, RSA-SHA256), written here with node:crypto
 * alone so the test shares no code with the provider it checks.
 */
export function signAlipayNotification(
  t: TestApp,
  fields: Record<string, string>,
  key?: KeyObject,
): string {
  const keys = sandboxKeys(t);
  const params: Record<string, string> = {
    notify_time: '2024-01-01 12:00:00',
    notify_type: 'trade_status_sync',
    notify_id: `nid${Math.random().toString(36).slice(2)}`,
    app_id: keys.appId,
    auth_app_id: keys.appId,
    charset: 'utf-8',
    version: '1.0',
    seller_id: keys.sellerId,
    trade_status: 'TRADE_SUCCESS',
    trade_no: `2024${Date.now()}${Math.floor(Math.random() * 1e6)}`,
    gmt_payment: '2024-01-01 12:00:00',
    ...fields,
  };
  const content = Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const sign = createSign('RSA-SHA256')
    .update(content, 'utf8')
    .sign(key ?? createPrivateKey(keys.gatewayPrivateKeyPem), 'base64');
  return new URLSearchParams({ ...params, sign_type: 'RSA2', sign }).toString();
}

export function sandboxKeys(t: TestApp): {
  appId: string;
  sellerId: string;
  gatewayPrivateKeyPem: string;
} {
  return JSON.parse(readFileSync(join(t.dataDir, 'sandbox', 'alipay-keys.json'), 'utf8'));
}

export const postNotify = (t: TestApp, form: string) =>
  t.http.post('/notify/alipay').set('Content-Type', 'application/x-www-form-urlencoded').send(form);

export async function countRows(t: TestApp, sql: string, params: unknown[]): Promise<number> {
  const rows: { c: number | string }[] = await t.dataSource.query(sql, params);
  return Number(rows[0].c);
}
