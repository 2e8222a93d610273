import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { AlipayProvider } from '../src/payments/channels/alipay/alipay.provider';
import type { WechatV3Client } from '../src/payments/channels/wechat/wechat-v3.client';
import { WECHAT_PROVIDER } from '../src/payments/channels/wechat/wechat.providers';
import { BillError, type BillRow, type PaymentProvider } from '../src/payments/payment-provider';
import { orderWithAlipayAttempt, sandboxPay } from './support/alipay-sandbox';
import { TestApp, startApp } from './support/test-app';
import { orderWithWechatAttempt, wechatControl } from './support/wechat-sandbox';

/**
 * downloadBill of each provider against its sandbox over real HTTP: trades
 * paid and refunded in the sandbox come back as the day's rows, and the bill
 * control's row changes and faults reach the provider as they would from the
 * channel.
 */
const FAST = { SANDBOX_TIME_SCALE: '0.0005' };
const today = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
const tomorrow = () => new Date(Date.now() + 32 * 3600_000).toISOString().slice(0, 10);

async function rowsOf(provider: PaymentProvider, date = today()): Promise<BillRow[]> {
  const rows: BillRow[] = [];
  for await (const batch of provider.downloadBill(date)) rows.push(...batch);
  return rows;
}

/** The BillError a download ends with, and how many rows it yielded first. */
async function failureOf(provider: PaymentProvider, date = today()) {
  let yielded = 0;
  try {
    for await (const batch of provider.downloadBill(date)) yielded += batch.length;
  } catch (error) {
    expect(error).toBeInstanceOf(BillError);
    return { error: error as BillError, yielded };
  }
  throw new Error('the bill downloaded without an error');
}

const about = (rows: BillRow[], outTradeNos: string[]) =>
  rows
    .filter((r) => outTradeNos.includes(r.outTradeNo))
    .map((r) => ({
      kind: r.kind,
      outTradeNo: r.outTradeNo,
      outRefundNo: r.outRefundNo,
      amount: r.amount,
    }))
    .sort((a, b) => `${a.outTradeNo}${a.kind}`.localeCompare(`${b.outTradeNo}${b.kind}`));

