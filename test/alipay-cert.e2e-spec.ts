/**
 * Alipay public-key-certificate mode end to end: paygate on the sandbox with
 * ALIPAY_SANDBOX_CERT_MODE, which issues the three certificate files, checks
 * app_cert_sn / alipay_root_cert_sn on every request and names alipay_cert_sn
 * in its answers. Boot errors of certificate mode are pinned in
 * src/config/alipay.config.spec.ts against the loader boot runs.
 */
import { createPrivateKey, createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  sandboxPay,
} from './support/alipay-sandbox';
import { TestApp, startApp } from './support/test-app';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getSN } = require(
  join(dirname(require.resolve('alipay-sdk/package.json')), 'dist/commonjs/antcertutil.js'),
) as { getSN(pem: string, isRoot?: boolean): string };

const FAST = { SANDBOX_TIME_SCALE: '0.0005' };

const events = (t: TestApp, orderId: string) =>
  t.dataSource.query('SELECT type FROM webhook_events WHERE order_id = ? ORDER BY created_at', [
    orderId,
  ]) as Promise<{ type: string }[]>;

describe('Alipay certificate mode over the sandbox (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...FAST, ALIPAY_SANDBOX_CERT_MODE: 'true' });
  });
  afterAll(async () => t.close());

  const certDir = () => join(t.dataDir, 'sandbox', 'alipay-certs');
  const keys = () =>
    JSON.parse(readFileSync(join(t.dataDir, 'sandbox', 'alipay-keys.json'), 'utf8')) as {
      appId: string;
      appPrivateKeyPem: string;
    };

  it('the issued files give, by alipay-sdk, the SNs the sandbox expects', () => {
    const sns = JSON.parse(readFileSync(join(certDir(), 'sns.json'), 'utf8'));
    const read = (name: string) => readFileSync(join(certDir(), name), 'utf8');
    expect(sns).toEqual({
      appCertSn: getSN(read(`appCertPublicKey_${keys().appId}.crt`)),
      rootCertSn: getSN(read('alipayRootCert.crt'), true),
      alipayCertSn: getSN(read('alipayCertPublicKey_RSA2.crt')),
    });
    // The bundle holds an EC root too; only the RSA one counts.
    expect(read('alipayRootCert.crt').match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(sns.rootCertSn).toMatch(/^[0-9a-f]{32}$/);
  });

  it('qr: precreate, the buyer pays, the notification makes the order PAID', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    expect(payment.action.type).toBe('qr');
    await sandboxPay(t, payment.outTradeNo).expect(200);
    await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    expect((await events(t, order.id)).map((e) => e.type)).toEqual(['order.paid']);
  });

  it('page: the browser link carries both SNs and the sandbox accepts it', async () => {
    const sns = JSON.parse(readFileSync(join(certDir(), 'sns.json'), 'utf8'));
    const { payment } = await orderWithAlipayAttempt(t, 'page');
    const url = new URL(payment.action.url);
    expect(url.searchParams.get('app_cert_sn')).toBe(sns.appCertSn);
    expect(url.searchParams.get('alipay_root_cert_sn')).toBe(sns.rootCertSn);
    const landing = await t.http.get(`${url.pathname}${url.search}`).expect(302);
    expect(landing.headers.location).toContain(`/sandbox/alipay/cashier/${payment.outTradeNo}`);
  });

  it('the sandbox refuses a request without app_cert_sn', async () => {
    const { appId, appPrivateKeyPem } = keys();
    const params: Record<string, string> = {
      app_id: appId,
      method: 'alipay.trade.query',
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: '2024-01-01 12:00:00',
      version: '1.0',
      biz_content: JSON.stringify({ out_trade_no: 'X1' }),
    };
    const content = Object.keys(params)
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join('&');
    params.sign = createSign('RSA-SHA256')
      .update(content, 'utf8')
      .sign(createPrivateKey(appPrivateKeyPem), 'base64');
    const res = await t.http
      .post('/sandbox/alipay/gateway.do')
      .type('form')
      .send(new URLSearchParams(params).toString())
      .expect(200);
    expect(JSON.parse(res.text).error_response).toMatchObject({
      code: '40001',
      sub_code: 'isv.missing-app-cert-sn',
    });
  });

  it('an answer naming another alipay_cert_sn is not trusted: the close is not applied', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    await t.http
      .post(`/sandbox/alipay/control/trades/${payment.outTradeNo}/next-answer-cert-sn`)
      .send({ alipayCertSn: '0123456789abcdef0123456789abcdef' })
      .expect(200);
    const res = await t.http.post(`/api/orders/${order.id}/close`).set(t.merchant);
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(await orderStatus(t, order.id)).toBe('PENDING');
    expect(await events(t, order.id)).toEqual([]);
  });
});
