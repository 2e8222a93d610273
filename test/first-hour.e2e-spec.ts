import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  sandboxPay,
} from './support/alipay-sandbox';
import { TestApp, freePort, startApp } from './support/test-app';

const FAST = { SANDBOX_TIME_SCALE: '0.0005' };

describe('what a new user meets in the first hour (e2e)', () => {
  it('a restart changes nothing in the sandbox: old QR and cashier links still pay, notifications still arrive', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'paygate-restart-'));
    const port = await freePort();
    const env = { ...FAST, PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}` };
    let t: TestApp | undefined = await startApp(env, { dataDir });
    try {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const paidBefore = await orderWithAlipayAttempt(t, 'qr');
      await sandboxPay(t, paidBefore.payment.outTradeNo).expect(200);
      await eventually(async () => expect(await orderStatus(t!, paidBefore.order.id)).toBe('PAID'));
      // Paid just before the restart; the notification was still waiting to go out.
      const inFlight = await orderWithAlipayAttempt(t, 'qr');
      await sandboxPay(t, inFlight.payment.outTradeNo, { notify: 'delay', delayMs: 400 }).expect(
        200,
      );
      await t.close();
      t = await startApp(env, { dataDir });
      await eventually(async () => expect(await orderStatus(t!, inFlight.order.id)).toBe('PAID'));

      // The cashier URL handed out before the restart still opens the same trade.
      const cashier = new URL(payment.action.qrCode);
      const page = await t.http.get(cashier.pathname).expect(200);
      expect(page.text).toContain('88.80');
      await sandboxPay(t, payment.outTradeNo).expect(200);
      await eventually(async () => expect(await orderStatus(t!, order.id)).toBe('PAID'));
      // A trade paid before the restart is still paid, and its refund still works.
      const trade = await t.http
        .get(`/sandbox/alipay/control/trades/${paidBefore.payment.outTradeNo}`)
        .expect(200);
      expect(trade.body.status).toBe('TRADE_SUCCESS');
      await t.http
        .post(`/api/orders/${paidBefore.order.id}/refunds`)
        .set(t.merchant)
        .send({ merchantRefundNo: 'AFTER-RESTART', amount: 100 })
        .expect(201)
        .expect((res) => expect(res.body.status).toBe('SUCCEEDED'));
    } finally {
      await t?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('every browser-facing sandbox URL follows PUBLIC_BASE_URL (qr, page, wap)', async () => {
    const t = await startApp({ ...FAST, PUBLIC_BASE_URL: 'http://192.0.2.10:8080' });
    try {
      const qr = await orderWithAlipayAttempt(t, 'qr');
      expect(qr.payment.action.qrCode).toMatch(
        /^http:\/\/192\.0\.2\.10:8080\/sandbox\/alipay\/cashier\//,
      );
      for (const method of ['page', 'wap'] as const) {
        const { payment } = await orderWithAlipayAttempt(t, method);
        expect(payment.action.url).toMatch(
          /^http:\/\/192\.0\.2\.10:8080\/sandbox\/alipay\/gateway\.do\?/,
        );
      }
    } finally {
      await t.close();
    }
  });

  describe('answers a person can act on', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ ...FAST, BODY_LIMIT_BYTES: '2048' });
    });
    afterAll(async () => t.close());

    it('every answer carries a request id, in the header and the error body: unknown routes, bad JSON, 413', async () => {
      const answers = [
        await t.http.get('/no/such/route'),
        await t.http
          .post('/api/orders')
          .set(t.merchant)
          .set('Content-Type', 'application/json')
          .send('{"oops'),
        await t.http
          .post('/api/orders')
          .set(t.merchant)
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ subject: 'x'.repeat(4096) })),
        await t.http.get('/api/orders/ord_missing000000000000000000').set(t.merchant),
      ];
      expect(answers.map((a) => a.status)).toEqual([404, 400, 413, 404]);
      for (const a of answers) {
        expect(a.headers['x-request-id']).toMatch(/^req_[0-9A-Za-z]{16}$/);
        expect(a.body.requestId).toBe(a.headers['x-request-id']);
      }
      // A sane id from the caller is kept.
      const mine = await t.http.get('/no/such/route').set('X-Request-Id', 'shop-42');
      expect(mine.headers['x-request-id']).toBe('shop-42');
      expect(mine.body.requestId).toBe('shop-42');
    });

    it('GET / points a person to the docs and the health check', async () => {
      const res = await t.http.get('/').expect(200);
      expect(res.body).toMatchObject({ docs: '/docs', health: '/health' });
    });
  });
});