describe('Alipay downloadBill against the sandbox (e2e)', () => {
  let t: TestApp;
  let alipay: AlipayProvider;
  const control = (path: string, body?: object) =>
    body
      ? t.http.post(`/sandbox/alipay/control/bills${path}`).send(body).expect(200)
      : t.http.delete('/sandbox/alipay/control/bills').expect(200);
  beforeAll(async () => {
    t = await startApp(FAST);
    alipay = t.app.get(AlipayProvider);
  });
  afterAll(async () => t.close());
  afterEach(async () => control(''));

  const paid = async (amount: number) => {
    const { payment } = await orderWithAlipayAttempt(t, 'qr', { amount });
    await sandboxPay(t, payment.outTradeNo, { notify: 'drop' }).expect(200);
    return payment.outTradeNo;
  };

  it("yields today's payments and refunds with their amounts; unpaid trades are not billed", async () => {
    const a = await paid(8880);
    const b = await paid(1234);
    const { payment: unpaid } = await orderWithAlipayAttempt(t, 'qr', { amount: 777 });
    const outRefundNo = `R${b.slice(1)}`;
    expect(
      await alipay.refund({ outTradeNo: b, outRefundNo, amount: 1001, totalAmount: 1234 }),
    ).toMatchObject({ status: 'SUCCEEDED' });
    const rows = await rowsOf(alipay);
    expect(about(rows, [a, b, unpaid.outTradeNo])).toEqual(
      [
        { kind: 'payment', outTradeNo: a, outRefundNo: undefined, amount: 8880 },
        { kind: 'payment', outTradeNo: b, outRefundNo: undefined, amount: 1234 },
        { kind: 'refund', outTradeNo: b, outRefundNo, amount: 1001 },
      ].sort((x, y) => `${x.outTradeNo}${x.kind}`.localeCompare(`${y.outTradeNo}${y.kind}`)),
    );
    const row = rows.find((r) => r.outTradeNo === a)!;
    expect(row).toMatchObject({
      channelStatus: '交易',
      channelTradeNo: expect.stringMatching(/^\d{28}$/),
    });
    expect(Math.abs(row.at!.getTime() - Date.now())).toBeLessThan(120_000);
  });

  it('a past day without trades yields nothing; a future day is not ready', async () => {
    expect(await rowsOf(alipay, '2020-01-01')).toEqual([]);
    const { error } = await failureOf(alipay, tomorrow());
    expect(error).toMatchObject({ channel: 'alipay', reason: 'not_ready' });
  });

  it('not ready (isp.bill_not_exist) for the next request only, then the bill', async () => {
    const a = await paid(500);
    await control('/faults', { fault: 'not_ready' });
    const { error, yielded } = await failureOf(alipay);
    expect(yielded).toBe(0);
    expect(error.reason).toBe('not_ready');
    expect(error.message).toMatch(/isp\.bill_not_exist/);
    expect(about(await rowsOf(alipay), [a])).toHaveLength(1);
  });

  it('a truncated download is corrupt before any row', async () => {
    await paid(600);
    await control('/faults', { fault: 'corrupt' });
    const { error, yielded } = await failureOf(alipay);
    expect(yielded).toBe(0);
    expect(error).toMatchObject({ channel: 'alipay', reason: 'corrupt' });
  });

  it('injected rows: added, left out, altered, for payments and refunds', async () => {
    const kept = await paid(1000);
    const left = await paid(2000);
    const refunded = await paid(3000);
    const outRefundNo = `R${refunded.slice(1)}`;
    await alipay.refund({ outTradeNo: refunded, outRefundNo, amount: 300, totalAmount: 3000 });
    await control('/rows', {
      change: 'add',
      kind: 'payment',
      outTradeNo: 'GHOSTPAYMENT0001',
      amountFen: 4321,
    });
    await control('/rows', {
      change: 'add',
      kind: 'refund',
      outTradeNo: kept,
      outRefundNo: 'GHOSTREFUND0001',
      amountFen: 11,
    });
    await control('/rows', { change: 'omit', kind: 'payment', outTradeNo: left });
    await control('/rows', { change: 'alter', kind: 'payment', outTradeNo: kept, amountFen: 1001 });
    await control('/rows', {
      change: 'alter',
      kind: 'refund',
      outTradeNo: refunded,
      outRefundNo,
      amountFen: 301,
    });
    const state = await t.http.get('/sandbox/alipay/control/bills').expect(200);
    expect(state.body.edits).toHaveLength(5);
    const rows = about(await rowsOf(alipay), [kept, left, refunded, 'GHOSTPAYMENT0001']);
    expect(rows).toEqual(
      expect.arrayContaining([
        { kind: 'payment', outTradeNo: 'GHOSTPAYMENT0001', outRefundNo: undefined, amount: 4321 },
        { kind: 'refund', outTradeNo: kept, outRefundNo: 'GHOSTREFUND0001', amount: 11 },
        { kind: 'payment', outTradeNo: kept, outRefundNo: undefined, amount: 1001 },
        { kind: 'payment', outTradeNo: refunded, outRefundNo: undefined, amount: 3000 },
        { kind: 'refund', outTradeNo: refunded, outRefundNo, amount: 301 },
      ]),
    );
    expect(rows.some((r) => r.outTradeNo === left)).toBe(false);
    expect(rows).toHaveLength(5);
    await t.http
      .post('/sandbox/alipay/control/bills/rows')
      .send({ change: 'omit', kind: 'payment' })
      .expect(400);
  });
});

