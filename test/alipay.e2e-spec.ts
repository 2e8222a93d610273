import { generateKeyPairSync } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import {
  countRows,
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  postNotify,
  sandboxPay,
  signAlipayNotification,
} from './support/alipay-sandbox';
import { TestApp, startApp } from './support/test-app';

const FAST = { SANDBOX_TIME_SCALE: '0.0005' };

const events = (t: TestApp, orderId: string) =>
  t.dataSource.query('SELECT type FROM webhook_events WHERE order_id = ? ORDER BY created_at', [
    orderId,
  ]) as Promise<{ type: string }[]>;

const paymentRow = async (t: TestApp, outTradeNo: string) =>
  (
    (await t.dataSource.query(
      'SELECT status, anomaly, channel_trade_no FROM payments WHERE out_trade_no = ?',
      [outTradeNo],
    )) as {
      status: string;
      anomaly: string | null;
      channel_trade_no: string | null;
    }[]
  )[0];

const inbox = (t: TestApp, outTradeNo: string) =>
  t.dataSource.query(
    'SELECT outcome, verified, source_ip FROM channel_notifications WHERE out_trade_no = ? ORDER BY received_at',
    [outTradeNo],
  ) as Promise<{ outcome: string; verified: number | boolean; source_ip: string }[]>;

