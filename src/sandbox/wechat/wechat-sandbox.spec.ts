/**
 * The sandbox gateway over real HTTP, driven by a WeChat Pay v3 SDK nobody on
 * this project wrote (wechatpay-axios-plugin): it signs the requests and
 * verifies every 2xx answer's Wechatpay-* signature with the platform public
 * key under its PUB_KEY_ID; notifications are checked with its Rsa.verify and
 * decrypted with its Aes.AesGcm.
 */
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { isAxiosError, type AxiosResponse } from 'axios';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aes, Formatter, Rsa, Wechatpay } from 'wechatpay-axios-plugin';
import { useBodyParsers } from '../../common/http/body-parsers';
import { ensureWechatSandboxKeys, type WechatSandboxKeys } from '../sandbox-keys';
import type {
  SandboxNotificationResponse,
  SandboxTradeResponse,
} from './dto/wechat-sandbox-trade.response';
import { WechatSandboxModule } from './wechat-sandbox.module';
import { formatRfc3339Beijing } from './wechat-sandbox.time';

/** Whatever the control API answers: a trade, a notification, or an error. */
type ControlJson = Partial<SandboxTradeResponse & SandboxNotificationResponse> & {
  statusCode?: number;
  error?: string;
};
/** Wire JSON, read field by field by the assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const PUBLIC_BASE_URL = 'http://paygate.test';
// First retries after 15 ms, 15 ms, 30 ms, 180 ms; refunds settle after 10 ms.
const TIME_SCALE = 0.001;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/;

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Json;
  resource: Json;
  at: number;
}

/**
 * Stands in for paygate's /notify/wechat/v3: decrypts what it receives with the
 * SDK and the APIv3 key, and answers as scripted (204 unless told otherwise).
 */
