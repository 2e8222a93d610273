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
});