/** Sends a raw request from a chosen local address (the loopback range is all ours). */
function postFrom(
  localAddress: string,
  port: number,
  path: string,
  body: string,
  headers: Record<string, string> = {},
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        localAddress,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('Alipay end to end over the sandbox (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(FAST);
  });
  afterAll(async () => t.close());

  describe('the whole loop, per method', () => {
    it('qr: precreate, the buyer pays, the notification makes the order PAID with one order.paid event', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      expect(payment.action).toEqual({
        type: 'qr',
        qrCode: expect.stringContaining(`/sandbox/alipay/cashier/${payment.outTradeNo}`),
      });
      expect(payment.outTradeNo).toMatch(/^[0-9A-Za-z]{32}$/);
      await sandboxPay(t, payment.outTradeNo).expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      const paid = await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200);
      expect(paid.body).toMatchObject({
        status: 'PAID',
        paidAmount: 8880,
        channel: 'alipay',
        channelTradeNo: expect.any(String),
      });
      expect((await paymentRow(t, payment.outTradeNo)).status).toBe('SUCCEEDED');
      expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.paid']);
      expect((await inbox(t, payment.outTradeNo)).map((n) => n.outcome)).toEqual(['processed']);
      // The event carries the order exactly as it was committed (it is built without reading it back).
      const [{ payload }] = (await t.dataSource.query(
        'SELECT payload FROM webhook_events WHERE order_id = ?',
        [order.id],
      )) as { payload: string }[];
      const { clientSecret: _secret, ...committed } = paid.body as Record<string, unknown>;
      expect((JSON.parse(payload) as { data: unknown }).data).toEqual(committed);
    });

    it.each(['page', 'wap'] as const)(
      '%s: the signed redirect reaches the cashier, Pay completes the order',
      async (method) => {
        const { order, payment } = await orderWithAlipayAttempt(t, method);
        expect(payment.action.type).toBe('redirect');
        const url = new URL(payment.action.url);
        expect(url.pathname).toBe('/sandbox/alipay/gateway.do');
        expect(url.searchParams.get('method')).toBe(
          method === 'page' ? 'alipay.trade.page.pay' : 'alipay.trade.wap.pay',
        );
        const landing = await t.http.get(`${url.pathname}${url.search}`).expect(302);
        expect(landing.headers.location).toContain(`/sandbox/alipay/cashier/${payment.outTradeNo}`);
        await t.http.get(`/sandbox/alipay/cashier/${payment.outTradeNo}`).expect(200);
        await t.http
          .post(`/sandbox/alipay/cashier/${payment.outTradeNo}/pay`)
          .type('form')
          .send({});
        await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
        expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.paid']);
      },
    );

    it('app: the order string is accepted by the (simulated) app SDK, payment completes the order', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'app');
      expect(payment.action.type).toBe('app');
      expect(payment.action.orderString).toContain('method=alipay.trade.app.pay');
      await t.http
        .post('/sandbox/alipay/app-pay')
        .send({ orderString: payment.action.orderString })
        .expect(200);
      await sandboxPay(t, payment.outTradeNo).expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    });

    it('a storefront frontend pays with the client secret', async () => {
      const created = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ merchantOrderNo: `CS-${Date.now()}`, amount: 1, subject: 'x' });
      const res = await t.http
        .post(`/api/orders/${created.body.id}/payments`)
        .set('X-Client-Secret', created.body.clientSecret)
        .send({ channel: 'alipay', method: 'qr' })
        .expect(201);
      expect(res.body.action.type).toBe('qr');
    });
  });

  describe('attempts', () => {
    it('a repeated call for the same channel and method returns the same attempt; another method gets a new one', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const again = await t.http
        .post(`/api/orders/${order.id}/payments`)
        .set(t.merchant)
        .send({ channel: 'alipay', method: 'qr' })
        .expect(200); // already there: 200, as for a repeated order
      expect(again.body.outTradeNo).toBe(payment.outTradeNo);
      expect(again.body.action).toEqual(payment.action);
      const page = await t.http
        .post(`/api/orders/${order.id}/payments`)
        .set(t.merchant)
        .send({ channel: 'alipay', method: 'page' })
        .expect(201);
      expect(page.body.outTradeNo).not.toBe(payment.outTradeNo);
    });

    it.each([
      ['channel', { channel: 'paypal', method: 'qr' }],
      ['method', { channel: 'alipay', method: 'jsapi' }],
      ['method', { channel: 'alipay', method: 'cash' }],
      ['returnUrl', { channel: 'alipay', method: 'page', returnUrl: 'javascript:alert(1)' }],
      ['extra', { channel: 'alipay', method: 'qr', extra: 1 }],
    ])('bad input names %s and writes no attempt', async (field, body) => {
      const created = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ merchantOrderNo: `BI-${Date.now()}-${field}`, amount: 1, subject: 'x' });
      const res = await t.http
        .post(`/api/orders/${created.body.id}/payments`)
        .set(t.merchant)
        .send(body)
        .expect(400);
      expect(res.body.message).toContain(field);
      expect(
        await countRows(t, 'SELECT COUNT(*) AS c FROM payments WHERE order_id = ?', [
          created.body.id,
        ]),
      ).toBe(0);
    });

    it('only a pending, unexpired order is payable (409)', async () => {
      const closed = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ merchantOrderNo: `NP-${Date.now()}`, amount: 1, subject: 'x' });
      await t.http.post(`/api/orders/${closed.body.id}/close`).set(t.merchant).expect(200);
      const res = await t.http
        .post(`/api/orders/${closed.body.id}/payments`)
        .set(t.merchant)
        .send({ channel: 'alipay', method: 'qr' })
        .expect(409);
      expect(res.body.code).toBe('ORDER_NOT_PAYABLE');

      const expired = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ merchantOrderNo: `EX-${Date.now()}`, amount: 1, subject: 'x' });
      await t.dataSource.query('UPDATE orders SET expires_at = ? WHERE id = ?', [
        '2020-01-01 00:00:00.000',
        expired.body.id,
      ]);
      const res2 = await t.http
        .post(`/api/orders/${expired.body.id}/payments`)
        .set(t.merchant)
        .send({ channel: 'alipay', method: 'qr' })
        .expect(409);
      expect(res2.body.message).toContain('expired');
    });
  });

  describe('notifications are applied exactly once', () => {
    it('50 concurrent copies of one notification: one state change, one event, every copy acknowledged', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const form = signAlipayNotification(t, {
        out_trade_no: payment.outTradeNo,
        total_amount: '88.80',
      });
      const replies = await Promise.all(Array.from({ length: 50 }, () => postNotify(t, form)));
      expect(replies.map((r) => r.text)).toEqual(Array(50).fill('success'));
      expect(await orderStatus(t, order.id)).toBe('PAID');
      expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.paid']);
      const outcomes = (await inbox(t, payment.outTradeNo)).map((n) => n.outcome).sort();
      expect(outcomes.filter((o) => o === 'processed')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(49);
    });

    it('the sandbox duplicating its notification changes state once', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      await sandboxPay(t, payment.outTradeNo, { notify: 'duplicate' }).expect(200);
      await eventually(async () => expect((await inbox(t, payment.outTradeNo)).length).toBe(2));
      expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.paid']);
    });

    it('an unanswered notification is retried by the sandbox until acknowledged', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      await sandboxPay(t, payment.outTradeNo, { notify: 'delay', delayMs: 50 }).expect(200);
      expect(await orderStatus(t, order.id)).toBe('PENDING');
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    });
  });

  describe('notifications that must change nothing', () => {
    const expectNothingChanged = async (orderId: string, outTradeNo: string) => {
      expect(await orderStatus(t, orderId)).toBe('PENDING');
      expect((await paymentRow(t, outTradeNo)).status).toBe('PENDING');
      expect(await events(t, orderId)).toEqual([]);
    };

    it('a forged signature', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const res = await postNotify(
        t,
        signAlipayNotification(
          t,
          { out_trade_no: payment.outTradeNo, total_amount: '88.80' },
          forger,
        ),
      );
      expect(res.text).toBe('fail');
      await expectNothingChanged(order.id, payment.outTradeNo);
      expect(await inbox(t, payment.outTradeNo)).toEqual([
        expect.objectContaining({ outcome: 'rejected:signature' }),
      ]);
    });

    it('a tampered field after signing', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const form = signAlipayNotification(t, {
        out_trade_no: payment.outTradeNo,
        total_amount: '0.01',
      }).replace('total_amount=0.01', 'total_amount=88.80');
      expect((await postNotify(t, form)).text).toBe('fail');
      await expectNothingChanged(order.id, payment.outTradeNo);
    });

    it('a validly signed notification for another app_id', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const res = await postNotify(
        t,
        signAlipayNotification(t, {
          out_trade_no: payment.outTradeNo,
          total_amount: '88.80',
          app_id: '2021009999999999',
        }),
      );
      expect(res.text).toBe('fail');
      await expectNothingChanged(order.id, payment.outTradeNo);
      expect((await inbox(t, payment.outTradeNo))[0].outcome).toBe('rejected:app_id');
    });

    it('a validly signed notification for another seller', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const res = await postNotify(
        t,
        signAlipayNotification(t, {
          out_trade_no: payment.outTradeNo,
          total_amount: '88.80',
          seller_id: '2088000000000001',
        }),
      );
      expect(res.text).toBe('fail');
      await expectNothingChanged(order.id, payment.outTradeNo);
    });

    it('a validly signed notification with the wrong amount is rejected, recorded and counted', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const res = await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: payment.outTradeNo, total_amount: '0.01' }),
      );
      expect(res.text).toBe('fail');
      await expectNothingChanged(order.id, payment.outTradeNo);
      expect((await inbox(t, payment.outTradeNo))[0]).toMatchObject({
        outcome: 'rejected:amount_mismatch',
      });
      const metrics = await t.http.get('/metrics').expect(200);
      expect(metrics.text).toMatch(
        /paygate_channel_notifications_total\{channel="alipay",outcome="rejected"\} [1-9]/,
      );
    });

    it('a validly signed notification for an unknown out_trade_no', async () => {
      const outTradeNo = `UNKNOWN${Date.now()}`;
      const res = await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: outTradeNo, total_amount: '88.80' }),
      );
      expect(res.text).toBe('fail');
      expect((await inbox(t, outTradeNo))[0]).toMatchObject({ outcome: 'rejected:unknown_trade' });
    });

    it('a malformed amount in a signed notification', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const res = await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: payment.outTradeNo, total_amount: '88.8000001' }),
      );
      expect(res.text).toBe('fail');
      await expectNothingChanged(order.id, payment.outTradeNo);
    });

    it('WAIT_BUYER_PAY is only recorded', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const res = await postNotify(
        t,
        signAlipayNotification(t, {
          out_trade_no: payment.outTradeNo,
          total_amount: '88.80',
          trade_status: 'WAIT_BUYER_PAY',
        }),
      );
      expect(res.text).toBe('success');
      await expectNothingChanged(order.id, payment.outTradeNo);
      expect((await inbox(t, payment.outTradeNo))[0].outcome).toBe('processed');
    });

    it('TRADE_CLOSED closes the attempt, not the order', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      await t.http.post(`/sandbox/alipay/control/trades/${payment.outTradeNo}/fail`).expect(200);
      await eventually(async () =>
        expect((await paymentRow(t, payment.outTradeNo)).status).toBe('CLOSED'),
      );
      expect(await orderStatus(t, order.id)).toBe('PENDING');
    });
  });

  describe('close', () => {
    it('closes the attempt at Alipay first, then the order', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const res = await t.http.post(`/api/orders/${order.id}/close`).set(t.merchant).expect(200);
      expect(res.body.status).toBe('CLOSED');
      const trade = await t.http
        .get(`/sandbox/alipay/control/trades/${payment.outTradeNo}`)
        .expect(200);
      expect(trade.body.status).toBe('TRADE_CLOSED');
      expect((await paymentRow(t, payment.outTradeNo)).status).toBe('CLOSED');
      expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.closed']);
    });

    it('an order Alipay says was paid becomes PAID, not CLOSED', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      // Paid at Alipay, its notification not here yet.
      await t.http
        .post(`/sandbox/alipay/control/trades/${payment.outTradeNo}/mark-paid`)
        .send({})
        .expect(200);
      const res = await t.http.post(`/api/orders/${order.id}/close`).set(t.merchant).expect(200);
      expect(res.body.status).toBe('PAID');
      expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.paid']);
    });

    it('close racing the payment notification ends PAID with exactly one event', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      await t.http
        .post(`/sandbox/alipay/control/trades/${payment.outTradeNo}/mark-paid`)
        .send({})
        .expect(200);
      const form = signAlipayNotification(t, {
        out_trade_no: payment.outTradeNo,
        total_amount: '88.80',
      });
      const [closeRes, ...notifyRes] = await Promise.all([
        t.http.post(`/api/orders/${order.id}/close`).set(t.merchant),
        postNotify(t, form),
        postNotify(t, form),
      ]);
      expect(closeRes.status).toBe(200);
      expect(closeRes.body.status).toBe('PAID');
      expect(notifyRes.map((r) => r.text)).toEqual(['success', 'success']);
      expect(await orderStatus(t, order.id)).toBe('PAID');
      expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.paid']);
    });

    it('a paid order cannot be closed (409)', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: payment.outTradeNo, total_amount: '88.80' }),
      ).expect(200);
      const res = await t.http.post(`/api/orders/${order.id}/close`).set(t.merchant).expect(409);
      expect(res.body.code).toBe('ORDER_NOT_CLOSABLE');
    });
  });

  describe('payments that must not be lost', () => {
    it('LATE_PAYMENT_POLICY=accept: a payment after the close reopens the order as PAID', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      await t.http.post(`/api/orders/${order.id}/close`).set(t.merchant).expect(200);
      await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: payment.outTradeNo, total_amount: '88.80' }),
      ).expect(200, 'success');
      expect(await orderStatus(t, order.id)).toBe('PAID');
      expect(await paymentRow(t, payment.outTradeNo)).toMatchObject({
        status: 'SUCCEEDED',
        anomaly: 'LATE_ACCEPTED',
      });
      expect((await events(t, order.id)).map((e) => e.type)).toEqual([
        'order.closed',
        'order.paid',
      ]);
    });

    it('a second attempt paid after the first is recorded as a duplicate to refund', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const second = await t.http
        .post(`/api/orders/${order.id}/payments`)
        .set(t.merchant)
        .send({ channel: 'alipay', method: 'app' })
        .expect(201);
      await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: payment.outTradeNo, total_amount: '88.80' }),
      ).expect(200, 'success');
      await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: second.body.outTradeNo, total_amount: '88.80' }),
      ).expect(200, 'success');
      const o = await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200);
      expect(o.body).toMatchObject({ status: 'PAID', paidAmount: 8880 });
      expect(await paymentRow(t, second.body.outTradeNo)).toMatchObject({
        status: 'SUCCEEDED',
        anomaly: 'DUPLICATE',
      });
      expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.paid']);
      const toRefund = await t.http.get('/admin/payments/to-refund').set(t.admin).expect(200);
      expect(
        toRefund.body.items.map((p: { payment: { outTradeNo: string } }) => p.payment.outTradeNo),
      ).toContain(second.body.outTradeNo);
    });
  });

  describe('admin views', () => {
    it('an order with its attempts, notifications and events; the inbox by outcome; search', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: payment.outTradeNo, total_amount: '0.02' }),
      ).expect(200, 'fail');
      await postNotify(
        t,
        signAlipayNotification(t, { out_trade_no: payment.outTradeNo, total_amount: '88.80' }),
      ).expect(200, 'success');
      const detail = await t.http.get(`/admin/orders/${order.id}`).set(t.admin).expect(200);
      expect(detail.body.order.status).toBe('PAID');
      expect(detail.body.payments).toHaveLength(1);
      expect(detail.body.notifications.map((n: { outcome: string }) => n.outcome)).toEqual([
        'rejected:amount_mismatch',
        'processed',
      ]);
      expect(JSON.stringify(detail.body.notifications)).not.toContain('"sign"');
      expect(detail.body.events.map((e: { type: string }) => e.type)).toEqual(['order.paid']);

      const rejected = await t.http
        .get('/admin/notifications')
        .query({ outcome: 'rejected', outTradeNo: payment.outTradeNo })
        .set(t.admin)
        .expect(200);
      expect(rejected.body.items).toHaveLength(1);
      const search = await t.http
        .get('/admin/orders')
        .query({ status: 'PAID', merchantOrderNo: detail.body.order.merchantOrderNo })
        .set(t.admin)
        .expect(200);
      expect(search.body.items.map((o: { id: string }) => o.id)).toEqual([order.id]);
      await t.http.get('/admin/orders').query({ status: 'SHIPPED' }).set(t.admin).expect(400);
      await t.http
        .get('/admin/orders')
        .query({ createdFrom: 'yesterday' })
        .set(t.admin)
        .expect(400);
      await t.http.get('/admin/orders').set(t.merchant).expect(403);
    });
  });

  it('a database failure answers fail so that Alipay retries', async () => {
    const other = await startApp(FAST);
    try {
      const { payment } = await orderWithAlipayAttempt(other, 'qr');
      const form = signAlipayNotification(other, {
        out_trade_no: payment.outTradeNo,
        total_amount: '88.80',
      });
      await other.dataSource.destroy();
      const res = await postNotify(other, form);
      expect(res.text).toBe('fail');
    } finally {
      await other.close().catch(() => undefined);
    }
  });
});