class NotifyReceiver {
  readonly received: Delivery[] = [];
  base = '';
  apiV3Key = '';
  private readonly scripts = new Map<string, number[]>();
  private readonly server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const json = JSON.parse(raw) as Json;
      const r = json.resource as Json;
      const resource = JSON.parse(
        Aes.AesGcm.decrypt(r.ciphertext, this.apiV3Key, r.nonce, r.associated_data),
      ) as Json;
      this.received.push({
        path: req.url!,
        headers: req.headers,
        body: raw,
        json,
        resource,
        at: Date.now(),
      });
      const script = this.scripts.get(resource.out_trade_no as string);
      const status = script && script.length > 1 ? script.shift()! : (script?.[0] ?? 204);
      res.statusCode = status;
      res.end(status === 204 ? undefined : JSON.stringify({ code: 'FAIL', message: '失败' }));
    });
  });

  get url(): string {
    return `${this.base}/notify/wechat/v3`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** HTTP statuses for one trade's deliveries, in order; the last one repeats. */
  script(outTradeNo: string, ...statuses: number[]): void {
    this.scripts.set(outTradeNo, statuses);
  }

  for(outTradeNo: string): Delivery[] {
    return this.received.filter((d) => d.resource.out_trade_no === outTradeNo);
  }
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
const newOutTradeNo = () => `T${Date.now()}${String(++counter).padStart(4, '0')}`;

/** The SDK's error for a non-2xx answer, as status + parsed body. */
async function failure(promise: Promise<unknown>): Promise<{ status: number; data: Json }> {
  try {
    await promise;
  } catch (err) {
    if (isAxiosError(err) && err.response) {
      return { status: err.response.status, data: err.response.data as Json };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('WeChat Pay v3 sandbox (wechatpay-axios-plugin against real HTTP)', () => {
  let dataDir: string;
  let keys: WechatSandboxKeys;
  let app: NestExpressApplication;
  let base: string;
  let wxpay: Wechatpay;
  const receiver = new NotifyReceiver();

  const sdk = (privateKey = keys.merchantPrivateKeyPem, mchid = keys.mchId) =>
    new Wechatpay({
      mchid,
      serial: keys.merchantCertSerial,
      privateKey,
      certs: { [keys.platformPublicKeyId]: keys.platformPublicKeyPem },
      baseURL: `${base}/sandbox/wechat/`,
    });

  const boot = async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        WechatSandboxModule.register({
          dataDir,
          publicBaseUrl: `${PUBLIC_BASE_URL}/`,
          timeScale: TIME_SCALE,
        }),
      ],
    }).compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({
      logger: false,
      bodyParser: false,
    });
    // The app's own parsers: the JSON one keeps req.rawBody for the signature check.
    useBodyParsers(app, 1_000_000);
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    wxpay = sdk();
  };

  /** A browser/URL on the sandbox's public base, reached on the test port. */
  const local = (url: string) => url.replace(PUBLIC_BASE_URL, base);

  const orderBody = (outTradeNo: string, overrides: Json = {}): Json => ({
    appid: keys.appId,
    mchid: keys.mchId,
    description: '咖啡 Coffee',
    out_trade_no: outTradeNo,
    notify_url: receiver.url,
    amount: { total: 8880, currency: 'CNY' },
    ...overrides,
  });

  const native = async (overrides: Json = {}) => {
    const outTradeNo = newOutTradeNo();
    const res = await wxpay.v3.pay.transactions.native.post(orderBody(outTradeNo, overrides));
    expect(res.status).toBe(200);
    return outTradeNo;
  };

  const query = async (outTradeNo: string): Promise<Json> =>
    (
      await wxpay.v3.pay.transactions['out-trade-no']['{out_trade_no}'].get({
        params: { mchid: keys.mchId },
        out_trade_no: outTradeNo,
      } as never)
    ).data as Json;

  const refund = (body: Json) => wxpay.v3.refund.domestic.refunds.post(body);

  const refundQuery = async (outRefundNo: string): Promise<AxiosResponse<Json>> =>
    wxpay.v3.refund.domestic.refunds['{out_refund_no}'].get({
      out_refund_no: outRefundNo,
    } as never);

  const control = async (path: string, body?: unknown, method = 'POST') => {
    const res = await fetch(`${base}/sandbox/wechat/control/trades${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as ControlJson };
  };

  const paid = async (overrides: Json = {}) => {
    const outTradeNo = await native(overrides);
    expect((await control(`/${outTradeNo}/pay`, {})).status).toBe(200);
    await waitFor(() => receiver.for(outTradeNo).length === 1);
    return outTradeNo;
  };

  /**
   * A request signed with the SDK's own Formatter and Rsa, sent raw so the test
   * can change it after signing; the answer is checked with the SDK's Rsa.verify.
   */
  const raw = async (
    method: string,
    path: string,
    body: string | undefined,
    options: {
      sendBody?: string;
      timestamp?: number;
      privateKey?: string;
      serial?: string;
      mchid?: string;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const url = `/sandbox/wechat/${path}`;
    const timestamp = options.timestamp ?? Formatter.timestamp();
    const nonce = Formatter.nonce();
    const signature = Rsa.sign(
      Formatter.request(method, url, timestamp, nonce, body ?? ''),
      Rsa.from(options.privateKey ?? keys.merchantPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE),
    );
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        Authorization: Formatter.authorization(
          options.mchid ?? keys.mchId,
          nonce,
          signature,
          timestamp,
          options.serial ?? keys.merchantCertSerial,
        ),
        'content-type': 'application/json',
        accept: 'application/json',
        ...options.headers,
      },
      body: options.sendBody ?? body,
    });
    const text = await res.text();
    const h = (name: string) => res.headers.get(name);
    return {
      status: res.status,
      text,
      json: (text ? JSON.parse(text) : undefined) as Json,
      signed: h('wechatpay-signature') !== null,
      verifies: () =>
        h('wechatpay-serial') === keys.platformPublicKeyId &&
        Rsa.verify(
          Formatter.response(h('wechatpay-timestamp')!, h('wechatpay-nonce')!, text),
          h('wechatpay-signature')!,
          Rsa.from(keys.platformPublicKeyPem, Rsa.KEY_TYPE_PUBLIC),
        ),
      requestId: h('request-id'),
    };
  };

  /** What a receiver must check: the signature over TS\nNONCE\nBODY\n with the platform key. */
  const verifiesNotification = (d: Delivery) =>
    Rsa.verify(
      Formatter.response(
        d.headers['wechatpay-timestamp'] as string,
        d.headers['wechatpay-nonce'] as string,
        d.body,
      ),
      d.headers['wechatpay-signature'] as string,
      Rsa.from(keys.platformPublicKeyPem, Rsa.KEY_TYPE_PUBLIC),
    );

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'paygate-wechat-sandbox-'));
    // paygate's config reads the same file: the module must pick these keys up.
    keys = ensureWechatSandboxKeys(dataDir);
    receiver.apiV3Key = keys.apiV3Key;
    await receiver.start();
    await boot();
  });

  afterAll(async () => {
    await app?.close();
    await receiver.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('order placement and the request envelope', () => {
    it('accepts a native order signed by the SDK, answering a signed code_url that opens the cashier', async () => {
      const outTradeNo = newOutTradeNo();
      // The SDK's response verifier throws unless Wechatpay-Signature checks out.
      const res = await wxpay.v3.pay.transactions.native.post(orderBody(outTradeNo));
      expect(res.status).toBe(200);
      expect(res.data).toEqual({
        code_url: `${PUBLIC_BASE_URL}/sandbox/wechat/cashier/${outTradeNo}`,
      });
      expect(res.headers['wechatpay-serial']).toBe(keys.platformPublicKeyId);
      expect(res.headers['request-id']).toMatch(/^[0-9A-F]+$/);
      expect(res.headers['content-type']).toMatch(/^application\/json/);

      const page = await fetch(local(res.data.code_url as string));
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('咖啡 Coffee');
      expect(html).toContain('¥88.80');
    });

    it('answers jsapi and app with a prepay_id, and h5 with an h5_url', async () => {
      const jsapi = await wxpay.v3.pay.transactions.jsapi.post(
        orderBody(newOutTradeNo(), { payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } }),
      );
      expect(jsapi.data.prepay_id).toMatch(/^wx\d{34}$/);
      const appOrder = await wxpay.v3.pay.transactions.app.post(orderBody(newOutTradeNo()));
      expect(appOrder.data.prepay_id).toMatch(/^wx\d{34}$/);
      expect(appOrder.data.prepay_id).not.toBe(jsapi.data.prepay_id);
      const h5No = newOutTradeNo();
      const h5 = await wxpay.v3.pay.transactions.h5.post(
        orderBody(h5No, {
          scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'Wap' } },
        }),
      );
      expect(h5.data.h5_url).toMatch(
        new RegExp(`^${PUBLIC_BASE_URL}/sandbox/wechat/cashier/${h5No}\\?prepay_id=wx\\d{34}$`),
      );
      const view = await control(`/${h5No}`, undefined, 'GET');
      expect(view.json).toMatchObject({ product: 'h5', tradeState: 'NOTPAY', totalFen: 8880 });
    });

    it('checks the fields each product needs', async () => {
      const cases: Array<[string, Json, string]> = [
        ['jsapi', {}, '/payer'],
        ['jsapi', { payer: {} }, '/payer/openid'],
        ['h5', {}, '/scene_info'],
        ['h5', { scene_info: { payer_client_ip: '203.0.113.7' } }, '/scene_info/h5_info'],
        [
          'h5',
          { scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'Web' } } },
          '/scene_info/h5_info/type',
        ],
        [
          'h5',
          { scene_info: { payer_client_ip: 'localhost', h5_info: { type: 'iOS' } } },
          '/scene_info/payer_client_ip',
        ],
        ['native', { amount: { total: '8880' } }, '/amount/total'],
        ['native', { amount: { total: 0 } }, '/amount/total'],
        ['native', { amount: { total: 1.5 } }, '/amount/total'],
        ['native', { amount: { total: 1, currency: 'USD' } }, '/amount/currency'],
        ['native', { amount: undefined }, '/amount'],
        ['native', { description: undefined }, '/description'],
        ['native', { description: 'x'.repeat(128) }, '/description'],
        ['native', { out_trade_no: 'short' }, '/out_trade_no'],
        ['native', { out_trade_no: 'has space 123' }, '/out_trade_no'],
        ['native', { notify_url: undefined }, '/notify_url'],
        ['native', { notify_url: `${receiver.url}?a=1` }, '/notify_url'],
        ['native', { notify_url: 'ftp://example.com/notify' }, '/notify_url'],
        ['native', { time_expire: '2030-01-01T00:00:00Z' }, '/time_expire'],
        ['native', { time_expire: '2030-01-01T00:00:00.000+08:00' }, '/time_expire'],
        [
          'native',
          { time_expire: formatRfc3339Beijing(new Date(Date.now() - 60_000)) },
          '/time_expire',
        ],
      ];
      for (const [product, overrides, field] of cases) {
        const body = orderBody(newOutTradeNo(), overrides);
        const { status, data } = await failure(wxpay.v3.pay.transactions[product].post(body));
        expect([product, field, status, data.code]).toEqual([product, field, 400, 'PARAM_ERROR']);
        expect(data.detail).toMatchObject({ field, location: 'body' });
      }
    });

    it('refuses another app or merchant in the body, and signs these business errors', async () => {
      const wrongApp = await failure(
        wxpay.v3.pay.transactions.native.post(
          orderBody(newOutTradeNo(), { appid: 'wx0000000000000000' }),
        ),
      );
      expect(wrongApp).toMatchObject({ status: 400, data: { code: 'APPID_MCHID_NOT_MATCH' } });
      const wrongMch = await failure(
        wxpay.v3.pay.transactions.native.post(orderBody(newOutTradeNo(), { mchid: '1000000000' })),
      );
      expect(wrongMch).toMatchObject({ status: 400, data: { code: 'MCH_NOT_EXISTS' } });

      const body = JSON.stringify(orderBody(newOutTradeNo(), { appid: 'wx0000000000000000' }));
      const res = await raw('POST', 'v3/pay/transactions/native', body);
      expect(res.status).toBe(400);
      expect(res.signed).toBe(true);
      expect(res.verifies()).toBe(true);
    });

    it('answers the same out_trade_no again alike, and refuses it with other content', async () => {
      const outTradeNo = newOutTradeNo();
      const body = orderBody(outTradeNo, { payer: { openid: 'o1234567890123456789012345678' } });
      const first = await wxpay.v3.pay.transactions.jsapi.post(body);
      const again = await wxpay.v3.pay.transactions.jsapi.post(body);
      expect(again.data).toEqual(first.data);
      const changed = await failure(
        wxpay.v3.pay.transactions.jsapi.post({ ...body, amount: { total: 8881 } }),
      );
      expect(changed).toMatchObject({ status: 403, data: { code: 'OUT_TRADE_NO_USED' } });
      const otherProduct = await failure(wxpay.v3.pay.transactions.native.post(body));
      expect(otherProduct).toMatchObject({ status: 403, data: { code: 'OUT_TRADE_NO_USED' } });

      await control(`/${outTradeNo}/mark-paid`);
      const afterPay = await failure(wxpay.v3.pay.transactions.jsapi.post(body));
      expect(afterPay).toMatchObject({ status: 400, data: { code: 'ORDERPAID' } });
    });

    it('answers 404 with an empty body for a product it does not know, before any signature check', async () => {
      const res = await fetch(`${base}/sandbox/wechat/v3/pay/transactions/micropay`, {
        method: 'POST',
      });
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('');
    });
  });

  describe('authentication (401 SIGN_ERROR, unsigned)', () => {
    it('rejects a request the SDK signed with another key', async () => {
      const stranger = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      const outTradeNo = newOutTradeNo();
      const res = await failure(
        sdk(stranger.privateKey).v3.pay.transactions.native.post(orderBody(outTradeNo)),
      );
      expect(res.status).toBe(401);
      expect(res.data).toMatchObject({ code: 'SIGN_ERROR', message: '错误的签名，验签失败' });
      expect(res.data.detail).toMatchObject({
        field: 'signature',
        location: 'authorization',
        sign_information: { method: 'POST', url: '/sandbox/wechat/v3/pay/transactions/native' },
      });
      // Nothing was created.
      expect((await control(`/${outTradeNo}`, undefined, 'GET')).status).toBe(404);
    });

    it('rejects a body or query changed after signing, a stale timestamp, another serial or mchid, and no header', async () => {
      const outTradeNo = newOutTradeNo();
      const body = JSON.stringify(orderBody(outTradeNo, { amount: { total: 100 } }));
      const attempts = [
        raw('POST', 'v3/pay/transactions/native', body, {
          sendBody: body.replace('"total":100', '"total":1'),
        }),
        raw('POST', 'v3/pay/transactions/native', body, {
          timestamp: Formatter.timestamp() - 301,
        }),
        raw('POST', 'v3/pay/transactions/native', body, { serial: 'ABCDEF0123456789' }),
        raw('POST', 'v3/pay/transactions/native', body, { mchid: '1900000001' }),
        raw('POST', 'v3/pay/transactions/native', body, {
          headers: { Authorization: 'Bearer x' },
        }),
      ];
      const results = await Promise.all(attempts);
      for (const res of results) {
        expect(res.status).toBe(401);
        expect(res.json.code).toBe('SIGN_ERROR');
        expect(res.signed).toBe(false);
      }
      expect(results[1].json.message).toContain('5分钟');
      expect(results[2].json.message).toContain('商户证书序列号有误');
      expect(results[4].json.message).toContain('Authorization值格式错误');

      const paidNo = await native();
      const get = await raw(
        'GET',
        `v3/pay/transactions/out-trade-no/${paidNo}?mchid=${keys.mchId}`,
        undefined,
      );
      expect(get.status).toBe(200);
      expect(get.verifies()).toBe(true);
      // The canonical URL is the path and query exactly as sent.
      const url = `/sandbox/wechat/v3/pay/transactions/out-trade-no/${paidNo}?mchid=${keys.mchId}`;
      const ts = Formatter.timestamp();
      const nonce = Formatter.nonce();
      const signature = Rsa.sign(
        Formatter.request('GET', url.split('?')[0], ts, nonce, ''),
        Rsa.from(keys.merchantPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE),
      );
      const noQuery = await fetch(`${base}${url}`, {
        headers: {
          Authorization: Formatter.authorization(
            keys.mchId,
            nonce,
            signature,
            ts,
            keys.merchantCertSerial,
          ),
        },
      });
      expect(noQuery.status).toBe(401);
    });
  });

  describe('query, close and expiry', () => {
    it('queries an unknown trade as 404 ORDER_NOT_EXIST and a new one as NOTPAY without payment fields', async () => {
      expect(await failure(query('NOPE000000'))).toMatchObject({
        status: 404,
        data: { code: 'ORDER_NOT_EXIST' },
      });
      const outTradeNo = await native({ attach: 'shop=1' });
      const data = await query(outTradeNo);
      expect(data).toMatchObject({
        appid: keys.appId,
        mchid: keys.mchId,
        out_trade_no: outTradeNo,
        trade_state: 'NOTPAY',
        trade_state_desc: expect.any(String),
        attach: 'shop=1',
        amount: { total: 8880, currency: 'CNY' },
      });
      for (const key of ['transaction_id', 'success_time', 'payer', 'trade_type']) {
        expect(data).not.toHaveProperty(key);
      }
      const missing = await raw('GET', `v3/pay/transactions/out-trade-no/${outTradeNo}`, undefined);
      expect(missing).toMatchObject({ status: 400, json: { code: 'PARAM_ERROR' } });
      expect(missing.verifies()).toBe(true);
    });

    it('closes with 204 (signed over an empty body), reentrantly; a paid trade cannot be closed', async () => {
      const outTradeNo = await native();
      const close = () =>
        wxpay.v3.pay.transactions['out-trade-no']['{out_trade_no}'].close.post(
          { mchid: keys.mchId },
          { out_trade_no: outTradeNo } as never,
        );
      const closed = await close();
      expect(closed.status).toBe(204);
      expect(closed.data).toBe('');
      expect((await query(outTradeNo)).trade_state).toBe('CLOSED');
      expect((await close()).status).toBe(204);
      expect((await control(`/${outTradeNo}/pay`, {})).status).toBe(409);
      expect((await control(`/${outTradeNo}`, undefined, 'GET')).json.closeCalls).toBe(2);
      expect(
        await failure(
          wxpay.v3.pay.transactions['out-trade-no']['{out_trade_no}'].close.post(
            { mchid: keys.mchId },
            { out_trade_no: 'NOPE000000' } as never,
          ),
        ),
      ).toMatchObject({ status: 404, data: { code: 'ORDER_NOT_EXIST' } });

      const paidNo = await paid();
      expect(
        await failure(
          wxpay.v3.pay.transactions['out-trade-no']['{out_trade_no}'].close.post(
            { mchid: keys.mchId },
            { out_trade_no: paidNo } as never,
          ),
        ),
      ).toMatchObject({ status: 400, data: { code: 'ORDERPAID' } });
    });

    it('closes a NOTPAY trade at its time_expire', async () => {
      const expireAt = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000);
      const outTradeNo = await native({ time_expire: formatRfc3339Beijing(expireAt) });
      expect((await query(outTradeNo)).trade_state).toBe('NOTPAY');
      const until = Date.now() + 10_000;
      let view: ControlJson = {};
      while (view.tradeState !== 'CLOSED' && Date.now() < until) {
        await sleep(100);
        view = (await control(`/${outTradeNo}`, undefined, 'GET')).json;
      }
      expect(view.closedAt).toBe(expireAt.toISOString());
      expect((await query(outTradeNo)).trade_state).toBe('CLOSED');
      // v3 notifies no close.
      expect(receiver.for(outTradeNo)).toHaveLength(0);
    });
  });

  describe('payment notifications', () => {
    it('delivers TRANSACTION.SUCCESS, signed and encrypted as the SDK expects; the query agrees', async () => {
      const outTradeNo = await native({ attach: 'a=1' });
      const payView = await control(`/${outTradeNo}/pay`, {});
      expect(payView.json).toMatchObject({ tradeState: 'SUCCESS' });
      await waitFor(() => receiver.for(outTradeNo).length === 1);
      const [d] = receiver.for(outTradeNo);

      expect(d.path).toBe('/notify/wechat/v3');
      expect(d.headers['content-type']).toMatch(/^application\/json/);
      expect(d.headers['wechatpay-serial']).toBe(keys.platformPublicKeyId);
      expect(d.headers['wechatpay-signature-type']).toBe('WECHATPAY2-SHA256-RSA2048');
      expect(d.headers['request-id']).toEqual(expect.any(String));
      expect(Math.abs(Number(d.headers['wechatpay-timestamp']) - Date.now() / 1000)).toBeLessThan(
        10,
      );
      expect(verifiesNotification(d)).toBe(true);

      expect(d.json).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        create_time: expect.stringMatching(RFC3339),
        resource_type: 'encrypt-resource',
        event_type: 'TRANSACTION.SUCCESS',
        summary: '支付成功',
        resource: {
          original_type: 'transaction',
          algorithm: 'AEAD_AES_256_GCM',
          associated_data: 'transaction',
          nonce: expect.stringMatching(/^[0-9A-Za-z]{12}$/),
        },
      });
      expect(d.resource).toMatchObject({
        appid: keys.appId,
        mchid: keys.mchId,
        out_trade_no: outTradeNo,
        transaction_id: expect.stringMatching(/^\d{28}$/),
        trade_type: 'NATIVE',
        trade_state: 'SUCCESS',
        bank_type: expect.any(String),
        attach: 'a=1',
        success_time: expect.stringMatching(RFC3339),
        payer: { openid: expect.stringMatching(/^o[0-9A-Za-z]{27}$/) },
        amount: { total: 8880, payer_total: 8880, currency: 'CNY', payer_currency: 'CNY' },
      });

      const q = await query(outTradeNo);
      expect(q).toMatchObject({
        trade_state: 'SUCCESS',
        transaction_id: d.resource.transaction_id,
        success_time: d.resource.success_time,
        payer: d.resource.payer,
        amount: d.resource.amount,
      });
      const byId = await wxpay.v3.pay.transactions.id['{transaction_id}'].get({
        params: { mchid: keys.mchId },
        transaction_id: d.resource.transaction_id,
      } as never);
      expect(byId.data.out_trade_no).toBe(outTradeNo);

      const view = await control(`/${outTradeNo}`, undefined, 'GET');
      expect(view.json.notifications).toHaveLength(1);
      expect(view.json.notifications![0]).toMatchObject({
        id: d.json.id,
        acknowledged: true,
        attempts: [{ httpStatus: 204, acknowledged: true }],
      });
    });

    it('retries on WeChat’s schedule until a 200 or 204, each try freshly signed, same id', async () => {
      const outTradeNo = await native();
      receiver.script(outTradeNo, 500, 202, 200);
      await control(`/${outTradeNo}/pay`, {});
      await waitFor(() => receiver.for(outTradeNo).length === 3);
      const deliveries = receiver.for(outTradeNo);
      expect(new Set(deliveries.map((d) => d.json.id)).size).toBe(1);
      expect(new Set(deliveries.map((d) => d.headers['wechatpay-nonce'])).size).toBe(3);
      for (const d of deliveries) expect(verifiesNotification(d)).toBe(true);
      // 15 ms then 15 ms (×0.001): the tries are apart.
      expect(deliveries[1].at - deliveries[0].at).toBeGreaterThanOrEqual(10);
      await sleep(300); // past the next retries: nothing more comes
      expect(receiver.for(outTradeNo)).toHaveLength(3);
      const { json } = await control(`/${outTradeNo}`, undefined, 'GET');
      expect(json.notifications![0].attempts.map((a) => [a.httpStatus, a.acknowledged])).toEqual([
        [500, false],
        [202, false],
        [200, true],
      ]);
    });

    it('duplicate sends the same notification twice at once; drop and mark-paid send nothing; delay waits', async () => {
      const dup = await native();
      await control(`/${dup}/pay`, { notify: 'duplicate' });
      await waitFor(() => receiver.for(dup).length === 2);
      const [a, b] = receiver.for(dup);
      expect(a.body).toBe(b.body);

      const dropped = await native();
      const silent = await native();
      expect((await control(`/${dropped}/pay`, { notify: 'drop' })).status).toBe(200);
      expect((await control(`/${silent}/mark-paid`)).json.tradeState).toBe('SUCCESS');

      const delayed = await native();
      const before = Date.now();
      await control(`/${delayed}/pay`, { notify: 'delay', delayMs: 400 });
      await sleep(200);
      expect(receiver.for(delayed)).toHaveLength(0);
      expect(receiver.for(dropped)).toHaveLength(0);
      expect(receiver.for(silent)).toHaveLength(0);
      expect((await query(silent)).trade_state).toBe('SUCCESS');
      await waitFor(() => receiver.for(delayed).length === 1);
      expect(receiver.for(delayed)[0].at - before).toBeGreaterThanOrEqual(390);
    });

    it('re-sends the payment notification, and tampered variants once each without retries', async () => {
      const outTradeNo = await paid();
      receiver.script(outTradeNo, 500);
      const plain = await control(`/${outTradeNo}/notify`, {});
      expect(plain.status).toBe(200);
      for (const tamper of ['signature', 'amount', 'mchid']) {
        expect((await control(`/${outTradeNo}/notify`, { tamper })).json.tamper).toBe(tamper);
      }
      await waitFor(() => receiver.for(outTradeNo).length >= 5);
      await sleep(100); // the untampered re-send retries after 15 ms; the tampered ones never
      const [first, ...rest] = receiver.for(outTradeNo);
      const byId = (id: string) => rest.filter((d) => d.json.id === id);
      const resent = byId(plain.json.id!);
      expect(resent.length).toBeGreaterThanOrEqual(2);
      expect(resent[0].json.id).not.toBe(first.json.id);
      expect(verifiesNotification(resent[0])).toBe(true);

      const tampered = rest.filter((d) => d.json.id !== plain.json.id);
      expect(tampered).toHaveLength(3);
      const [badSignature, badAmount, badMch] = tampered;
      expect(verifiesNotification(badSignature)).toBe(false);
      expect(verifiesNotification(badAmount)).toBe(true);
      expect(badAmount.resource.amount.total).toBe(8881);
      expect(verifiesNotification(badMch)).toBe(true);
      expect(badMch.resource.mchid).not.toBe(keys.mchId);
      expect(badMch.resource.mchid).toMatch(/^\d{10}$/);
    });

    it('records a refused connection as an attempt with its error', async () => {
      const outTradeNo = await native({ notify_url: 'http://127.0.0.1:9/notify/wechat/v3' });
      await control(`/${outTradeNo}/pay`, {});
      let view: ControlJson = {};
      const until = Date.now() + 3000;
      while (!view.notifications?.[0]?.attempts.length && Date.now() < until) {
        await sleep(20);
        view = (await control(`/${outTradeNo}`, undefined, 'GET')).json;
      }
      expect(view.notifications![0].attempts[0]).toMatchObject({
        httpStatus: null,
        acknowledged: false,
        error: expect.any(String),
      });
    });
  });

  describe('refunds', () => {
    it('accepts a refund as PROCESSING, finishes it SUCCESS, notifies the refund’s notify_url, and answers repeats alike', async () => {
      const outTradeNo = await paid();
      const refundUrl = `${receiver.base}/notify/wechat/v3/refund`;
      const body = {
        out_trade_no: outTradeNo,
        out_refund_no: `R${outTradeNo}`,
        reason: 'too sweet',
        notify_url: refundUrl,
        amount: { refund: 1000, total: 8880, currency: 'CNY' },
      };
      const first = await refund(body);
      expect(first.data).toMatchObject({
        refund_id: expect.stringMatching(/^\d{29}$/),
        out_refund_no: body.out_refund_no,
        out_trade_no: outTradeNo,
        transaction_id: expect.stringMatching(/^\d{28}$/),
        status: 'PROCESSING',
        create_time: expect.stringMatching(RFC3339),
        amount: { total: 8880, refund: 1000, currency: 'CNY' },
      });
      expect(first.data).not.toHaveProperty('success_time');
      expect((await query(outTradeNo)).trade_state).toBe('REFUND');

      const again = await refund(body);
      expect(again.data.refund_id).toBe(first.data.refund_id);
      expect(
        await failure(refund({ ...body, amount: { refund: 1001, total: 8880, currency: 'CNY' } })),
      ).toMatchObject({ status: 400, data: { code: 'INVALID_REQUEST' } });

      await waitFor(() => receiver.received.some((d) => d.path === '/notify/wechat/v3/refund'));
      const note = receiver.received.find((d) => d.path === '/notify/wechat/v3/refund')!;
      expect(verifiesNotification(note)).toBe(true);
      expect(note.json).toMatchObject({
        event_type: 'REFUND.SUCCESS',
        summary: '退款成功',
        resource: { original_type: 'refund', associated_data: 'refund' },
      });
      expect(note.resource).toMatchObject({
        mchid: keys.mchId,
        out_trade_no: outTradeNo,
        out_refund_no: body.out_refund_no,
        refund_id: first.data.refund_id,
        refund_status: 'SUCCESS',
        success_time: expect.stringMatching(RFC3339),
        amount: { total: 8880, refund: 1000, payer_total: 8880, payer_refund: 1000 },
      });

      const queried = await refundQuery(body.out_refund_no);
      expect(queried.data).toMatchObject({
        status: 'SUCCESS',
        refund_id: first.data.refund_id,
        success_time: note.resource.success_time,
      });
      expect(await failure(refundQuery('NOPE'))).toMatchObject({
        status: 404,
        data: { code: 'RESOURCE_NOT_EXISTS' },
      });
    });

    it('refuses more than remains, a wrong total, and unknown or unpaid trades; a refund without notify_url notifies the trade’s', async () => {
      const outTradeNo = await paid();
      const amount = (refundFen: number, total = 8880) => ({
        refund: refundFen,
        total,
        currency: 'CNY',
      });
      await refund({
        out_trade_no: outTradeNo,
        out_refund_no: `A${outTradeNo}`,
        amount: amount(8000),
      });
      expect(
        await failure(
          refund({
            out_trade_no: outTradeNo,
            out_refund_no: `B${outTradeNo}`,
            amount: amount(881),
          }),
        ),
      ).toMatchObject({ status: 400, data: { code: 'INVALID_REQUEST' } });
      expect(
        await failure(
          refund({
            out_trade_no: outTradeNo,
            out_refund_no: `C${outTradeNo}`,
            amount: amount(10, 8881),
          }),
        ),
      ).toMatchObject({ status: 400, data: { code: 'INVALID_REQUEST' } });
      expect(
        await failure(
          refund({
            out_trade_no: outTradeNo,
            out_refund_no: `D${outTradeNo}`,
            amount: { refund: 10, total: 8880 },
          }),
        ),
      ).toMatchObject({ status: 400, data: { code: 'PARAM_ERROR' } });
      const rest = await refund({
        out_trade_no: outTradeNo,
        out_refund_no: `E${outTradeNo}`,
        amount: amount(880),
      });
      expect(rest.data.status).toBe('PROCESSING');

      const unpaid = await native();
      for (const no of [unpaid, 'NOPE000000']) {
        expect(
          await failure(refund({ out_trade_no: no, out_refund_no: `F${no}`, amount: amount(1) })),
        ).toMatchObject({ status: 404, data: { code: 'RESOURCE_NOT_EXISTS' } });
      }
      await waitFor(
        () =>
          receiver
            .for(outTradeNo)
            .filter((d) => d.json.event_type === 'REFUND.SUCCESS' && d.path === '/notify/wechat/v3')
            .length === 2,
      );
    });

    it('needs User-Agent and Accept, as WeChat’s refund API does', async () => {
      const res = await raw('GET', 'v3/refund/domestic/refunds/NOPE', undefined, {
        headers: { 'user-agent': '', accept: '' },
      });
      expect(res).toMatchObject({ status: 400, json: { code: 'INVALID_REQUEST' }, signed: false });
    });

    it('next-refund: fail ends CLOSED (amount freed) or ABNORMAL; not_enough and system_error refuse; delay answers late', async () => {
      const outTradeNo = await paid();
      const amount = { refund: 8880, total: 8880, currency: 'CNY' };
      expect((await control(`/${outTradeNo}/next-refund`, { outcome: 'fail' })).status).toBe(200);
      const failed = await refund({
        out_trade_no: outTradeNo,
        out_refund_no: `X${outTradeNo}`,
        amount,
      });
      expect(failed.data.status).toBe('PROCESSING');
      await waitFor(() =>
        receiver.for(outTradeNo).some((d) => d.json.event_type === 'REFUND.CLOSED'),
      );
      const closedNote = receiver
        .for(outTradeNo)
        .find((d) => d.json.event_type === 'REFUND.CLOSED')!;
      expect(verifiesNotification(closedNote)).toBe(true);
      expect(closedNote.resource).toMatchObject({ refund_status: 'CLOSED' });
      expect(closedNote.resource).not.toHaveProperty('success_time');
      expect((await refundQuery(`X${outTradeNo}`)).data.status).toBe('CLOSED');
      expect((await query(outTradeNo)).trade_state).toBe('SUCCESS');

      await control(`/${outTradeNo}/next-refund`, { outcome: 'not_enough' });
      expect(
        await failure(
          refund({ out_trade_no: outTradeNo, out_refund_no: `Y${outTradeNo}`, amount }),
        ),
      ).toMatchObject({ status: 403, data: { code: 'NOT_ENOUGH' } });
      await control(`/${outTradeNo}/next-refund`, { outcome: 'system_error' });
      expect(
        await failure(
          refund({ out_trade_no: outTradeNo, out_refund_no: `Y${outTradeNo}`, amount }),
        ),
      ).toMatchObject({ status: 500, data: { code: 'SYSTEM_ERROR' } });
      await expect(refundQuery(`Y${outTradeNo}`)).rejects.toThrow();

      await control(`/${outTradeNo}/next-refund`, { outcome: 'fail', endsAs: 'ABNORMAL' });
      await refund({
        out_trade_no: outTradeNo,
        out_refund_no: `Z${outTradeNo}`,
        amount: { ...amount, refund: 100 },
      });
      await waitFor(() =>
        receiver.for(outTradeNo).some((d) => d.json.event_type === 'REFUND.ABNORMAL'),
      );

      await control(`/${outTradeNo}/next-refund`, { outcome: 'delay', delayMs: 600 });
      const before = Date.now();
      const late = await refund({
        out_trade_no: outTradeNo,
        out_refund_no: `L${outTradeNo}`,
        amount: { ...amount, refund: 100 },
      });
      expect(Date.now() - before).toBeGreaterThanOrEqual(590);
      // Still verifies: the answer is signed when it is finally sent.
      expect(late.data.out_refund_no).toBe(`L${outTradeNo}`);

      for (const body of [
        { outcome: 'sometimes' },
        { outcome: 'fail', endsAs: 'SUCCESS' },
        { outcome: 'delay', delayMs: -1 },
      ]) {
        expect((await control(`/${outTradeNo}/next-refund`, body)).status).toBe(400);
      }
    });
  });

  describe('cashier and client payment', () => {
    it('pays from the cashier page, and an H5 payment returns to redirect_url', async () => {
      const outTradeNo = await native({ description: '<b>Cake</b>' });
      const page = await fetch(`${base}/sandbox/wechat/cashier/${outTradeNo}`);
      const html = await page.text();
      expect(html).toContain('&lt;b&gt;Cake&lt;/b&gt;');
      expect(html).toContain(`action="/sandbox/wechat/cashier/${outTradeNo}/pay"`);
      const pay = await fetch(`${base}/sandbox/wechat/cashier/${outTradeNo}/pay`, {
        method: 'POST',
      });
      expect(pay.status).toBe(200);
      await waitFor(() => receiver.for(outTradeNo).length === 1);
      expect(
        (await fetch(`${base}/sandbox/wechat/cashier/${outTradeNo}/pay`, { method: 'POST' }))
          .status,
      ).toBe(409);

      const h5No = newOutTradeNo();
      const h5 = await wxpay.v3.pay.transactions.h5.post(
        orderBody(h5No, { scene_info: { payer_client_ip: '::1', h5_info: { type: 'iOS' } } }),
      );
      const back = 'https://shop.example/return?order=1';
      const h5Page = await fetch(
        local(`${h5.data.h5_url as string}&redirect_url=${encodeURIComponent(back)}`),
      );
      expect(await h5Page.text()).toContain(
        `/pay?redirect_url=${encodeURIComponent(back).replace(/&/g, '&amp;')}`,
      );
      const done = await fetch(
        `${base}/sandbox/wechat/cashier/${h5No}/pay?redirect_url=${encodeURIComponent(back)}`,
        { method: 'POST', redirect: 'manual' },
      );
      expect(done.status).toBe(302);
      expect(done.headers.get('location')).toBe(back);
      expect((await fetch(`${base}/sandbox/wechat/cashier/NOPE`)).status).toBe(404);
    });

    it('opens JSAPI and APP payment parameters signed with the merchant key, and refuses forged ones', async () => {
      const merchantKey = Rsa.from(keys.merchantPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE);
      const jsapiNo = newOutTradeNo();
      const { data } = await wxpay.v3.pay.transactions.jsapi.post(
        orderBody(jsapiNo, { payer: { openid: 'o1234567890123456789012345678' } }),
      );
      const timeStamp = String(Formatter.timestamp());
      const nonceStr = Formatter.nonce();
      const pkg = `prepay_id=${data.prepay_id as string}`;
      const params = {
        appId: keys.appId,
        timeStamp,
        nonceStr,
        package: pkg,
        signType: 'RSA',
        paySign: Rsa.sign(
          Formatter.joinedByLineFeed(keys.appId, timeStamp, nonceStr, pkg),
          merchantKey,
        ),
      };
      const open = (path: string, body: unknown) =>
        fetch(`${base}/sandbox/wechat/client-pay/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const opened = await open('jsapi', params);
      expect(opened.status).toBe(200);
      expect(await opened.json()).toEqual({
        outTradeNo: jsapiNo,
        cashierUrl: `${PUBLIC_BASE_URL}/sandbox/wechat/cashier/${jsapiNo}`,
      });
      const forged = await open('jsapi', { ...params, nonceStr: 'A'.repeat(32) });
      expect(forged.status).toBe(400);
      expect(await forged.json()).toMatchObject({ code: 'INVALID_REQUEST' });

      const appNo = newOutTradeNo();
      const appOrder = await wxpay.v3.pay.transactions.app.post(orderBody(appNo));
      const prepayid = appOrder.data.prepay_id as string;
      const appParams = {
        appid: keys.appId,
        partnerid: keys.mchId,
        prepayid,
        package: 'Sign=WXPay',
        noncestr: nonceStr,
        timestamp: timeStamp,
        sign: Rsa.sign(
          Formatter.joinedByLineFeed(keys.appId, timeStamp, nonceStr, prepayid),
          merchantKey,
        ),
      };
      expect((await open('app', appParams)).status).toBe(200);
      // A JSAPI prepay_id is not an APP one.
      expect((await open('app', { ...appParams, prepayid: data.prepay_id })).status).toBe(400);
    });
  });

  describe('control API', () => {
    it('answers 404 for an unknown trade, 400 for invalid bodies and 409 when the state forbids it', async () => {
      const missing = await control('/NOPE', undefined, 'GET');
      expect(missing).toMatchObject({ status: 404, json: { statusCode: 404, error: 'Not Found' } });
      expect((await control('/NOPE/pay', {})).status).toBe(404);

      const outTradeNo = await native();
      for (const body of [
        { notify: 'sometimes' },
        { delayMs: -1 },
        { delayMs: 1.5 },
        { extra: 1 },
      ]) {
        expect((await control(`/${outTradeNo}/pay`, body)).status).toBe(400);
      }
      expect((await control(`/${outTradeNo}/notify`, { tamper: 'everything' })).status).toBe(400);
      expect((await control(`/${outTradeNo}/notify`, {})).status).toBe(409);

      expect((await control(`/${outTradeNo}/pay`, { notify: 'drop' })).status).toBe(200);
      expect(await control(`/${outTradeNo}/pay`, {})).toMatchObject({
        status: 409,
        json: { statusCode: 409, error: 'Conflict' },
      });
      expect((await control(`/${outTradeNo}/fail`)).status).toBe(409);
      expect((await control(`/${outTradeNo}/notify`, { outRefundNo: 'NOPE' })).status).toBe(409);
    });

    it('fail closes the unpaid trade; force pays it late; the list shows trades newest first', async () => {
      const older = await native();
      const outTradeNo = await native();
      expect((await control(`/${outTradeNo}/fail`)).json.tradeState).toBe('CLOSED');
      expect((await query(outTradeNo)).trade_state).toBe('CLOSED');
      expect((await control(`/${outTradeNo}/pay`, {})).status).toBe(409);
      expect((await control(`/${outTradeNo}/pay`, { force: true })).json.tradeState).toBe(
        'SUCCESS',
      );
      await waitFor(() => receiver.for(outTradeNo).length === 1);

      const list = await fetch(`${base}/sandbox/wechat/control/trades`);
      const order = ((await list.json()) as Array<{ outTradeNo: string }>).map((t) => t.outTradeNo);
      expect(order.indexOf(outTradeNo)).toBeLessThan(order.indexOf(older));
    });
  });

  // Last: it replaces the app.
  describe('restart', () => {
    it('keeps trades and refunds, and resumes an unacknowledged notification with the same id', async () => {
      const refunded = await paid();
      await refund({
        out_trade_no: refunded,
        out_refund_no: `K${refunded}`,
        amount: { refund: 80, total: 8880, currency: 'CNY' },
      });
      await waitFor(() =>
        receiver.for(refunded).some((d) => d.json.event_type === 'REFUND.SUCCESS'),
      );
      const pending = await native();
      receiver.script(pending, 500);
      await control(`/${pending}/pay`, {});
      await waitFor(() => receiver.for(pending).length >= 2);
      const id = receiver.for(pending)[0].json.id as string;

      await app.close();
      receiver.script(pending, 204);
      const seen = receiver.for(pending).length;
      await boot();

      expect((await query(refunded)).trade_state).toBe('REFUND');
      expect((await refundQuery(`K${refunded}`)).data.status).toBe('SUCCESS');
      await waitFor(() => receiver.for(pending).length > seen);
      const resumed = receiver.for(pending).slice(seen);
      expect(resumed.every((d) => d.json.id === id)).toBe(true);
      expect(verifiesNotification(resumed[0])).toBe(true);
      const until = Date.now() + 3000;
      let view: ControlJson = {};
      while (!view.notifications?.[0]?.acknowledged && Date.now() < until) {
        await sleep(20);
        view = (await control(`/${pending}`, undefined, 'GET')).json;
      }
      expect(view.notifications![0].acknowledged).toBe(true);
      expect((await query(pending)).trade_state).toBe('SUCCESS');
    });
  });
});
