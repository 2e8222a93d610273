import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Response as HttpResponse } from 'supertest';
import { SyncPendingPaymentsJob } from '../src/jobs/sync-pending-payments.job';
import { eventually, orderStatus } from './support/alipay-sandbox';
import { TestApp, eventTypes, startApp, uniqueNo } from './support/test-app';
import {
  WechatMethod,
  orderWithWechatAttempt,
  wechatControl as control,
  wechatInbox,
  wechatSandboxKeys,
} from './support/wechat-sandbox';

const FAST = { SANDBOX_TIME_SCALE: '0.0005', WECHAT_API_VERSION: 'v2' };
type SignType = 'MD5' | 'HMAC-SHA256';

interface Keys {
  appId: string;
  mchId: string;
  apiKey: string;
}

// WeChat Pay v2 as its documentation describes it (protocols.md B2, B7, B8), built here with
// node:crypto alone: no code shared with the provider or the sandbox.
function sign(fields: Record<string, string>, apiKey: string, type: SignType): string {
  const text = `${Object.keys(fields)
    .filter((k) => k !== 'sign' && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&')}&key=${apiKey}`;
  return (
    type === 'MD5'
      ? createHash('md5').update(text).digest('hex')
      : createHmac('sha256', apiKey).update(text).digest('hex')
  ).toUpperCase();
}

const xml = (fields: Record<string, string>, root = 'xml') =>
  `<${root}>${Object.entries(fields)
    .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
    .join('')}</${root}>`;

const field = (body: string, name: string) =>
  new RegExp(`<${name}>(?:<!\\[CDATA\\[)?(.*?)(?:\\]\\]>)?</${name}>`).exec(body)?.[1];

function paymentNotification(
  keys: Keys,
  type: SignType,
  outTradeNo: string,
  totalFee: number,
  options: {
    apiKey?: string;
    signType?: string;
    resultCode?: string;
    forge?: boolean;
    transactionId?: string;
  } = {},
): string {
  const fields: Record<string, string> = {
    return_code: 'SUCCESS',
    appid: keys.appId,
    mch_id: keys.mchId,
    nonce_str: Math.random().toString(36).slice(2),
    result_code: options.resultCode ?? 'SUCCESS',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    trade_type: 'NATIVE',
    bank_type: 'CMC',
    total_fee: String(totalFee),
    fee_type: 'CNY',
    cash_fee: String(totalFee),
    transaction_id:
      options.transactionId ?? `4200000${Date.now()}${Math.floor(Math.random() * 1e6)}`,
    out_trade_no: outTradeNo,
    time_end: '20240101120005',
  };
  const declared = options.signType ?? (type === 'HMAC-SHA256' ? 'HMAC-SHA256' : undefined);
  if (declared) fields.sign_type = declared;
  fields.sign = sign(fields, options.apiKey ?? keys.apiKey, type);
  if (options.forge) fields.sign = fields.sign.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
  return xml(fields);
}

function refundNotification(
  keys: Keys,
  inner: Record<string, string>,
  apiKey = keys.apiKey,
): string {
  const aesKey = Buffer.from(createHash('md5').update(apiKey).digest('hex'));
  const cipher = createCipheriv('aes-256-ecb', aesKey, null);
  const reqInfo = Buffer.concat([cipher.update(xml(inner, 'root')), cipher.final()]).toString(
    'base64',
  );
  return xml({
    return_code: 'SUCCESS',
    appid: keys.appId,
    mch_id: keys.mchId,
    nonce_str: 'n0nce',
    req_info: reqInfo,
  });
}

const keysOf = (t: TestApp) => wechatSandboxKeys<Keys>(t);

const attempt = (
  t: TestApp,
  method: WechatMethod,
  extra: Record<string, unknown> = {},
  amount = 8880,
) => orderWithWechatAttempt(t, method, extra, amount, { prefix: 'W2', subject: 'Oolong tea' });

const inbox = async (t: TestApp, outTradeNo: string) =>
  (await wechatInbox(t, outTradeNo)).map((r) => r.outcome);

const SUCCESS_REPLY =
  '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

