import {
  createCipheriv,
  createPrivateKey,
  createSign,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsService } from '../src/metrics/metrics.service';
import { eventually, orderStatus } from './support/alipay-sandbox';
import { TestApp, startApp, uniqueNo } from './support/test-app';

// WeChat Pay v3 in platform-certificate mode (no WECHAT_PLATFORM_PUBLIC_KEY), against
// the sandbox serving GET /v3/certificates (WECHAT_SANDBOX_CERT_MODE=true).
const CERT_MODE = { SANDBOX_TIME_SCALE: '0.0005', WECHAT_SANDBOX_CERT_MODE: 'true' };

async function fetches(t: TestApp): Promise<Record<string, number>> {
  const metric = t.app
    .get(MetricsService)
    .registry.getSingleMetric('paygate_wechat_certificate_fetches_total');
  const counts: Record<string, number> = {};
  for (const v of (await metric!.get()).values) counts[String(v.labels.outcome)] = v.value;
  return counts;
}

const wechatHealth = async (t: TestApp) =>
  (await t.http.get('/health').expect(200)).body.channels.wechat as {
    mode: string;
    state: string;
    reason?: string;
    serials: string[];
  };

const sandboxSerial = async (t: TestApp) =>
  (await t.http.get('/sandbox/wechat/control/platform-certificates').expect(200)).body
    .serial as string;

async function order(t: TestApp, amount = 500) {
  return (
    await t.http
      .post('/api/orders')
      .set(t.merchant)
      .send({ merchantOrderNo: uniqueNo('WXC'), amount, subject: 'Oolong' })
      .expect(201)
  ).body as { id: string };
}

const pay = (t: TestApp, orderId: string) =>
  t.http
    .post(`/api/orders/${orderId}/payments`)
    .set(t.merchant)
    .send({ channel: 'wechat', method: 'qr' });

const inbox = (t: TestApp, outTradeNo: string) =>
  t.dataSource.query(
    "SELECT outcome FROM channel_notifications WHERE channel = 'wechat' AND out_trade_no = ?",
    [outTradeNo],
  ) as Promise<{ outcome: string }[]>;

