import {
  createCipheriv,
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  randomBytes,
} from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { AutoRefundsJob } from '../src/jobs/auto-refunds.job';
import { SyncPendingPaymentsJob } from '../src/jobs/sync-pending-payments.job';
import { SyncPendingRefundsJob } from '../src/jobs/sync-pending-refunds.job';
import { countRows, eventually, orderStatus } from './support/alipay-sandbox';
import { TestApp, eventTypes, startApp, uniqueNo } from './support/test-app';
import {
  orderWithWechatAttempt as wechatAttempt,
  wechatControl as control,
  wechatInbox as inbox,
  wechatSandboxKeys,
} from './support/wechat-sandbox';

const FAST = { SANDBOX_TIME_SCALE: '0.0005' };

interface WechatKeys {
  appId: string;
  mchId: string;
  apiV3Key: string;
  merchantPublicKeyPem: string;
  platformPrivateKeyPem: string;
  platformPublicKeyId: string;
}

/**
 * A notification as WeChat Pay sends it (protocols.md C2, C3), built here with
 * node:crypto and the sandbox's platform key alone: no code shared with the provider.
 */
function craftNotification(
  keys: WechatKeys,
  resource: Record<string, unknown>,
  options: { ageSeconds?: number; apiV3Key?: string; breakTag?: boolean; id?: string } = {},
) {
  const nonce = randomBytes(6).toString('hex');
  const cipher = createCipheriv(
    'aes-256-gcm',
    Buffer.from(options.apiV3Key ?? keys.apiV3Key),
    Buffer.from(nonce),
  );
  cipher.setAAD(Buffer.from('transaction'));
  const sealed = Buffer.concat([
    cipher.update(JSON.stringify(resource)),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  if (options.breakTag) sealed[sealed.length - 1] ^= 1;
  const body = JSON.stringify({
    id: options.id ?? `EV-${randomBytes(8).toString('hex')}`,
    create_time: '2024-01-01T12:00:00+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: {
      original_type: 'transaction',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: sealed.toString('base64'),
      associated_data: 'transaction',
      nonce,
    },
  });
  const timestamp = String(Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0));
  const headerNonce = randomBytes(16).toString('hex');
  const signature = createSign('RSA-SHA256')
    .update(`${timestamp}\n${headerNonce}\n${body}\n`)
    .sign(createPrivateKey(keys.platformPrivateKeyPem), 'base64');
  return {
    body,
    headers: {
      'Content-Type': 'application/json',
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': headerNonce,
      'Wechatpay-Signature': signature,
      'Wechatpay-Serial': keys.platformPublicKeyId,
      'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    },
  };
}

const paidResource = (keys: WechatKeys, outTradeNo: string, total: number) => ({
  appid: keys.appId,
  mchid: keys.mchId,
  out_trade_no: outTradeNo,
  transaction_id: `42000${Date.now()}${Math.floor(Math.random() * 1e6)}`,
  trade_type: 'NATIVE',
  trade_state: 'SUCCESS',
  success_time: '2024-01-01T12:00:05+08:00',
  payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  amount: { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' },
});

const keysOf = (t: TestApp) => wechatSandboxKeys<WechatKeys>(t);

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

  const post = (n: { body: string; headers: Record<string, string> }) =>
    t.http.post('/notify/wechat/v3').set(n.headers).send(n.body);

  it('50 concurrent copies of one notification: one change, one event, 49 duplicates', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr');
    const n = craftNotification(keysOf(t), paidResource(keysOf(t), payment.outTradeNo, 8880));
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(n)));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(204));
    expect(await orderStatus(t, order.id)).toBe('PAID');
    expect(await eventTypes(t, order.id)).toEqual(['order.paid']);
    const outcomes = (await inbox(t, payment.outTradeNo)).map((x) => x.outcome);
    expect(outcomes.filter((o) => o === 'processed')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(49);
  });

  it('stale, undecryptable, under another APIv3 key, wrong amount, NOTPAY: nothing changes', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr');
    const keys = keysOf(t);
    const good = paidResource(keys, payment.outTradeNo, 8880);
    const cases: [ReturnType<typeof craftNotification>, number][] = [
      [craftNotification(keys, good, { ageSeconds: 600 }), 400],
      [craftNotification(keys, good, { breakTag: true }), 400],
      [craftNotification(keys, good, { apiV3Key: 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp' }), 400],
      [craftNotification(keys, { ...good, amount: { total: 1, currency: 'CNY' } }), 400],
      [craftNotification(keys, { ...good, appid: 'wx0000000000000000' }), 400],
      [craftNotification(keys, { ...good, trade_state: 'NOTPAY' }), 204],
    ];
    for (const [n, status] of cases) {
      const res = await post(n);
      expect(res.status).toBe(status);
      if (status === 400) expect(res.body).toMatchObject({ code: 'FAIL' });
    }
    expect(await orderStatus(t, order.id)).toBe('PENDING');
    expect(await eventTypes(t, order.id)).toEqual([]);
    const rejected = (
      (await t.dataSource.query(
        "SELECT outcome FROM channel_notifications WHERE channel = 'wechat' AND outcome LIKE 'rejected:%' AND received_at >= ?",
        [new Date(Date.now() - 60_000).toISOString().replace('T', ' ').slice(0, 23)],
      )) as { outcome: string }[]
    ).map((r) => r.outcome);
    for (const reason of [
      'rejected:timestamp',
      'rejected:malformed',
      'rejected:amount_mismatch',
      'rejected:app_id',
    ])
      expect(rejected).toContain(reason);
  });

  it.each(['CLOSED', 'ABNORMAL'] as const)(
    'a refund WeChat ends %s is FAILED and its reservation released',
    async (endsAs) => {
      const { order, payment } = await wechatAttempt(t, 'qr', {}, 3000);
      await control(t, payment.outTradeNo, 'pay').expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      await control(t, payment.outTradeNo, 'next-refund', { outcome: 'fail', endsAs }).expect(200);
      const failing = await t.http
        .post(`/api/orders/${order.id}/refunds`)
        .set(t.merchant)
        .send({ merchantRefundNo: 'AB-1', amount: 3000 })
        .expect(201);
      expect(failing.body.status).toBe('PENDING');
      await eventually(async () => {
        const r = await t.http.get(`/api/refunds/${failing.body.id}`).set(t.merchant).expect(200);
        expect(r.body).toMatchObject({
          status: 'FAILED',
          failureReason: expect.stringContaining(endsAs),
        });
      });
      expect(await eventTypes(t, order.id)).toEqual(['order.paid', 'refund.failed']);
      expect(
        (await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200)).body,
      ).toMatchObject({ status: 'PAID', refundedAmount: 0 });
      if (endsAs !== 'CLOSED') return;
      // A closed refund moved no money: the amount can be refunded again.
      const again = await t.http
        .post(`/api/orders/${order.id}/refunds`)
        .set(t.merchant)
        .send({ merchantRefundNo: 'AB-2', amount: 3000 })
        .expect(201);
      await eventually(async () => {
        const r = await t.http.get(`/api/refunds/${again.body.id}`).set(t.merchant).expect(200);
        expect(r.body.status).toBe('SUCCEEDED');
      });
    },
  );

  it("WeChat's refund limits are a 409 before it is asked: 50 refunds of a payment, a year after it", async () => {
    const { order, payment } = await wechatAttempt(t, 'qr', {}, 10_000);
    await control(t, payment.outTradeNo, 'pay').expect(200);
    await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    await t.dataSource.query('UPDATE payments SET paid_at = ? WHERE id = ?', [
      '2020-01-01 00:00:00.000',
      payment.id,
    ]);
    const late = await t.http
      .post(`/api/orders/${order.id}/refunds`)
      .set(t.merchant)
      .send({ merchantRefundNo: 'LIM-1', amount: 1 })
      .expect(409);
    expect(late.body).toMatchObject({
      code: 'REFUND_NOT_ALLOWED',
      message: expect.stringContaining('365 days'),
    });
    expect(
      (await t.http.get(`/sandbox/wechat/control/trades/${payment.outTradeNo}`).expect(200)).body
        .refunds ?? [],
    ).toHaveLength(0);
  });

  it('a duplicate payment on WeChat is refunded in full, once, and settled by its notification', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr', {}, 2500);
    const second = await t.http
      .post(`/api/orders/${order.id}/payments`)
      .set(t.merchant)
      .send({ channel: 'wechat', method: 'app' })
      .expect(201);
    await control(t, payment.outTradeNo, 'pay').expect(200);
    await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    await control(t, second.body.outTradeNo, 'pay').expect(200);
    await eventually(async () => {
      const [row] = (await t.dataSource.query('SELECT anomaly FROM payments WHERE id = ?', [
        second.body.id,
      ])) as { anomaly: string }[];
      expect(row.anomaly).toBe('DUPLICATE');
    });
    await t.app.get(AutoRefundsJob).run();
    await eventually(async () => {
      const list = await t.http.get(`/api/orders/${order.id}/refunds`).set(t.merchant).expect(200);
      expect(list.body.items).toEqual([
        expect.objectContaining({ kind: 'duplicate_payment', amount: 2500, status: 'SUCCEEDED' }),
      ]);
    });
    expect(
      (await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200)).body,
    ).toMatchObject({
      status: 'PAID',
      refundedAmount: 0,
    });
  });

  it('close racing the payment notification ends PAID with exactly one event', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr');
    await control(t, payment.outTradeNo, 'mark-paid').expect(200);
    const n = craftNotification(keysOf(t), paidResource(keysOf(t), payment.outTradeNo, 8880));
    const [closeRes, ...notified] = await Promise.all([
      t.http.post(`/api/orders/${order.id}/close`).set(t.merchant),
      post(n),
      post(n),
    ]);
    expect(closeRes.status).toBe(200);
    expect(closeRes.body.status).toBe('PAID');
    expect(notified.map((r) => r.status)).toEqual([204, 204]);
    expect(await eventTypes(t, order.id)).toEqual(['order.paid']);
  });
});