describe.each([
  ['v3', {}],
  ['v2', { WECHAT_API_VERSION: 'v2' }],
])('WeChat Pay %s downloadBill against the sandbox (e2e)', (version, env) => {
  let t: TestApp;
  let wechat: PaymentProvider;
  const control = (path: string, body?: object) =>
    body
      ? t.http.post(`/sandbox/wechat/control/bills${path}`).send(body).expect(200)
      : t.http.delete('/sandbox/wechat/control/bills').expect(200);
  beforeAll(async () => {
    t = await startApp({ ...FAST, ...env });
    wechat = t.app.get<PaymentProvider>(WECHAT_PROVIDER);
  });
  afterAll(async () => t.close());
  afterEach(async () => control(''));

  const paid = async (amount: number) => {
    const { payment } = await orderWithWechatAttempt(t, 'qr', {}, amount);
    await wechatControl(t, payment.outTradeNo, 'pay', { notify: 'drop' }).expect(200);
    return payment.outTradeNo;
  };

  it("yields today's payments and refunds with their amounts", async () => {
    const a = await paid(8880);
    const b = await paid(1234);
    const { payment: unpaid } = await orderWithWechatAttempt(t, 'qr', {}, 777);
    const outRefundNo = `R${b.slice(1)}`;
    await wechat.refund({ outTradeNo: b, outRefundNo, amount: 1001, totalAmount: 1234 });
    const rows = await rowsOf(wechat);
    const mine = about(rows, [a, b, unpaid.outTradeNo]);
    expect(mine).toEqual(
      expect.arrayContaining([
        { kind: 'payment', outTradeNo: a, outRefundNo: undefined, amount: 8880 },
        { kind: 'payment', outTradeNo: b, outRefundNo: undefined, amount: 1234 },
        { kind: 'refund', outTradeNo: b, outRefundNo, amount: 1001 },
      ]),
    );
    expect(mine).toHaveLength(3);
    const refund = rows.find((r) => r.kind === 'refund' && r.outTradeNo === b)!;
    expect(refund.channelRefundNo).toMatch(/^\d{29}$/);
    expect(refund.channelTradeNo).toMatch(/^\d{28}$/);
    expect(rows.find((r) => r.outTradeNo === a)).toMatchObject({
      channelStatus: 'SUCCESS',
      fee: '0.00000',
    });
  });

  it('a day without trades yields nothing; a future day is not ready', async () => {
    expect(await rowsOf(wechat, '2020-01-01')).toEqual([]);
    expect((await failureOf(wechat, tomorrow())).error.reason).toBe('not_ready');
  });

  it('not ready for the next request only, then the bill', async () => {
    const a = await paid(500);
    await control('/faults', { fault: 'not_ready' });
    const { error, yielded } = await failureOf(wechat);
    expect(yielded).toBe(0);
    expect(error).toMatchObject({ channel: 'wechat', reason: 'not_ready' });
    expect(about(await rowsOf(wechat), [a])).toHaveLength(1);
  });

  it('a damaged download is corrupt before any row', async () => {
    await paid(600);
    await control('/faults', { fault: 'corrupt' });
    const { error, yielded } = await failureOf(wechat);
    expect(yielded).toBe(0);
    expect(error.reason).toBe('corrupt');
    if (version === 'v3') expect(error.message).toMatch(/SHA-1/);
  });

  it('v3: tradebill is a signed answer; its file needs a signed request and is not itself signed', async () => {
    if (version !== 'v3') return;
    await paid(700);
    // The provider's own client: it signs the request and verifies the answer.
    const client = (wechat as unknown as { client: WechatV3Client }).client;
    const answer = await client.call<{
      hash_type: string;
      hash_value: string;
      download_url: string;
    }>('GET', `/v3/bill/tradebill?bill_date=${today()}&bill_type=ALL&tar_type=GZIP`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      hash_type: 'SHA1',
      hash_value: expect.stringMatching(/^[0-9a-f]{40}$/),
    });
    const url = new URL(answer.body!.download_url);
    expect(url.pathname).toBe('/sandbox/wechat/v3/billdownload/file');
    const unsigned = await fetch(url);
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { code: string }).code).toBe('SIGN_ERROR');
    const file = await client.download(url, 10_000);
    expect(file.status).toBe(200);
    expect(file.headers.get('wechatpay-signature')).toBeNull();
    const text = gunzipSync(Buffer.from(await file.arrayBuffer()));
    expect(createHash('sha1').update(text).digest('hex')).toBe(answer.body!.hash_value);
    expect(text.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    // An unknown (or expired) token: 404.
    url.searchParams.set('token', 'nosuchtoken');
    expect((await client.download(url, 10_000)).status).toBe(404);
  });

  it('injected rows: added, left out, altered, for payments and refunds', async () => {
    const kept = await paid(1000);
    const left = await paid(2000);
    const refunded = await paid(3000);
    const outRefundNo = `R${refunded.slice(1)}`;
    await wechat.refund({ outTradeNo: refunded, outRefundNo, amount: 300, totalAmount: 3000 });
    await control('/rows', {
      change: 'add',
      kind: 'payment',
      outTradeNo: 'GHOSTPAYMENT0001',
      amountFen: 4321,
    });
    await control('/rows', { change: 'omit', kind: 'payment', outTradeNo: left });
    await control('/rows', { change: 'alter', kind: 'payment', outTradeNo: kept, amountFen: 1001 });
    await control('/rows', {
      change: 'alter',
      kind: 'refund',
      outTradeNo: refunded,
      outRefundNo,
      amountFen: 301,
    });
    const rows = about(await rowsOf(wechat), [kept, left, refunded, 'GHOSTPAYMENT0001']);
    expect(rows).toEqual(
      expect.arrayContaining([
        { kind: 'payment', outTradeNo: 'GHOSTPAYMENT0001', outRefundNo: undefined, amount: 4321 },
        { kind: 'payment', outTradeNo: kept, outRefundNo: undefined, amount: 1001 },
        { kind: 'payment', outTradeNo: refunded, outRefundNo: undefined, amount: 3000 },
        { kind: 'refund', outTradeNo: refunded, outRefundNo, amount: 301 },
      ]),
    );
    expect(rows).toHaveLength(4);
  });
});
