import { createPublicKey, createVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SyncPendingPaymentsJob } from '../src/jobs/sync-pending-payments.job';
import { SyncPendingRefundsJob } from '../src/jobs/sync-pending-refunds.job';
import { countRows, eventually, orderStatus } from './support/alipay-sandbox';
import { TestApp, startApp, uniqueNo } from './support/test-app';

const FAST = { SANDBOX_TIME_SCALE: '0.0005' };

interface WechatKeys {
  appId: string;
  mchId: string;
  merchantPublicKeyPem: string;
}

const keysOf = (t: TestApp): WechatKeys =>
  JSON.parse(readFileSync(join(t.dataDir, 'sandbox', 'wechat-keys.json'), 'utf8')) as WechatKeys;

async function wechatAttempt(
  t: TestApp,
  method: 'qr' | 'jsapi' | 'h5' | 'app',
  extra: Record<string, unknown> = {},
  amount = 8880,
) {
  const order = await t.http
    .post('/api/orders')
    .set(t.merchant)
    .send({ merchantOrderNo: uniqueNo('WX'), amount, subject: 'Green tea' })
    .expect(201);
  const payment = await t.http
    .post(`/api/orders/${order.body.id}/payments`)
    .set(t.merchant)
    .send({ channel: 'wechat', method, ...extra })
    .expect(201);
  return {
    order: order.body as { id: string },
    payment: payment.body as { id: string; outTradeNo: string; action: Record<string, unknown> },
  };
}

const control = (t: TestApp, outTradeNo: string, action: string, body: object = {}) =>
  t.http.post(`/sandbox/wechat/control/trades/${outTradeNo}/${action}`).send(body);

const inbox = (t: TestApp, outTradeNo: string) =>
  t.dataSource.query(
    "SELECT outcome FROM channel_notifications WHERE channel = 'wechat' AND out_trade_no = ? ORDER BY received_at",
    [outTradeNo],
  ) as Promise<{ outcome: string }[]>;

const eventTypes = async (t: TestApp, orderId: string) =>
  (
    (await t.dataSource.query(
      'SELECT type FROM webhook_events WHERE order_id = ? ORDER BY created_at, id',
      [orderId],
    )) as { type: string }[]
  ).map((e) => e.type);

