import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestApp, uniqueNo } from './test-app';

export type WechatMethod = 'qr' | 'jsapi' | 'h5' | 'app';

/** `<dataDir>/sandbox/wechat-keys.json` as the running app generated it; `T` names the fields a spec reads. */
export const wechatSandboxKeys = <T>(t: TestApp): T =>
  JSON.parse(readFileSync(join(t.dataDir, 'sandbox', 'wechat-keys.json'), 'utf8')) as T;

/** Creates an order and a WeChat Pay attempt through the merchant API; returns both bodies. */
export async function orderWithWechatAttempt(
  t: TestApp,
  method: WechatMethod,
  extra: Record<string, unknown> = {},
  amount = 8880,
  order: { prefix?: string; subject?: string } = {},
) {
  const created = await t.http
    .post('/api/orders')
    .set(t.merchant)
    .send({
      merchantOrderNo: uniqueNo(order.prefix ?? 'WX'),
      amount,
      subject: order.subject ?? 'Green tea',
    })
    .expect(201);
  const payment = await t.http
    .post(`/api/orders/${created.body.id}/payments`)
    .set(t.merchant)
    .send({ channel: 'wechat', method, ...extra })
    .expect(201);
  return {
    order: created.body as { id: string },
    payment: payment.body as { id: string; outTradeNo: string; action: Record<string, unknown> },
  };
}

/** A control call on one sandbox trade (pay, fail, duplicate, …). */
export const wechatControl = (t: TestApp, outTradeNo: string, action: string, body: object = {}) =>
  t.http.post(`/sandbox/wechat/control/trades/${outTradeNo}/${action}`).send(body);

/** The inbox rows of one WeChat trade, oldest first. */
export const wechatInbox = (t: TestApp, outTradeNo: string) =>
  t.dataSource.query(
    "SELECT outcome FROM channel_notifications WHERE channel = 'wechat' AND out_trade_no = ? ORDER BY received_at",
    [outTradeNo],
  ) as Promise<{ outcome: string }[]>;