/** A TRANSACTION.SUCCESS as WeChat sends it in public-key mode, built with node:crypto alone. */
function signedByPublicKey(keys: Record<string, string>, resource: Record<string, unknown>) {
  const nonce = randomBytes(6).toString('hex');
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keys.apiV3Key), Buffer.from(nonce));
  cipher.setAAD(Buffer.from('transaction'));
  const sealed = Buffer.concat([
    cipher.update(JSON.stringify(resource)),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  const body = JSON.stringify({
    id: `EV-${randomBytes(8).toString('hex')}`,
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
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headerNonce = randomBytes(16).toString('hex');
  return {
    body,
    headers: {
      'Content-Type': 'application/json',
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': headerNonce,
      'Wechatpay-Serial': keys.platformPublicKeyId,
      'Wechatpay-Signature': createSign('RSA-SHA256')
        .update(`${timestamp}\n${headerNonce}\n${body}\n`)
        .sign(createPrivateKey(keys.platformPrivateKeyPem), 'base64'),
    },
  };
}

describe('WeChat Pay v3 platform-certificate mode (e2e)', () => {
  describe('with WeChat reachable', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(CERT_MODE);
      await eventually(async () => expect((await wechatHealth(t)).state).toBe('ready'), 10_000);
    });
    afterAll(async () => t.close());

    it('fetches the certificates at start and runs the whole loop: pay, notify, refund', async () => {
      const health = await wechatHealth(t);
      expect(health.mode).toBe('platform-certificate');
      expect(health.serials).toEqual([await sandboxSerial(t)]);
      expect((await fetches(t)).ok).toBe(1);

      const o = await order(t, 800);
      const payment = (await pay(t, o.id).expect(201)).body as { outTradeNo: string };
      await t.http
        .post(`/sandbox/wechat/control/trades/${payment.outTradeNo}/pay`)
        .send({ notify: 'normal' })
        .expect(200);
      await eventually(async () => expect(await orderStatus(t, o.id)).toBe('PAID'));
      expect((await inbox(t, payment.outTradeNo)).map((n) => n.outcome)).toEqual(['processed']);
      await t.http
        .post(`/api/orders/${o.id}/refunds`)
        .set(t.merchant)
        .send({ merchantRefundNo: uniqueNo('R'), amount: 300 })
        .expect(201);
      await eventually(async () =>
        expect(
          (await t.http.get(`/api/orders/${o.id}`).set(t.merchant).expect(200)).body,
        ).toMatchObject({ refundedAmount: 300, status: 'PARTIALLY_REFUNDED' }),
      );
    });

    it('a rotation while notifications arrive loses none: the new serial triggers one refresh', async () => {
      const before = (await fetches(t)).ok;
      const oldSerial = await sandboxSerial(t);
      const orders = await Promise.all([1, 2, 3, 4].map(() => order(t)));
      const payments = [];
      for (const o of orders)
        payments.push((await pay(t, o.id).expect(201)).body as { outTradeNo: string });

      const rotated = await t.http
        .post('/sandbox/wechat/control/rotate-platform-certificate')
        .expect(200);
      expect(rotated.body.serial).not.toBe(oldSerial);
      expect(rotated.body.listed).toEqual([oldSerial, rotated.body.serial]);

      // All four notifications arrive at once, signed with a certificate paygate has not seen.
      await Promise.all(
        payments.map((p) =>
          t.http
            .post(`/sandbox/wechat/control/trades/${p.outTradeNo}/pay`)
            .send({ notify: 'normal' })
            .expect(200),
        ),
      );
      for (const o of orders) {
        await eventually(async () => expect(await orderStatus(t, o.id)).toBe('PAID'));
      }
      for (const p of payments) {
        expect((await inbox(t, p.outTradeNo)).map((n) => n.outcome)).toEqual(['processed']);
      }
      expect((await fetches(t)).ok).toBe(before + 1);
      expect((await wechatHealth(t)).serials.sort()).toEqual(
        [oldSerial, rotated.body.serial].sort(),
      );
    });
  });

  describe('with WeChat unreachable at start', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ ...CERT_MODE, WECHAT_SANDBOX_CERTIFICATES_DOWN: 'true' });
    });
    afterAll(async () => t.close());

    it('boots, answers 503 CHANNEL_UNAVAILABLE and says why on /health, then recovers', async () => {
      await eventually(async () => expect((await wechatHealth(t)).state).toBe('unavailable'));
      const health = await wechatHealth(t);
      expect(health.reason).toContain('/v3/certificates');
      const o = await order(t);
      const refused = await pay(t, o.id).expect(503);
      expect(JSON.stringify(refused.body)).toContain('CHANNEL_UNAVAILABLE');
      expect((await fetches(t)).unavailable).toBeGreaterThanOrEqual(1);

      await t.http
        .post('/sandbox/wechat/control/certificates-outage')
        .send({ down: false })
        .expect(200);
      await eventually(async () => expect((await wechatHealth(t)).state).toBe('ready'), 15_000);
      await pay(t, o.id).expect(201);
      expect((await fetches(t)).ok).toBe(1);
    }, 30_000);

    it('a forger sending unknown serials gets rejected and makes at most one fetch a minute', async () => {
      const before = await fetches(t);
      const forgerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const forge = () => {
        const body = JSON.stringify({
          id: `EV-${randomBytes(6).toString('hex')}`,
          event_type: 'TRANSACTION.SUCCESS',
        });
        const timestamp = String(Math.floor(Date.now() / 1000));
        const nonce = randomBytes(16).toString('hex');
        return t.http
          .post('/notify/wechat/v3')
          .set({
            'Content-Type': 'application/json',
            'Wechatpay-Timestamp': timestamp,
            'Wechatpay-Nonce': nonce,
            'Wechatpay-Serial': randomBytes(20).toString('hex').toUpperCase(),
            'Wechatpay-Signature': createSign('RSA-SHA256')
              .update(`${timestamp}\n${nonce}\n${body}\n`)
              .sign(forgerKey, 'base64'),
          })
          .send(body);
      };
      const answers = await Promise.all(Array.from({ length: 10 }, forge));
      for (const a of answers) expect(a.status).toBe(400);
      for (let i = 0; i < 5; i++) expect((await forge()).status).toBe(400);
      const after = await fetches(t);
      expect((after.ok ?? 0) - (before.ok ?? 0)).toBe(1);
      expect(after.unavailable ?? 0).toBe(before.unavailable ?? 0);
    });
  });

  describe('migration: the WeChat Pay public key configured while WeChat still signs with certificates', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ ...CERT_MODE, WECHAT_SANDBOX_CERT_MODE: 'migration' });
    });
    afterAll(async () => t.close());

    it('verifies each answer with whichever it names: certificates fetched on the first serial, the key by its id', async () => {
      expect(await wechatHealth(t)).toMatchObject({ mode: 'public-key', state: 'ready' });
      expect(await fetches(t)).toEqual({});
      const o = await order(t);
      // The order's answer names a certificate serial: one fetch, then it verifies.
      const payment = (await pay(t, o.id).expect(201)).body as { outTradeNo: string };
      await t.http
        .post(`/sandbox/wechat/control/trades/${payment.outTradeNo}/pay`)
        .send({ notify: 'normal' })
        .expect(200);
      await eventually(async () => expect(await orderStatus(t, o.id)).toBe('PAID'));
      expect((await inbox(t, payment.outTradeNo)).map((n) => n.outcome)).toEqual(['processed']);
      expect(await fetches(t)).toEqual({ ok: 1 });

      // And a notification signed with the public key (PUB_KEY_ID_…) still verifies.
      const keys = JSON.parse(
        readFileSync(join(t.dataDir, 'sandbox', 'wechat-keys.json'), 'utf8'),
      ) as Record<string, string>;
      const second = await order(t, 700);
      const p2 = (await pay(t, second.id).expect(201)).body as { outTradeNo: string };
      const notification = signedByPublicKey(keys, {
        appid: keys.appId,
        mchid: keys.mchId,
        out_trade_no: p2.outTradeNo,
        transaction_id: `4200${Date.now()}`,
        trade_type: 'NATIVE',
        trade_state: 'SUCCESS',
        success_time: '2024-01-01T12:00:05+08:00',
        amount: { total: 700, payer_total: 700, currency: 'CNY', payer_currency: 'CNY' },
      });
      await t.http
        .post('/notify/wechat/v3')
        .set(notification.headers)
        .send(notification.body)
        .expect(204);
      expect(await orderStatus(t, second.id)).toBe('PAID');
      expect(await fetches(t)).toEqual({ ok: 1 });

      const health = await wechatHealth(t);
      expect(health.mode).toBe('migration');
      expect(health.serials).toEqual([
        expect.stringMatching(/^PUB_KEY_ID_/),
        await sandboxSerial(t),
      ]);
    });
  });
});