describe('WeChat Pay v3 end to end over the sandbox (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(FAST);
  });
  afterAll(async () => t.close());

  it('qr (Native): code_url, the buyer pays, the signed encrypted notification makes the order PAID once', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr');
    expect(payment.action).toEqual({
      type: 'qr',
      qrCode: expect.stringContaining(`/sandbox/wechat/cashier/${payment.outTradeNo}`),
    });
    await control(t, payment.outTradeNo, 'pay', { notify: 'duplicate' }).expect(200);
    await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    const paid = await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200);
    expect(paid.body).toMatchObject({
      status: 'PAID',
      paidAmount: 8880,
      channel: 'wechat',
      channelTradeNo: expect.any(String),
    });
    await eventually(async () =>
      expect((await inbox(t, payment.outTradeNo)).map((n) => n.outcome).sort()).toEqual([
        'duplicate',
        'processed',
      ]),
    );
    expect(await eventTypes(t, order.id)).toEqual(['order.paid']);
  });

  it('jsapi needs openid (400 naming it) and answers the signed client parameters', async () => {
    const order = await t.http
      .post('/api/orders')
      .set(t.merchant)
      .send({ merchantOrderNo: uniqueNo('WX'), amount: 100, subject: 'Green tea' })
      .expect(201);
    const missing = await t.http
      .post(`/api/orders/${order.body.id}/payments`)
      .set(t.merchant)
      .send({ channel: 'wechat', method: 'jsapi' })
      .expect(400);
    expect(missing.body.message).toContain('openid');
    const { payment } = await wechatAttempt(t, 'jsapi', { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    const params = payment.action.params as Record<string, string>;
    const keys = keysOf(t);
    expect(payment.action.type).toBe('jsapi');
    expect(params).toMatchObject({
      appId: keys.appId,
      package: expect.stringMatching(/^prepay_id=wx/),
      signType: 'RSA',
    });
    // Checked here with node:crypto alone: what WeChat's JS bridge verifies.
    const ok = createVerify('RSA-SHA256')
      .update(`${params.appId}\n${params.timeStamp}\n${params.nonceStr}\n${params.package}\n`)
      .verify(createPublicKey(keys.merchantPublicKeyPem), params.paySign, 'base64');
    expect(ok).toBe(true);
  });

  it('h5 needs clientIp and redirects to h5_url; app answers the OpenSDK parameters', async () => {
    const order = await t.http
      .post('/api/orders')
      .set(t.merchant)
      .send({ merchantOrderNo: uniqueNo('WX'), amount: 100, subject: 'Green tea' })
      .expect(201);
    const missing = await t.http
      .post(`/api/orders/${order.body.id}/payments`)
      .set(t.merchant)
      .send({ channel: 'wechat', method: 'h5' })
      .expect(400);
    expect(missing.body.message).toContain('clientIp');
    const h5 = await wechatAttempt(t, 'h5', { clientIp: '203.0.113.7' });
    expect(h5.payment.action).toEqual({ type: 'redirect', url: expect.stringMatching(/^http/) });
    const app = await wechatAttempt(t, 'app');
    const keys = keysOf(t);
    expect(app.payment.action).toMatchObject({
      type: 'app',
      params: {
        appid: keys.appId,
        partnerid: keys.mchId,
        package: 'Sign=WXPay',
        prepayid: expect.stringMatching(/^wx/),
        sign: expect.any(String),
      },
    });
  });

  it('forged or altered notifications change nothing and are answered 400', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr');
    await control(t, payment.outTradeNo, 'mark-paid').expect(200);
    for (const tamper of ['signature', 'amount', 'mchid']) {
      await control(t, payment.outTradeNo, 'notify', { tamper }).expect(200);
    }
    await eventually(async () => {
      const outcomes = (await inbox(t, payment.outTradeNo)).map((n) => n.outcome);
      expect(outcomes).toHaveLength(2); // the forged signature has no trusted trade number
    });
    expect((await inbox(t, payment.outTradeNo)).map((n) => n.outcome).sort()).toEqual([
      'rejected:amount_mismatch',
      'rejected:mch_id',
    ]);
    const forged = await countRows(
      t,
      "SELECT COUNT(*) AS c FROM channel_notifications WHERE channel = 'wechat' AND outcome = 'rejected:signature'",
      [],
    );
    expect(forged).toBeGreaterThanOrEqual(1);
    expect(await orderStatus(t, order.id)).toBe('PENDING');
  });

  it('a payment whose notification never came is found by the sync job; close asks WeChat first', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr');
    await control(t, payment.outTradeNo, 'mark-paid').expect(200);
    await t.app.get(SyncPendingPaymentsJob).run(new Date(Date.now() + 2 * 60_000));
    expect(await orderStatus(t, order.id)).toBe('PAID');

    const unpaid = await wechatAttempt(t, 'qr');
    const closed = await t.http
      .post(`/api/orders/${unpaid.order.id}/close`)
      .set(t.merchant)
      .expect(200);
    expect(closed.body.status).toBe('CLOSED');
    const trade = await t.http
      .get(`/sandbox/wechat/control/trades/${unpaid.payment.outTradeNo}`)
      .expect(200);
    expect(trade.body.tradeState ?? trade.body.trade_state ?? trade.body.status).toBe('CLOSED');
  });

  it('a refund stays PENDING until WeChat says; its notification settles it, and never pays or closes', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr', {}, 5000);
    await control(t, payment.outTradeNo, 'pay').expect(200);
    await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    const refund = await t.http
      .post(`/api/orders/${order.id}/refunds`)
      .set(t.merchant)
      .send({ merchantRefundNo: 'WR-1', amount: 2000 })
      .expect(201);
    expect(refund.body.status).toBe('PENDING');
    await eventually(async () => {
      const r = await t.http.get(`/api/refunds/${refund.body.id}`).set(t.merchant).expect(200);
      expect(r.body.status).toBe('SUCCEEDED');
    });
    expect(
      (await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200)).body,
    ).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedAmount: 2000 });
    expect(await eventTypes(t, order.id)).toEqual(['order.paid', 'refund.succeeded']);
    // Settled by WeChat's REFUND.SUCCESS notification (no job ran before this point).
    const refundNotes = (await t.dataSource.query(
      "SELECT outcome FROM channel_notifications WHERE channel = 'wechat' AND out_trade_no = ? AND kind = 'refund'",
      [payment.outTradeNo],
    )) as { outcome: string }[];
    expect(refundNotes.map((n) => n.outcome)).toEqual(['processed']);
    // Asked again with its number, WeChat answers the same refund: the job changes nothing.
    await t.app.get(SyncPendingRefundsJob).run(new Date(Date.now() + 10 * 60_000));
    expect(
      (await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200)).body.refundedAmount,
    ).toBe(2000);
  });
});