/** A raw POST from a chosen local address (the loopback range is all ours). */
function postFrom(
  localAddress: string,
  port: number,
  n: { body: string; headers: Record<string, string> },
  extra: Record<string, string> = {},
) {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/notify/wechat/v3',
        method: 'POST',
        localAddress,
        headers: { ...n.headers, ...extra, 'Content-Length': Buffer.byteLength(n.body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(n.body);
  });
}

describe('WeChat Pay notify allowlist (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...FAST, WECHAT_NOTIFY_ALLOW_IPS: '127.0.0.1/32', TRUST_PROXY: 'false' });
  });
  afterAll(async () => t.close());

  it('refuses a caller outside WECHAT_NOTIFY_ALLOW_IPS, and a spoofed X-Forwarded-For does not help', async () => {
    const { order, payment } = await wechatAttempt(t, 'qr');
    const n = craftNotification(keysOf(t), paidResource(keysOf(t), payment.outTradeNo, 8880));
    expect(await postFrom('127.0.0.2', t.port, n)).toBe(403);
    expect(await postFrom('127.0.0.2', t.port, n, { 'X-Forwarded-For': '127.0.0.1' })).toBe(403);
    expect(await orderStatus(t, order.id)).toBe('PENDING');
    expect(await postFrom('127.0.0.1', t.port, n)).toBe(204);
    expect(await orderStatus(t, order.id)).toBe('PAID');
  });
});