describe('late payment under LATE_PAYMENT_POLICY=refund (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...FAST, LATE_PAYMENT_POLICY: 'refund' });
  });
  afterAll(async () => t.close());

  it('the order stays CLOSED and the payment is recorded to be refunded', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    await t.http.post(`/api/orders/${order.id}/close`).set(t.merchant).expect(200);
    await postNotify(
      t,
      signAlipayNotification(t, { out_trade_no: payment.outTradeNo, total_amount: '88.80' }),
    ).expect(200, 'success');
    expect(await orderStatus(t, order.id)).toBe('CLOSED');
    expect(await paymentRow(t, payment.outTradeNo)).toMatchObject({
      status: 'SUCCEEDED',
      anomaly: 'LATE_REFUND',
    });
    expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.closed']);
    const toRefund = await t.http.get('/admin/payments/to-refund').set(t.admin).expect(200);
    expect(
      toRefund.body.items.map((p: { payment: { outTradeNo: string } }) => p.payment.outTradeNo),
    ).toContain(payment.outTradeNo);
  });
});

describe('notify allowlist (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...FAST, ALIPAY_NOTIFY_ALLOW_IPS: '127.0.0.1/32', TRUST_PROXY: 'false' });
  });
  afterAll(async () => t.close());

  it('refuses a caller outside the list (127.0.0.2) and changes nothing', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    const form = signAlipayNotification(t, {
      out_trade_no: payment.outTradeNo,
      total_amount: '88.80',
    });
    const refused = await postFrom('127.0.0.2', t.port, '/notify/alipay', form);
    expect(refused.status).toBe(403);
    expect(await orderStatus(t, order.id)).toBe('PENDING');
    const allowed = await postFrom('127.0.0.1', t.port, '/notify/alipay', form);
    expect(allowed).toEqual({ status: 200, body: 'success' });
    expect(await orderStatus(t, order.id)).toBe('PAID');
  });

  it('ignores a spoofed X-Forwarded-For when TRUST_PROXY=false', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    const form = signAlipayNotification(t, {
      out_trade_no: payment.outTradeNo,
      total_amount: '88.80',
    });
    const res = await postFrom('127.0.0.2', t.port, '/notify/alipay', form, {
      'X-Forwarded-For': '127.0.0.1',
    });
    expect(res.status).toBe(403);
    expect(await orderStatus(t, order.id)).toBe('PENDING');
  });
});

describe('notify allowlist behind a trusted proxy (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      ...FAST,
      ALIPAY_NOTIFY_ALLOW_IPS: '203.0.113.0/24',
      TRUST_PROXY: '127.0.0.1/32',
    });
  });
  afterAll(async () => t.close());

  it('takes X-Forwarded-For from a trusted proxy, and only from it', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    const form = signAlipayNotification(t, {
      out_trade_no: payment.outTradeNo,
      total_amount: '88.80',
    });
    const untrusted = await postFrom('127.0.0.2', t.port, '/notify/alipay', form, {
      'X-Forwarded-For': '203.0.113.9',
    });
    expect(untrusted.status).toBe(403);
    const viaProxy = await postFrom('127.0.0.1', t.port, '/notify/alipay', form, {
      'X-Forwarded-For': '203.0.113.9',
    });
    expect(viaProxy).toEqual({ status: 200, body: 'success' });
    expect(await orderStatus(t, order.id)).toBe('PAID');
    expect((await inbox(t, payment.outTradeNo))[0].source_ip).toBe('203.0.113.9');
  });
});
