/**
 * The sandbox gateway over real HTTP, driven by the official Alipay Node SDK
 * (alipay-sdk): it signs the requests, verifies the answers' signatures, and
 * checks the notifications and return URLs the sandbox signs.
 */
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AlipaySdk } from 'alipay-sdk';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextDecoder } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { ensureAlipaySandboxKeys, type AlipaySandboxKeys } from '../sandbox-keys';
import { AlipaySandboxModule } from './alipay-sandbox.module';
import { beijingDate, formatBeijing } from './alipay-sandbox.time';
import type {
  SandboxNotificationResponse,
  SandboxTradeResponse,
} from './dto/alipay-sandbox-trade.response';

/** Whatever the control API answers: a trade, a notification, or an error. */
type ControlJson = Partial<SandboxTradeResponse & SandboxNotificationResponse> & {
  statusCode?: number;
  error?: string;
};

const PUBLIC_BASE_URL = 'http://paygate.test';
const TIME_SCALE = 0.001; // first retry after 240 ms, second after 600 ms

/** Stands in for paygate's /notify/alipay: records every POST, answers as scripted. */
class NotifyReceiver {
  readonly received: Array<{ fields: Record<string, string>; at: number; contentType?: string }> =
    [];
  url = '';
  private readonly scripts = new Map<string, string[]>();
  private readonly server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const fields = Object.fromEntries(new URLSearchParams(raw));
      this.received.push({ fields, at: Date.now(), contentType: req.headers['content-type'] });
      const script = this.scripts.get(fields.out_trade_no);
      res.end(script && script.length > 1 ? script.shift() : (script?.[0] ?? 'success'));
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/notify/alipay`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Answers for one trade's deliveries, in order; the last one repeats. */
  script(outTradeNo: string, ...answers: string[]): void {
    this.scripts.set(outTradeNo, answers);
  }

  for(outTradeNo: string): Array<Record<string, string>> {
    return this.received.filter((r) => r.fields.out_trade_no === outTradeNo).map((r) => r.fields);
  }
}

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
const newOutTradeNo = () => `T${Date.now()}${String(++counter).padStart(4, '0')}`;

describe('Alipay sandbox gateway (official alipay-sdk against real HTTP)', () => {
  let dataDir: string;
  let keys: AlipaySandboxKeys;
  let app: NestExpressApplication;
  let base: string;
  let sdk: AlipaySdk;
  const receiver = new NotifyReceiver();

  /** A browser/URL on the sandbox's public base, reached on the test port. */
  const local = (url: string) => url.replace(PUBLIC_BASE_URL, base);

  const exec = (method: string, bizContent: Record<string, unknown>, extra: object = {}) =>
    sdk.exec(method, { bizContent, ...extra }, { validateSign: true });

  const precreate = async (overrides: Record<string, unknown> = {}) => {
    const outTradeNo = newOutTradeNo();
    const res = await exec(
      'alipay.trade.precreate',
      { out_trade_no: outTradeNo, total_amount: '88.80', subject: '咖啡 Coffee', ...overrides },
      { notifyUrl: receiver.url },
    );
    expect(res.code).toBe('10000');
    return outTradeNo;
  };

  /** Signs with the SDK, then lets the test tamper with the wire parameters. */
  const rawCall = async (
    method: string,
    bizContent: Record<string, unknown>,
    tamper: (p: URLSearchParams) => void = () => undefined,
  ) => {
    const params = new URLSearchParams(sdk.sdkExecute(method, { bizContent }));
    tamper(params);
    const res = await fetch(`${base}/sandbox/alipay/gateway.do`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
      body: params.toString(),
    });
    return { status: res.status, text: await res.text() };
  };

  const control = async (path: string, body?: unknown, method = 'POST') => {
    const res = await fetch(`${base}/sandbox/alipay/control/trades${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as ControlJson };
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'paygate-alipay-sandbox-'));
    // paygate's config reads the same file: the module must pick these keys up.
    keys = ensureAlipaySandboxKeys(dataDir);
    await receiver.start();
    const moduleRef = await Test.createTestingModule({
      imports: [
        AlipaySandboxModule.register({
          dataDir,
          publicBaseUrl: `${PUBLIC_BASE_URL}/`,
          timeScale: TIME_SCALE,
        }),
      ],
    }).compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    app.useBodyParser('urlencoded', { extended: false });
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    sdk = new AlipaySdk({
      appId: keys.appId,
      privateKey: keys.appPrivateKeyPem,
      keyType: 'PKCS8',
      alipayPublicKey: keys.gatewayPublicKeyPem,
      gateway: `${base}/sandbox/alipay/gateway.do`,
    });
  });

  afterAll(async () => {
    await app?.close();
    await receiver.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('precreate and the request envelope', () => {
    it('accepts a precreate signed by the SDK and answers with a signature the SDK verifies', async () => {
      const outTradeNo = newOutTradeNo();
      const res = await exec(
        'alipay.trade.precreate',
        { out_trade_no: outTradeNo, total_amount: '88.80', subject: '咖啡 Coffee' },
        { notifyUrl: receiver.url },
      );
      expect(res).toMatchObject({
        code: '10000',
        msg: 'Success',
        outTradeNo,
        qrCode: `${PUBLIC_BASE_URL}/sandbox/alipay/cashier/${outTradeNo}`,
      });
    });

    it('writes slashes as \\/ in the signed text, as Alipay does', async () => {
      const outTradeNo = newOutTradeNo();
      const { text } = await rawCall('alipay.trade.precreate', {
        out_trade_no: outTradeNo,
        total_amount: '1.00',
        subject: 'x',
      });
      expect(text).toContain(
        `"qr_code":"http:\\/\\/paygate.test\\/sandbox\\/alipay\\/cashier\\/${outTradeNo}"`,
      );
      const inner = sdk.getSignStr(text, 'alipay_trade_precreate_response');
      expect(sdk.rsaCheck(inner, (JSON.parse(text) as { sign: string }).sign)).toBe(true);
    });

    it('answers a repeated precreate with the same qr_code, and a changed one with CONTEXT_INCONSISTENT', async () => {
      const outTradeNo = newOutTradeNo();
      const biz = { out_trade_no: outTradeNo, total_amount: '5.00', subject: 'Tea' };
      const first = await exec('alipay.trade.precreate', biz);
      const again = await exec('alipay.trade.precreate', biz);
      expect(again.qrCode).toBe(first.qrCode);
      const changed = await exec('alipay.trade.precreate', { ...biz, total_amount: '5.01' });
      expect(changed).toMatchObject({ code: '40004', subCode: 'ACQ.CONTEXT_INCONSISTENT' });
    });

    it.each(['0.001', '0', '0.00', '100000000.01', '-1', '1e3', 'abc', ' 1'])(
      'refuses total_amount %j',
      async (amount) => {
        const res = await exec('alipay.trade.precreate', {
          out_trade_no: newOutTradeNo(),
          total_amount: amount,
          subject: 'x',
        });
        expect(res).toMatchObject({ code: '40004', subCode: 'ACQ.INVALID_PARAMETER' });
      },
    );

    it('accepts the largest amount Alipay allows', async () => {
      const res = await exec('alipay.trade.precreate', {
        out_trade_no: newOutTradeNo(),
        total_amount: '100000000',
        subject: 'x',
      });
      expect(res.code).toBe('10000');
    });

    it('rejects a tampered signature or a parameter changed after signing, and signs the rejection', async () => {
      const biz = { out_trade_no: newOutTradeNo(), total_amount: '1.00', subject: 'x' };
      const flipped = await rawCall('alipay.trade.precreate', biz, (p) => {
        const sign = p.get('sign')!;
        p.set('sign', `${sign[0] === 'A' ? 'B' : 'A'}${sign.slice(1)}`);
      });
      const changed = await rawCall('alipay.trade.precreate', biz, (p) =>
        p.set('biz_content', p.get('biz_content')!.replace('1.00', '0.01')),
      );
      const missing = await rawCall('alipay.trade.precreate', biz, (p) => p.delete('sign'));
      for (const { status, text } of [flipped, changed, missing]) {
        expect(status).toBe(200);
        const body = JSON.parse(text) as { error_response: Record<string, string>; sign: string };
        expect(body.error_response).toMatchObject({
          code: '40002',
          msg: 'Invalid Arguments',
          sub_code: 'isv.invalid-signature',
        });
        expect(sdk.rsaCheck(sdk.getSignStr(text, 'error_response'), body.sign)).toBe(true);
      }
      // The echoed string is what the gateway verified: the changed amount shows.
      const echoed = (JSON.parse(changed.text) as { error_response: { sub_msg: string } })
        .error_response.sub_msg;
      expect(echoed).toContain('"total_amount":"0.01"');
      const query = await exec('alipay.trade.query', { out_trade_no: biz.out_trade_no });
      expect(query.subCode).toBe('ACQ.TRADE_NOT_EXIST');
    });

    it('rejects a request signed with another key, and an unknown app_id', async () => {
      const stranger = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      const gateway = `${base}/sandbox/alipay/gateway.do`;
      const wrongKey = new AlipaySdk({
        appId: keys.appId,
        privateKey: stranger.privateKey,
        keyType: 'PKCS8',
        gateway,
      });
      const wrongApp = new AlipaySdk({
        appId: '2021000000000001',
        privateKey: keys.appPrivateKeyPem,
        keyType: 'PKCS8',
        gateway,
      });
      const biz = { bizContent: { out_trade_no: 'X1', total_amount: '1.00', subject: 'x' } };
      await expect(wrongKey.exec('alipay.trade.precreate', biz)).resolves.toMatchObject({
        code: '40002',
        subCode: 'isv.invalid-signature',
      });
      await expect(wrongApp.exec('alipay.trade.precreate', biz)).resolves.toMatchObject({
        code: '40002',
        subCode: 'isv.invalid-app-id',
      });
    });

    it('refuses methods it does not simulate', async () => {
      const res = await sdk.exec('alipay.trade.create', { bizContent: { out_trade_no: 'x' } });
      expect(res).toMatchObject({ code: '40002', subCode: 'isv.invalid-method' });
    });
  });

  describe('query, close and expiry', () => {
    it('queries an unknown trade as ACQ.TRADE_NOT_EXIST and a new one as WAIT_BUYER_PAY', async () => {
      await expect(exec('alipay.trade.query', { out_trade_no: 'NOPE' })).resolves.toMatchObject({
        code: '40004',
        msg: 'Business Failed',
        subCode: 'ACQ.TRADE_NOT_EXIST',
      });
      const outTradeNo = await precreate();
      const res = await exec('alipay.trade.query', { out_trade_no: outTradeNo });
      expect(res).toMatchObject({
        code: '10000',
        outTradeNo,
        tradeStatus: 'WAIT_BUYER_PAY',
        totalAmount: '88.80',
      });
      expect(res.tradeNo).toMatch(/^\d{28}$/);
      expect(res.sendPayDate).toBeUndefined();
      const byTradeNo = await exec('alipay.trade.query', { trade_no: res.tradeNo });
      expect(byTradeNo.outTradeNo).toBe(outTradeNo);
    });

    it('closes an unpaid trade and notifies TRADE_CLOSED; closing again or an unknown trade fails', async () => {
      const outTradeNo = await precreate();
      const closed = await exec('alipay.trade.close', { out_trade_no: outTradeNo });
      expect(closed).toMatchObject({ code: '10000', outTradeNo });
      expect(closed.tradeNo).toMatch(/^\d{28}$/);
      await expect(exec('alipay.trade.query', { out_trade_no: outTradeNo })).resolves.toMatchObject(
        {
          tradeStatus: 'TRADE_CLOSED',
        },
      );
      await waitFor(() => receiver.for(outTradeNo).length === 1);
      const [note] = receiver.for(outTradeNo);
      expect(sdk.checkNotifySignV2(note)).toBe(true);
      expect(note.trade_status).toBe('TRADE_CLOSED');
      expect(note.gmt_close).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      expect(note.refund_fee).toBeUndefined();
      expect(note.gmt_payment).toBeUndefined();

      await expect(exec('alipay.trade.close', { out_trade_no: outTradeNo })).resolves.toMatchObject(
        {
          code: '40004',
          subCode: 'ACQ.TRADE_STATUS_ERROR',
        },
      );
      await expect(exec('alipay.trade.close', { out_trade_no: 'NOPE' })).resolves.toMatchObject({
        subCode: 'ACQ.TRADE_NOT_EXIST',
      });
      // Every close call the trade received is counted, the refused one too.
      expect((await control(`/${outTradeNo}`, undefined, 'GET')).json.closeCalls).toBe(2);
    });

    it('closes an unpaid trade at its time_expire (Beijing time) and notifies it', async () => {
      const expireAt = formatBeijing(new Date(Date.now() + 1500));
      const outTradeNo = await precreate({ time_expire: expireAt });
      await expect(exec('alipay.trade.query', { out_trade_no: outTradeNo })).resolves.toMatchObject(
        {
          tradeStatus: 'WAIT_BUYER_PAY',
        },
      );
      // Generous: on a loaded machine the expiry timer and the POST can both run late.
      await waitFor(() => receiver.for(outTradeNo).length >= 1, 8_000);
      expect(receiver.for(outTradeNo)).toHaveLength(1);
      expect(receiver.for(outTradeNo)[0]).toMatchObject({
        trade_status: 'TRADE_CLOSED',
        gmt_close: expireAt,
      });
      await expect(exec('alipay.trade.query', { out_trade_no: outTradeNo })).resolves.toMatchObject(
        {
          tradeStatus: 'TRADE_CLOSED',
        },
      );
      expect((await control(`/${outTradeNo}/pay`)).status).toBe(409);
    }, 15_000);

    it('refuses a time_expire in the past or malformed', async () => {
      for (const timeExpire of [
        formatBeijing(new Date(Date.now() - 60_000)),
        '2030-02-30 00:00:00',
      ]) {
        const res = await exec('alipay.trade.precreate', {
          out_trade_no: newOutTradeNo(),
          total_amount: '1.00',
          subject: 'x',
          time_expire: timeExpire,
        });
        expect(res.subCode).toBe('ACQ.INVALID_PARAMETER');
      }
    });
  });

  describe('payment notifications', () => {
    it('delivers a notification the SDK verifies, then query reports the payment', async () => {
      const outTradeNo = await precreate();
      const paid = await control(`/${outTradeNo}/pay`, {});
      expect(paid.status).toBe(200);
      expect(paid.json).toMatchObject({
        outTradeNo,
        status: 'TRADE_SUCCESS',
        totalAmountFen: 8880,
      });

      await waitFor(() => receiver.for(outTradeNo).length === 1);
      const delivery = receiver.received.find((r) => r.fields.out_trade_no === outTradeNo)!;
      expect(delivery.contentType).toMatch(/^application\/x-www-form-urlencoded/);
      const note = delivery.fields;
      expect(sdk.checkNotifySignV2(note)).toBe(true);
      expect(note).toMatchObject({
        notify_type: 'trade_status_sync',
        app_id: keys.appId,
        auth_app_id: keys.appId,
        seller_id: keys.sellerId,
        charset: 'utf-8',
        version: '1.0',
        sign_type: 'RSA2',
        trade_status: 'TRADE_SUCCESS',
        total_amount: '88.80',
        receipt_amount: '88.80',
        buyer_pay_amount: '88.80',
        invoice_amount: '88.80',
        point_amount: '0.00',
        subject: '咖啡 Coffee',
        trade_no: paid.json.tradeNo,
      });
      expect(note.trade_no).toMatch(/^\d{28}$/);
      expect(note.buyer_id).toMatch(/^2088\d{12}$/);
      expect(note.notify_id).toMatch(/^\d+$/);
      expect(JSON.parse(note.fund_bill_list)).toEqual([
        { amount: '88.80', fundChannel: 'ALIPAYACCOUNT' },
      ]);

      const query = await exec('alipay.trade.query', { out_trade_no: outTradeNo });
      expect(query).toMatchObject({
        tradeStatus: 'TRADE_SUCCESS',
        totalAmount: '88.80',
        tradeNo: note.trade_no,
        buyerLogonId: note.buyer_logon_id,
        sendPayDate: note.gmt_payment,
      });
      await expect(exec('alipay.trade.close', { out_trade_no: outTradeNo })).resolves.toMatchObject(
        {
          subCode: 'ACQ.TRADE_STATUS_ERROR',
        },
      );

      const view = await control(`/${outTradeNo}`, undefined, 'GET');
      expect(view.json.notifications).toHaveLength(1);
      expect(view.json.notifications![0]).toMatchObject({
        acknowledged: true,
        attempts: [{ httpStatus: 200, body: 'success', acknowledged: true }],
      });
    });

    it('retries until the answer is exactly `success`: fail, fail, success makes 3 deliveries', async () => {
      const outTradeNo = await precreate();
      receiver.script(outTradeNo, 'fail', 'success ', 'success');
      await control(`/${outTradeNo}/pay`, {});
      await waitFor(() => receiver.for(outTradeNo).length === 3);
      const deliveries = receiver.for(outTradeNo);
      expect(new Set(deliveries.map((d) => d.notify_id)).size).toBe(1);
      await sleep(800); // past the next retry: nothing more comes
      expect(receiver.for(outTradeNo)).toHaveLength(3);
      const { json } = await control(`/${outTradeNo}`, undefined, 'GET');
      const attempts = json.notifications![0].attempts;
      expect(attempts.map((a) => [a.body, a.acknowledged])).toEqual([
        ['fail', false],
        ['success ', false],
        ['success', true],
      ]);
      expect(json.notifications![0].acknowledged).toBe(true);
    });

    it('duplicate sends the same notification twice at once; drop and mark-paid send nothing', async () => {
      const dup = await precreate();
      await control(`/${dup}/pay`, { notify: 'duplicate' });
      await waitFor(() => receiver.for(dup).length === 2);
      const [a, b] = receiver.for(dup);
      expect(a).toEqual(b);

      const dropped = await precreate();
      const silent = await precreate();
      expect((await control(`/${dropped}/pay`, { notify: 'drop' })).status).toBe(200);
      expect((await control(`/${silent}/mark-paid`, {})).json.status).toBe('TRADE_SUCCESS');
      await sleep(300);
      expect(receiver.for(dropped)).toHaveLength(0);
      expect(receiver.for(silent)).toHaveLength(0);
      await expect(exec('alipay.trade.query', { out_trade_no: silent })).resolves.toMatchObject({
        tradeStatus: 'TRADE_SUCCESS',
      });
    });

    it('delay holds the first delivery back by delayMs', async () => {
      const outTradeNo = await precreate();
      const before = Date.now();
      await control(`/${outTradeNo}/pay`, { notify: 'delay', delayMs: 400 });
      await sleep(200);
      expect(receiver.for(outTradeNo)).toHaveLength(0);
      await waitFor(() => receiver.for(outTradeNo).length === 1);
      const at = receiver.received.find((r) => r.fields.out_trade_no === outTradeNo)!.at;
      expect(at - before).toBeGreaterThanOrEqual(390);
    });

    it('pays with TRADE_FINISHED on request; such a trade cannot be refunded', async () => {
      const outTradeNo = await precreate();
      await control(`/${outTradeNo}/pay`, { status: 'TRADE_FINISHED' });
      await waitFor(() => receiver.for(outTradeNo).length === 1);
      expect(receiver.for(outTradeNo)[0].trade_status).toBe('TRADE_FINISHED');
      const refund = await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '1.00',
        out_request_no: 'R1',
      });
      expect(refund.subCode).toBe('ACQ.TRADE_HAS_FINISHED');
    });

    it('re-sends the current state, and tampered variants once each without retries', async () => {
      const outTradeNo = await precreate();
      await control(`/${outTradeNo}/pay`, {});
      await waitFor(() => receiver.for(outTradeNo).length === 1);
      receiver.script(outTradeNo, 'fail');

      const plain = await control(`/${outTradeNo}/notify`, {});
      expect(plain.status).toBe(200);
      for (const tamper of ['signature', 'amount', 'app_id']) {
        expect((await control(`/${outTradeNo}/notify`, { tamper })).json.tamper).toBe(tamper);
      }
      await waitFor(() => receiver.for(outTradeNo).length === 5);
      await sleep(400); // the untampered re-send retries after 240 ms; the tampered ones never
      const [, resent, badSignature, badAmount, badApp, ...retries] = receiver.for(outTradeNo);
      expect(retries.map((r) => r.notify_id)).toEqual([resent.notify_id]);

      expect(sdk.checkNotifySignV2(resent)).toBe(true);
      expect(resent.trade_status).toBe('TRADE_SUCCESS');
      expect(sdk.checkNotifySignV2(badSignature)).toBe(false);
      expect(sdk.checkNotifySignV2(badAmount)).toBe(true);
      expect(badAmount.total_amount).toBe('88.81');
      expect(sdk.checkNotifySignV2(badApp)).toBe(true);
      expect(badApp.app_id).not.toBe(keys.appId);
      expect(badApp.app_id).toMatch(/^\d{16}$/);
    });

    it('records a failed connection as an attempt with its error', async () => {
      const outTradeNo = newOutTradeNo();
      await exec(
        'alipay.trade.precreate',
        { out_trade_no: outTradeNo, total_amount: '1.00', subject: 'x' },
        { notifyUrl: 'http://127.0.0.1:9/notify/alipay' },
      );
      await control(`/${outTradeNo}/pay`, {});
      let view: ControlJson = {};
      const until = Date.now() + 3000;
      while (!view.notifications?.[0]?.attempts.length && Date.now() < until) {
        await sleep(20);
        view = (await control(`/${outTradeNo}`, undefined, 'GET')).json;
      }
      const [attempt] = view.notifications![0].attempts;
      expect(attempt).toMatchObject({
        httpStatus: null,
        acknowledged: false,
      });
      expect(attempt.error).toEqual(expect.any(String));
    });
  });

  describe('refunds', () => {
    it('refunds partially and idempotently, refuses too much, and closes the trade when all is refunded', async () => {
      const outTradeNo = await precreate();
      await control(`/${outTradeNo}/pay`, {});
      await waitFor(() => receiver.for(outTradeNo).length === 1);

      const first = await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '10.00',
        out_request_no: 'R1',
        refund_reason: 'too sweet',
      });
      expect(first).toMatchObject({
        code: '10000',
        fundChange: 'Y',
        refundFee: '10.00',
        outTradeNo,
      });
      const repeat = await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '10.00',
        out_request_no: 'R1',
      });
      expect(repeat).toMatchObject({ code: '10000', fundChange: 'N', refundFee: '10.00' });
      const changed = await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '11.00',
        out_request_no: 'R1',
      });
      expect(changed.code).toBe('40004');
      const tooMuch = await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '78.81',
        out_request_no: 'R2',
      });
      expect(tooMuch).toMatchObject({ code: '40004', subCode: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' });

      await expect(
        exec('alipay.trade.fastpay.refund.query', {
          out_trade_no: outTradeNo,
          out_request_no: 'R1',
        }),
      ).resolves.toMatchObject({
        code: '10000',
        outRequestNo: 'R1',
        refundAmount: '10.00',
        totalAmount: '88.80',
        refundStatus: 'REFUND_SUCCESS',
      });
      const unknown = await exec('alipay.trade.fastpay.refund.query', {
        out_trade_no: outTradeNo,
        out_request_no: 'R2',
      });
      expect(unknown.code).toBe('10000');
      expect(unknown.refundStatus).toBeUndefined();

      const rest = await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '78.80',
        out_request_no: 'R2',
      });
      expect(rest).toMatchObject({ fundChange: 'Y', refundFee: '88.80' });
      await expect(exec('alipay.trade.query', { out_trade_no: outTradeNo })).resolves.toMatchObject(
        {
          tradeStatus: 'TRADE_CLOSED',
        },
      );
      const afterClose = await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '0.01',
        out_request_no: 'R3',
      });
      expect(afterClose.subCode).toBe('ACQ.TRADE_HAS_CLOSE');

      await waitFor(() => receiver.for(outTradeNo).length === 3);
      const [, partial, full] = receiver.for(outTradeNo);
      expect(sdk.checkNotifySignV2(partial)).toBe(true);
      expect(partial).toMatchObject({
        trade_status: 'TRADE_SUCCESS',
        refund_fee: '10.00',
        out_biz_no: 'R1',
      });
      expect(partial.gmt_refund).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/);
      expect(partial.gmt_close).toBeUndefined();
      expect(sdk.checkNotifySignV2(full)).toBe(true);
      expect(full).toMatchObject({
        trade_status: 'TRADE_CLOSED',
        refund_fee: '88.80',
        out_biz_no: 'R2',
      });
      expect(full.gmt_close).toEqual(expect.any(String));
    });

    it('refuses to refund an unpaid or unknown trade', async () => {
      const outTradeNo = await precreate();
      const unpaid = await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '1.00',
        out_request_no: 'R1',
      });
      expect(unpaid.subCode).toBe('ACQ.TRADE_STATUS_ERROR');
      const unknown = await exec('alipay.trade.refund', {
        out_trade_no: 'NOPE',
        refund_amount: '1.00',
        out_request_no: 'R1',
      });
      expect(unknown.subCode).toBe('ACQ.TRADE_NOT_EXIST');
    });
  });

  describe('bills', () => {
    it('issues a download URL for a zip of GBK CSV files holding the day’s payments and refunds', async () => {
      const outTradeNo = await precreate();
      await control(`/${outTradeNo}/pay`, {});
      await exec('alipay.trade.refund', {
        out_trade_no: outTradeNo,
        refund_amount: '0.80',
        out_request_no: 'RB1',
      });
      const res = await exec('alipay.data.dataservice.bill.downloadurl.query', {
        bill_type: 'trade',
        bill_date: beijingDate(new Date()),
      });
      expect(res.code).toBe('10000');
      expect(res.billDownloadUrl).toMatch(
        new RegExp(`^${PUBLIC_BASE_URL}/sandbox/alipay/bills/[0-9a-f]{32}\\.zip$`),
      );
      const download = await fetch(local(res.billDownloadUrl as string));
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('application/zip');
      const zip = Buffer.from(await download.arrayBuffer());
      // First local entry: the detail file.
      expect(zip.readUInt32LE(0)).toBe(0x04034b50);
      const nameLength = zip.readUInt16LE(26);
      const gbk = new TextDecoder('gbk');
      expect(gbk.decode(zip.subarray(30, 30 + nameLength))).toMatch(
        new RegExp(`^${keys.sellerId}0156_\\d{8}_业务明细\\.csv$`),
      );
      const dataAt = 30 + nameLength + zip.readUInt16LE(28);
      const detail = gbk.decode(
        inflateRawSync(zip.subarray(dataAt, dataAt + zip.readUInt32LE(18))),
      );
      const rows = detail.split('\r\n').filter((l) => l.includes(`${outTradeNo}\t`));
      expect(rows.map((r) => [r.split(',')[2], r.split(',')[12]])).toEqual([
        ['交易', '88.80'],
        ['退款', '-0.80'],
      ]);
    });

    it('has no bill for a future date and rejects unknown bill types', async () => {
      const tomorrow = beijingDate(new Date(Date.now() + 2 * 86_400_000));
      await expect(
        exec('alipay.data.dataservice.bill.downloadurl.query', {
          bill_type: 'trade',
          bill_date: tomorrow,
        }),
      ).resolves.toMatchObject({ code: '40004', subCode: 'isp.bill_not_exist' });
      await expect(
        exec('alipay.data.dataservice.bill.downloadurl.query', {
          bill_type: 'x',
          bill_date: '2024-01-01',
        }),
      ).resolves.toMatchObject({ subCode: 'ACQ.INVALID_PARAMETER' });
      expect((await fetch(`${base}/sandbox/alipay/bills/${'0'.repeat(32)}.zip`)).status).toBe(404);
    });
  });

  describe('browser and app flows', () => {
    it('page.pay by GET redirects to the cashier; paying returns to return_url with a signature the SDK verifies', async () => {
      const outTradeNo = newOutTradeNo();
      const url = sdk.pageExec('alipay.trade.page.pay', 'GET', {
        bizContent: {
          out_trade_no: outTradeNo,
          total_amount: '12.34',
          subject: '<b>Cake</b>',
          product_code: 'FAST_INSTANT_TRADE_PAY',
        },
        returnUrl: 'https://shop.example/return?from=alipay',
        notifyUrl: receiver.url,
      });
      const arrive = await fetch(url, { redirect: 'manual' });
      expect(arrive.status).toBe(302);
      const cashierUrl = `${PUBLIC_BASE_URL}/sandbox/alipay/cashier/${outTradeNo}`;
      expect(arrive.headers.get('location')).toBe(cashierUrl);

      const page = await fetch(local(cashierUrl));
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).toContain('&lt;b&gt;Cake&lt;/b&gt;');
      expect(html).toContain('12.34');
      expect(html).toContain(`action="/sandbox/alipay/cashier/${outTradeNo}/pay"`);

      const pay = await fetch(`${local(cashierUrl)}/pay`, { method: 'POST', redirect: 'manual' });
      expect(pay.status).toBe(302);
      const back = new URL(pay.headers.get('location')!);
      expect(`${back.origin}${back.pathname}`).toBe('https://shop.example/return');
      const params = Object.fromEntries(back.searchParams);
      expect(params).toMatchObject({
        from: 'alipay',
        method: 'alipay.trade.page.pay.return',
        out_trade_no: outTradeNo,
        total_amount: '12.34',
        app_id: keys.appId,
        seller_id: keys.sellerId,
        sign_type: 'RSA2',
      });
      const { from: _shopParam, ...alipayParams } = params;
      expect(sdk.checkNotifySignV2(alipayParams)).toBe(true);
      await waitFor(() => receiver.for(outTradeNo).length === 1);
      expect(receiver.for(outTradeNo)[0].trade_status).toBe('TRADE_SUCCESS');
      expect((await fetch(`${local(cashierUrl)}/pay`, { method: 'POST' })).status).toBe(409);
    });

    it('page.pay by POST form (query + hidden inputs) redirects to the cashier', async () => {
      const outTradeNo = newOutTradeNo();
      const form = sdk.pageExec('alipay.trade.page.pay', 'POST', {
        bizContent: {
          out_trade_no: outTradeNo,
          total_amount: '1.00',
          subject: 'He said "hi"',
          product_code: 'FAST_INSTANT_TRADE_PAY',
        },
      });
      const action = /action="([^"]+)"/.exec(form)![1];
      const body = new URLSearchParams();
      for (const m of form.matchAll(/name="([^"]+)" value="([^"]*)"/g)) {
        body.set(m[1], m[2].replace(/&quot;/g, '"'));
      }
      expect(body.has('biz_content')).toBe(true);
      const res = await fetch(action, { method: 'POST', body, redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(
        `${PUBLIC_BASE_URL}/sandbox/alipay/cashier/${outTradeNo}`,
      );
    });

    it('wap.pay needs product_code QUICK_WAP_WAY, and Cancel goes to quit_url', async () => {
      const biz = { out_trade_no: newOutTradeNo(), total_amount: '1.00', subject: 'x' };
      const missing = await fetch(
        sdk.pageExec('alipay.trade.wap.pay', 'GET', { bizContent: biz }),
        {
          redirect: 'manual',
        },
      );
      expect(missing.status).toBe(400);
      expect(await missing.text()).toContain('ACQ.INVALID_PARAMETER');

      const ok = await fetch(
        sdk.pageExec('alipay.trade.wap.pay', 'GET', {
          bizContent: {
            ...biz,
            product_code: 'QUICK_WAP_WAY',
            quit_url: 'https://shop.example/quit',
          },
        }),
        { redirect: 'manual' },
      );
      expect(ok.status).toBe(302);
      const cancel = await fetch(`${local(ok.headers.get('location')!)}/cancel`, {
        method: 'POST',
        redirect: 'manual',
      });
      expect(cancel.status).toBe(302);
      expect(cancel.headers.get('location')).toBe('https://shop.example/quit');
    });

    it('a browser arriving with a bad signature sees an error page', async () => {
      const url = new URL(
        sdk.pageExec('alipay.trade.page.pay', 'GET', {
          bizContent: {
            out_trade_no: newOutTradeNo(),
            total_amount: '1.00',
            subject: 'x',
            product_code: 'FAST_INSTANT_TRADE_PAY',
          },
        }),
      );
      url.searchParams.set('sign', `A${url.searchParams.get('sign')!.slice(1)}B`);
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('isv.invalid-signature');
    });

    it('opens an app.pay order string made by sdkExecute, and refuses a tampered one', async () => {
      const outTradeNo = newOutTradeNo();
      const orderString = sdk.sdkExec('alipay.trade.app.pay', {
        bizContent: {
          outTradeNo,
          totalAmount: '0.01',
          subject: '会员 1 month',
          productCode: 'QUICK_MSECURITY_PAY',
        },
        notifyUrl: receiver.url,
      });
      const open = await fetch(`${base}/sandbox/alipay/app-pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderString }),
      });
      expect(open.status).toBe(200);
      expect(await open.json()).toEqual({
        outTradeNo,
        cashierUrl: `${PUBLIC_BASE_URL}/sandbox/alipay/cashier/${outTradeNo}`,
      });
      expect((await control(`/${outTradeNo}`, undefined, 'GET')).json).toMatchObject({
        product: 'app',
        totalAmountFen: 1,
        notifyUrl: receiver.url,
      });

      const tampered = orderString.replace('0.01', '0.02');
      const refused = await fetch(`${base}/sandbox/alipay/app-pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderString: tampered }),
      });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ subCode: 'isv.invalid-signature' });
    });
  });

  describe('control API', () => {
    it('answers 404 JSON for an unknown trade and 400 for invalid bodies', async () => {
      const missing = await control('/NOPE', undefined, 'GET');
      expect(missing.status).toBe(404);
      expect(missing.json).toMatchObject({ statusCode: 404, error: 'Not Found' });
      expect((await control('/NOPE/pay', {})).status).toBe(404);

      const outTradeNo = await precreate();
      for (const body of [
        { notify: 'sometimes' },
        { delayMs: -1 },
        { delayMs: 1.5 },
        { extra: 1 },
      ]) {
        const res = await control(`/${outTradeNo}/pay`, body);
        expect(res.status).toBe(400);
      }
      expect((await control(`/${outTradeNo}/notify`, { tamper: 'everything' })).status).toBe(400);
      expect((await control(`/${outTradeNo}`, undefined, 'GET')).json.status).toBe(
        'WAIT_BUYER_PAY',
      );
    });

    it('answers 409 when the state forbids the action', async () => {
      const outTradeNo = await precreate();
      expect((await control(`/${outTradeNo}/notify`, {})).status).toBe(409);
      expect((await control(`/${outTradeNo}/pay`, { notify: 'drop' })).status).toBe(200);
      const again = await control(`/${outTradeNo}/pay`, {});
      expect(again).toMatchObject({ status: 409, json: { statusCode: 409, error: 'Conflict' } });
      expect((await control(`/${outTradeNo}/fail`)).status).toBe(409);
    });

    it('fail closes the unpaid trade and notifies; force pays it late; the list shows trades newest first', async () => {
      const older = await precreate();
      const outTradeNo = await precreate();
      const failed = await control(`/${outTradeNo}/fail`);
      expect(failed.json.status).toBe('TRADE_CLOSED');
      await waitFor(() => receiver.for(outTradeNo).length === 1);
      expect(receiver.for(outTradeNo)[0].trade_status).toBe('TRADE_CLOSED');

      expect((await control(`/${outTradeNo}/pay`, {})).status).toBe(409);
      const late = await control(`/${outTradeNo}/pay`, { force: true });
      expect(late.json.status).toBe('TRADE_SUCCESS');
      await waitFor(() => receiver.for(outTradeNo).length === 2);

      const list = await fetch(`${base}/sandbox/alipay/control/trades`);
      const trades = (await list.json()) as Array<{ outTradeNo: string }>;
      const order = trades.map((t) => t.outTradeNo);
      expect(order.indexOf(outTradeNo)).toBeLessThan(order.indexOf(older));
    });
  });
});