describe.each(['MD5', 'HMAC-SHA256'] as const)(
  'WeChat Pay v2 (%s) end to end over the v2 sandbox (e2e)',
  (signType) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ ...FAST, WECHAT_SIGN_TYPE: signType });
    });
    afterAll(async () => t.close());

    const notify = (body: string, path = '/notify/wechat/v2') =>
      t.http.post(path).set('Content-Type', 'text/xml').send(body);

    it('qr (NATIVE): code_url, the buyer pays, the signed XML notification makes the order PAID once', async () => {
      const { order, payment } = await attempt(t, 'qr');
      expect(payment.action).toEqual({
        type: 'qr',
        qrCode: expect.stringContaining(`/sandbox/wechat/cashier/${payment.outTradeNo}`),
      });
      await control(t, payment.outTradeNo, 'pay', { notify: 'duplicate' }).expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      expect(
        (await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200)).body,
      ).toMatchObject({ status: 'PAID', paidAmount: 8880, channelTradeNo: expect.any(String) });
      await eventually(async () =>
        expect((await inbox(t, payment.outTradeNo)).sort()).toEqual(['duplicate', 'processed']),
      );
      expect(await eventTypes(t, order.id)).toEqual(['order.paid']);
      // The sandbox saw the SUCCESS XML and stopped sending.
      const trade = await t.http
        .get(`/sandbox/wechat/control/trades/${payment.outTradeNo}`)
        .expect(200);
      expect(JSON.stringify(trade.body)).toContain('"acknowledged":true');
    });

    it('jsapi: openid required; paySign over appId,timeStamp,nonceStr,package,signType with the configured type', async () => {
      const keys = keysOf(t);
      const { order, payment } = await attempt(t, 'jsapi', {
        openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      });
      const p = payment.action.params as Record<string, string>;
      expect(payment.action.type).toBe('jsapi');
      expect(p).toMatchObject({
        appId: keys.appId,
        package: expect.stringMatching(/^prepay_id=wx/),
        signType,
        timeStamp: expect.stringMatching(/^\d+$/),
      });
      const { paySign, ...signed } = p;
      expect(paySign).toBe(sign(signed, keys.apiKey, signType));
      await control(t, payment.outTradeNo, 'pay').expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    });

    it('h5 (MWEB): clientIp required, redirect to mweb_url; app: the signed OpenSDK parameters; both pay', async () => {
      const keys = keysOf(t);
      const bare = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ merchantOrderNo: uniqueNo('W2'), amount: 100, subject: 'Tea' })
        .expect(201);
      const missing = await t.http
        .post(`/api/orders/${bare.body.id}/payments`)
        .set(t.merchant)
        .send({ channel: 'wechat', method: 'h5' })
        .expect(400);
      expect(missing.body.message).toContain('clientIp');
      const h5 = await attempt(t, 'h5', {
        clientIp: '203.0.113.7',
        returnUrl: 'https://shop.example.com/done',
      });
      expect(h5.payment.action).toEqual({
        type: 'redirect',
        url: expect.stringMatching(/prepay_id=wx.*&redirect_url=https%3A%2F%2Fshop/),
      });
      const app = await attempt(t, 'app');
      const params = app.payment.action.params as Record<string, string>;
      expect(params).toMatchObject({
        appid: keys.appId,
        partnerid: keys.mchId,
        package: 'Sign=WXPay',
        prepayid: expect.stringMatching(/^wx/),
      });
      const { sign: appSign, ...appFields } = params;
      expect(appSign).toBe(sign(appFields, keys.apiKey, signType));
      for (const { order, payment } of [h5, app]) {
        await control(t, payment.outTradeNo, 'pay').expect(200);
        await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      }
    });

    it('20 concurrent copies of one notification: one change, one event, SUCCESS XML to each', async () => {
      const { order, payment } = await attempt(t, 'qr');
      const body = paymentNotification(keysOf(t), signType, payment.outTradeNo, 8880);
      const answers = await Promise.all(Array.from({ length: 20 }, () => notify(body)));
      expect(answers.map((a) => a.text)).toEqual(Array(20).fill(SUCCESS_REPLY));
      expect(await orderStatus(t, order.id)).toBe('PAID');
      expect(await eventTypes(t, order.id)).toEqual(['order.paid']);
      const outcomes = await inbox(t, payment.outTradeNo);
      expect(outcomes.filter((o) => o === 'processed')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(19);
    });

    it('forged sign, disagreeing sign_type, another API key, wrong total_fee, result_code FAIL: nothing changes', async () => {
      const { order, payment } = await attempt(t, 'qr');
      const keys = keysOf(t);
      const other = signType === 'MD5' ? 'HMAC-SHA256' : 'MD5';
      const cases: [string, string][] = [
        [paymentNotification(keys, signType, payment.outTradeNo, 8880, { forge: true }), 'FAIL'],
        [
          paymentNotification(keys, signType, payment.outTradeNo, 8880, { signType: other }),
          'FAIL',
        ],
        // Signed, correctly, with the other algorithm: not what this merchant configured.
        [paymentNotification(keys, other, payment.outTradeNo, 8880), 'FAIL'],
        [
          paymentNotification(keys, signType, payment.outTradeNo, 8880, {
            apiKey: 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp',
          }),
          'FAIL',
        ],
        [paymentNotification(keys, signType, payment.outTradeNo, 8881), 'FAIL'],
        [
          paymentNotification(keys, signType, payment.outTradeNo, 8880, { resultCode: 'FAIL' }),
          'SUCCESS',
        ],
        ['return_code=SUCCESS', 'FAIL'],
        ['', 'FAIL'],
      ];
      for (const [body, code] of cases) {
        const res = await notify(body);
        expect(res.status).toBe(200);
        expect(field(res.text, 'return_code')).toBe(code);
      }
      expect(await orderStatus(t, order.id)).toBe('PENDING');
      expect(await eventTypes(t, order.id)).toEqual([]);
      const outcomes = await inbox(t, payment.outTradeNo);
      expect(outcomes).toContain('rejected:amount_mismatch');
      // Only the result_code FAIL one was taken (recorded, kind other): it pays nothing.
      const taken = (await t.dataSource.query(
        "SELECT kind FROM channel_notifications WHERE channel = 'wechat' AND out_trade_no = ? AND outcome = 'processed'",
        [payment.outTradeNo],
      )) as { kind: string }[];
      expect(taken.map((r) => r.kind)).toEqual(['other']);
      const forged = (await t.dataSource.query(
        "SELECT COUNT(*) AS c FROM channel_notifications WHERE channel = 'wechat' AND outcome = 'rejected:signature'",
      )) as { c: number | string }[];
      expect(Number(forged[0].c)).toBeGreaterThanOrEqual(4);
    });

    it('sandbox tampering (bad sign, amount, mch_id) is refused the same way', async () => {
      const { order, payment } = await attempt(t, 'qr');
      await control(t, payment.outTradeNo, 'mark-paid').expect(200);
      for (const tamper of ['signature', 'amount', 'mchid'])
        await control(t, payment.outTradeNo, 'notify', { tamper }).expect(200);
      await eventually(async () =>
        expect((await inbox(t, payment.outTradeNo)).sort()).toEqual([
          'rejected:amount_mismatch',
          'rejected:mch_id',
        ]),
      );
      expect(await orderStatus(t, order.id)).toBe('PENDING');
    });

    it('a payment whose notification never came is found by the sync job; close asks WeChat first', async () => {
      const { order, payment } = await attempt(t, 'qr');
      await control(t, payment.outTradeNo, 'mark-paid').expect(200);
      await t.app.get(SyncPendingPaymentsJob).run(new Date(Date.now() + 2 * 60_000));
      expect(await orderStatus(t, order.id)).toBe('PAID');

      const unpaid = await attempt(t, 'qr');
      const closed = await t.http
        .post(`/api/orders/${unpaid.order.id}/close`)
        .set(t.merchant)
        .expect(200);
      expect(closed.body.status).toBe('CLOSED');
      const trade = await t.http
        .get(`/sandbox/wechat/control/trades/${unpaid.payment.outTradeNo}`)
        .expect(200);
      expect(JSON.stringify(trade.body)).toContain('CLOSED');

      // Paid behind our back: closeorder answers ORDERPAID, the query says PAID.
      const raced = await attempt(t, 'qr');
      await control(t, raced.payment.outTradeNo, 'mark-paid').expect(200);
      const close = await t.http
        .post(`/api/orders/${raced.order.id}/close`)
        .set(t.merchant)
        .expect(200);
      expect(close.body.status).toBe('PAID');
    });

    it('a refund stays PENDING until the encrypted refund notification settles it', async () => {
      const { order, payment } = await attempt(t, 'qr', {}, 5000);
      await control(t, payment.outTradeNo, 'pay').expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      const refund = await t.http
        .post(`/api/orders/${order.id}/refunds`)
        .set(t.merchant)
        .send({ merchantRefundNo: 'R2-1', amount: 2000 })
        .expect(201);
      expect(refund.body.status).toBe('PENDING');
      await eventually(async () => {
        const r = await t.http.get(`/api/refunds/${refund.body.id}`).set(t.merchant).expect(200);
        expect(r.body).toMatchObject({ status: 'SUCCEEDED', channelRefundNo: expect.any(String) });
      });
      expect(
        (await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200)).body,
      ).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedAmount: 2000 });
      expect(await eventTypes(t, order.id)).toEqual(['order.paid', 'refund.succeeded']);
      const kinds = (await t.dataSource.query(
        "SELECT outcome FROM channel_notifications WHERE channel = 'wechat' AND out_trade_no = ? AND kind = 'refund'",
        [payment.outTradeNo],
      )) as { outcome: string }[];
      expect(kinds.map((k) => k.outcome)).toEqual(['processed']);
    });

    it('a refund WeChat ends REFUNDCLOSE is FAILED and its amount can be refunded again', async () => {
      const { order, payment } = await attempt(t, 'qr', {}, 3000);
      await control(t, payment.outTradeNo, 'pay').expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      await control(t, payment.outTradeNo, 'next-refund', {
        outcome: 'fail',
        endsAs: 'CLOSED',
      }).expect(200);
      const failing = await t.http
        .post(`/api/orders/${order.id}/refunds`)
        .set(t.merchant)
        .send({ merchantRefundNo: 'RC-1', amount: 3000 })
        .expect(201);
      await eventually(async () => {
        const r = await t.http.get(`/api/refunds/${failing.body.id}`).set(t.merchant).expect(200);
        expect(r.body).toMatchObject({
          status: 'FAILED',
          failureReason: expect.stringContaining('REFUNDCLOSE'),
        });
      });
      expect(
        (await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200)).body,
      ).toMatchObject({ status: 'PAID', refundedAmount: 0 });
    });

    it('req_info under another key, or from another mch_id, is answered FAIL and settles nothing', async () => {
      const { order, payment } = await attempt(t, 'qr', {}, 4000);
      await control(t, payment.outTradeNo, 'pay').expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      await control(t, payment.outTradeNo, 'next-refund', { outcome: 'delay', delayMs: 5 });
      const refund = await t.http
        .post(`/api/orders/${order.id}/refunds`)
        .set(t.merchant)
        .send({ merchantRefundNo: 'RK-1', amount: 4000 })
        .expect(201);
      const [row] = (await t.dataSource.query('SELECT out_refund_no FROM refunds WHERE id = ?', [
        refund.body.id,
      ])) as { out_refund_no: string }[];
      const keys = keysOf(t);
      const inner = {
        out_trade_no: payment.outTradeNo,
        out_refund_no: row.out_refund_no,
        refund_id: '50000000000000000000000000001',
        total_fee: '4000',
        refund_fee: '4000',
        refund_status: 'REFUNDCLOSE',
        success_time: '2024-01-01 12:00:00',
      };
      const foreign = await notify(
        refundNotification(keys, inner, 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp'),
        '/notify/wechat/v2/refund',
      );
      expect(field(foreign.text, 'return_code')).toBe('FAIL');
      const otherMch = await notify(
        refundNotification({ ...keys, mchId: '1900000109' }, inner),
        '/notify/wechat/v2/refund',
      );
      expect(field(otherMch.text, 'return_code')).toBe('FAIL');
      const r = await t.http.get(`/api/refunds/${refund.body.id}`).set(t.merchant).expect(200);
      expect(r.body.status).not.toBe('FAILED');
    });

    it('billion laughs and XXE are refused in under a second, nothing expanded or echoed', async () => {
      const laughs =
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
        Array.from(
          { length: 9 },
          (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`,
        ).join('') +
        ']><xml><return_code>&lol9;</return_code></xml>';
      const xxe =
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><return_code>&xxe;</return_code></xml>';
      for (const path of ['/notify/wechat/v2', '/notify/wechat/v2/refund']) {
        for (const body of [laughs, xxe]) {
          const started = Date.now();
          const res = await notify(body, path);
          expect(Date.now() - started).toBeLessThan(1000);
          expect(res.status).toBeLessThan(500);
          expect(field(res.text, 'return_code')).toBe('FAIL');
          expect(res.text).not.toMatch(/lol|root:|passwd|ENTITY/);
        }
      }
      const huge = await notify(`<xml><a>${'x'.repeat(2 * 1024 * 1024)}</a></xml>`);
      expect(huge.status).toBeGreaterThanOrEqual(400);
      expect(huge.status).toBeLessThan(500);
    });

    it('the v3 path is not a callback of a v2 merchant', async () => {
      const res = await t.http
        .post('/notify/wechat/v3')
        .set('Content-Type', 'application/json')
        .send('{}');
      expect(res.status).toBeLessThan(500);
      expect(field(res.text, 'return_code')).toBe('FAIL');
    });
  },
);

// protocols.md B6, copied here rather than taken from the sandbox.
const ALL_HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
const SUCCESS_HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注';
const SUMMARY_HEADER =
  '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';

/** A bill's text split as B6 describes: header, backtick rows, summary header, summary values. */
function readBill(text: string) {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l !== '');
  const cells = (l: string) => {
    expect(l.startsWith('`')).toBe(true);
    return l.slice(1).split(',`');
  };
  const header = lines[0];
  const names = header.split(',');
  const rows = lines.slice(1, -2).map((l) => {
    const values = cells(l);
    expect(values).toHaveLength(names.length);
    return Object.fromEntries(names.map((n, i) => [n, values[i]]));
  });
  return { header, rows, summaryHeader: lines.at(-2), summary: cells(lines.at(-1)!) };
}

describe('WeChat Pay v2 sandbox downloadbill (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...FAST });
  });
  afterAll(async () => t.close());

  const beijingToday = () =>
    new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10).replace(/-/g, '');

  /** POST /pay/downloadbill signed per B2 (MD5 unless told); the body comes back as a Buffer. */
  const downloadBill = (
    fields: Record<string, string>,
    options: { signType?: SignType; apiKey?: string } = {},
  ): Promise<HttpResponse & { body: Buffer }> => {
    const keys = keysOf(t);
    const signType = options.signType ?? 'MD5';
    const request: Record<string, string> = {
      appid: keys.appId,
      mch_id: keys.mchId,
      nonce_str: Math.random().toString(36).slice(2),
      ...(signType === 'HMAC-SHA256' ? { sign_type: signType } : {}),
      ...fields,
    };
    request.sign = sign(request, options.apiKey ?? keys.apiKey, signType);
    return t.http
      .post('/sandbox/wechat/v2/pay/downloadbill')
      .set('Content-Type', 'text/xml')
      .send(xml(request))
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200) as unknown as Promise<HttpResponse & { body: Buffer }>;
  };

  it("bills the day's two payments and one partial refund; gzip; SUCCESS; No Bill Exist; FAILs", async () => {
    const keys = keysOf(t);
    const paid: { order: { id: string }; outTradeNo: string }[] = [];
    for (const amount of [8880, 1234]) {
      const { order, payment } = await attempt(t, 'qr', {}, amount);
      await control(t, payment.outTradeNo, 'pay').expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      paid.push({ order, outTradeNo: payment.outTradeNo });
    }
    // An unpaid trade is not billed.
    await attempt(t, 'qr', {}, 777);
    const refund = await t.http
      .post(`/api/orders/${paid[1].order.id}/refunds`)
      .set(t.merchant)
      .send({ merchantRefundNo: 'RB-1', amount: 1001 })
      .expect(201);
    await eventually(async () => {
      const r = await t.http.get(`/api/refunds/${refund.body.id}`).set(t.merchant).expect(200);
      expect(r.body.status).toBe('SUCCEEDED');
    });
    const [row] = (await t.dataSource.query('SELECT out_refund_no FROM refunds WHERE id = ?', [
      refund.body.id,
    ])) as { out_refund_no: string }[];

    const res = await downloadBill({ bill_date: beijingToday(), bill_type: 'ALL' });
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body.toString('utf8');
    expect(text.startsWith('<xml>')).toBe(false);
    const bill = readBill(text);
    expect(bill.header).toBe(ALL_HEADER);
    expect(bill.rows).toHaveLength(3);
    const [first, second, refundRow] = bill.rows;
    expect(first).toMatchObject({
      公众账号ID: keys.appId,
      商户号: keys.mchId,
      商户订单号: paid[0].outTradeNo,
      微信订单号: expect.stringMatching(/^\d{28}$/),
      交易类型: 'NATIVE',
      交易状态: 'SUCCESS',
      应结订单金额: '88.80',
      订单金额: '88.80',
      退款金额: '0.00',
      申请退款金额: '0.00',
    });
    expect(first.交易时间).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(first.交易时间.replace(/-/g, '').slice(0, 8)).toBe(beijingToday());
    expect(second).toMatchObject({
      商户订单号: paid[1].outTradeNo,
      交易状态: 'SUCCESS',
      应结订单金额: '12.34',
      订单金额: '12.34',
    });
    expect(refundRow).toMatchObject({
      商户订单号: paid[1].outTradeNo,
      微信订单号: second.微信订单号,
      交易状态: 'REFUND',
      商户退款单号: row.out_refund_no,
      微信退款单号: expect.stringMatching(/^\d{29}$/),
      退款金额: '10.01',
      申请退款金额: '10.01',
      退款状态: 'SUCCESS',
      应结订单金额: '0.00',
    });
    expect(bill.summaryHeader).toBe(SUMMARY_HEADER);
    expect(bill.summary).toEqual(['3', '101.14', '10.01', '0.00', '0.00000', '101.14', '10.01']);

    // tar_type GZIP: the same text, gzipped (HMAC-SHA256 signed this time).
    const gz = await downloadBill(
      { bill_date: beijingToday(), bill_type: 'ALL', tar_type: 'GZIP' },
      { signType: 'HMAC-SHA256' },
    );
    expect(gz.headers['content-type']).toMatch(/gzip/);
    expect(gz.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(gz.body).toString('utf8')).toBe(text);

    // SUCCESS: the payments alone, without the refund columns.
    const ok = readBill(
      (await downloadBill({ bill_date: beijingToday(), bill_type: 'SUCCESS' })).body.toString(),
    );
    expect(ok.header).toBe(SUCCESS_HEADER);
    expect(ok.rows.map((r) => [r.商户订单号, r.应结订单金额])).toEqual([
      [paid[0].outTradeNo, '88.80'],
      [paid[1].outTradeNo, '12.34'],
    ]);
    expect(ok.summary).toEqual(['2', '101.14', '0.00', '0.00', '0.00000', '101.14', '0.00']);

    // REFUND: the refund alone.
    const refunds = readBill(
      (await downloadBill({ bill_date: beijingToday(), bill_type: 'REFUND' })).body.toString(),
    );
    expect(refunds.rows).toHaveLength(1);
    expect(refunds.rows[0]).toMatchObject({ 商户退款单号: row.out_refund_no, 退款金额: '10.01' });
    expect(refunds.rows[0].退款申请时间).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

    const empty = (await downloadBill({ bill_date: '20000101', bill_type: 'ALL' })).body.toString();
    expect(field(empty, 'return_code')).toBe('FAIL');
    expect(field(empty, 'return_msg')).toBe('No Bill Exist');

    const failures = [
      await downloadBill(
        { bill_date: beijingToday(), bill_type: 'ALL' },
        { apiKey: 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp' },
      ),
      await downloadBill({ bill_date: '20240230', bill_type: 'ALL' }),
      await downloadBill({ bill_date: '2024-01-01', bill_type: 'ALL' }),
      await downloadBill({ bill_date: beijingToday(), bill_type: 'RECHARGE_REFUND' }),
      await downloadBill({ bill_date: beijingToday(), bill_type: 'ALL', mch_id: '1900000109' }),
    ];
    for (const f of failures) {
      const body = f.body.toString();
      expect(f.headers['content-type']).toMatch(/^text\/xml/);
      expect(body.startsWith('<xml>')).toBe(true);
      expect(field(body, 'return_code')).toBe('FAIL');
      expect(field(body, 'return_msg')).not.toBe('No Bill Exist');
    }
    expect(field(failures[0].body.toString(), 'return_msg')).toContain('签名错误');
  });
});

function postFrom(localAddress: string, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/notify/wechat/v2',
        method: 'POST',
        localAddress,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('WeChat Pay v2 notify allowlist (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...FAST, WECHAT_NOTIFY_ALLOW_IPS: '127.0.0.1/32' });
  });
  afterAll(async () => t.close());

  it('refuses a caller outside WECHAT_NOTIFY_ALLOW_IPS; nothing changes', async () => {
    const { order, payment } = await attempt(t, 'qr');
    const body = paymentNotification(keysOf(t), 'HMAC-SHA256', payment.outTradeNo, 8880);
    expect(await postFrom('127.0.0.2', t.port, body)).toBe(403);
    expect(await orderStatus(t, order.id)).toBe('PENDING');
    expect(await postFrom('127.0.0.1', t.port, body)).toBe(200);
    expect(await orderStatus(t, order.id)).toBe('PAID');
  });
});
