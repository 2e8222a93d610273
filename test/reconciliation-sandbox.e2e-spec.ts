import { beijingDate } from '../src/reconciliation/beijing-day';
import {
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  sandboxPay,
} from './support/alipay-sandbox';
import { eventTypes, startApp, TestApp } from './support/test-app';
import { orderWithWechatAttempt, wechatControl } from './support/wechat-sandbox';

/**
 * Reconciliation end to end through the sandboxes: trades paid there, the
 * sandbox's own bills (with the bill control's changes and faults), the real
 * providers reading them. On MySQL the suite shares one database, so other
 * specs' payments of today show up as MISSING_REMOTE: every check here looks at
 * this spec's own trades.
 */
const FAST = { SANDBOX_TIME_SCALE: '0.0005' };
const today = () => beijingDate(new Date());

interface Found {
  type: string;
  kind: string;
  outTradeNo: string | null;
  outRefundNo: string | null;
  channelAmount: number | null;
  localAmount: number | null;
  healed: boolean;
}

async function reconcile(t: TestApp, channel: string, date = today()) {
  const started = await t.http
    .post('/admin/reconciliations')
    .set(t.admin)
    .send({ channel, date })
    .expect(201);
  return eventually(
    async () => {
      const res = await t.http
        .get(`/admin/reconciliations/${started.body.id}`)
        .set(t.admin)
        .expect(200);
      expect(res.body.status).not.toBe('RUNNING');
      return res.body as {
        id: string;
        status: string;
        error: string | null;
        counts: Record<string, number>;
      };
    },
    20_000,
    50,
  );
}

async function found(t: TestApp, runId: string, keys: string[]): Promise<Found[]> {
  const items: Found[] = [];
  let cursor = '';
  do {
    const res = await t.http
      .get(
        `/admin/reconciliations/${runId}/discrepancies?limit=200${cursor ? `&cursor=${cursor}` : ''}`,
      )
      .set(t.admin)
      .expect(200);
    items.push(...(res.body.items as Found[]));
    cursor = res.body.nextCursor ?? '';
  } while (cursor);
  return items
    .filter((d) => keys.includes(d.outTradeNo ?? '') || keys.includes(d.outRefundNo ?? ''))
    .sort((a, b) => `${a.type}${a.kind}`.localeCompare(`${b.type}${b.kind}`));
}

describe('reconciliation through the Alipay sandbox', () => {
  let t: TestApp;
  const bills = (path: string, body?: object) =>
    body
      ? t.http.post(`/sandbox/alipay/control/bills${path}`).send(body).expect(200)
      : t.http.delete('/sandbox/alipay/control/bills').expect(200);
  beforeAll(async () => {
    t = await startApp(FAST);
  });
  afterAll(() => t.close());
  afterEach(() => bills(''));

  async function paid(amount: number) {
    const a = await orderWithAlipayAttempt(t, 'qr', { amount });
    await sandboxPay(t, a.payment.outTradeNo).expect(200);
    await eventually(async () => expect(await orderStatus(t, a.order.id)).toBe('PAID'));
    return a;
  }

  it("finds what the sandbox's bill says differently, and heals a payment whose notification was lost", async () => {
    const kept = await paid(1000);
    const omitted = await paid(2000);
    const altered = await paid(3000);
    const refunded = await paid(4000);
    const refund = await t.http
      .post(`/api/orders/${refunded.order.id}/refunds`)
      .set(t.merchant)
      .send({ merchantRefundNo: 'R-1', amount: 500 })
      .expect(201);
    const silent = await orderWithAlipayAttempt(t, 'qr', { amount: 5000 });
    await sandboxPay(t, silent.payment.outTradeNo, { notify: 'drop' }).expect(200);

    await bills('/rows', {
      change: 'omit',
      kind: 'payment',
      outTradeNo: omitted.payment.outTradeNo,
    });
    await bills('/rows', {
      change: 'alter',
      kind: 'payment',
      outTradeNo: altered.payment.outTradeNo,
      amountFen: 3001,
    });
    await bills('/rows', {
      change: 'alter',
      kind: 'refund',
      outTradeNo: refunded.payment.outTradeNo,
      outRefundNo: refund.body.outRefundNo,
      amountFen: 501,
    });
    await bills('/rows', {
      change: 'add',
      kind: 'payment',
      outTradeNo: 'SANDBOXSTRANGER0000000000000001',
      amountFen: 999,
    });

    const run = await reconcile(t, 'alipay');
    expect(run).toMatchObject({ status: 'COMPLETED', error: null });
    const keys = [kept, omitted, altered, refunded, silent].map((a) => a.payment.outTradeNo);
    expect(
      await found(t, run.id, [...keys, refund.body.outRefundNo, 'SANDBOXSTRANGER0000000000000001']),
    ).toEqual([
      expect.objectContaining({
        type: 'AMOUNT_MISMATCH',
        kind: 'payment',
        outTradeNo: altered.payment.outTradeNo,
        channelAmount: 3001,
        localAmount: 3000,
      }),
      expect.objectContaining({
        type: 'AMOUNT_MISMATCH',
        kind: 'refund',
        outRefundNo: refund.body.outRefundNo,
        channelAmount: 501,
        localAmount: 500,
      }),
      expect.objectContaining({
        type: 'MISSING_LOCAL',
        kind: 'payment',
        outTradeNo: 'SANDBOXSTRANGER0000000000000001',
        channelAmount: 999,
        localAmount: null,
      }),
      expect.objectContaining({
        type: 'MISSING_REMOTE',
        kind: 'payment',
        outTradeNo: omitted.payment.outTradeNo,
        channelAmount: null,
        localAmount: 2000,
      }),
      expect.objectContaining({
        type: 'STATUS_MISMATCH',
        kind: 'payment',
        outTradeNo: silent.payment.outTradeNo,
        healed: true,
      }),
    ]);
    expect(await orderStatus(t, silent.order.id)).toBe('PAID');
    expect(await eventTypes(t, silent.order.id)).toContain('order.paid');
    expect(run.counts.healed).toBeGreaterThanOrEqual(1);
  });

  it('a download cut in half, and a bill not ready yet, end the run FAILED saying so', async () => {
    await paid(1200);
    await bills('/faults', { fault: 'corrupt' });
    const corrupt = await reconcile(t, 'alipay');
    expect(corrupt.status).toBe('FAILED');
    expect(corrupt.error).toMatch(/^the bill is corrupt: /);
    expect(corrupt.counts.discrepancies).toBe(0);
    await bills('/faults', { fault: 'not_ready' });
    const early = await reconcile(t, 'alipay');
    expect(early.status).toBe('FAILED');
    expect(early.error).toMatch(/^the bill is not ready yet: /);
  });
});

describe('reconciliation through the WeChat Pay sandboxes', () => {
  for (const version of ['v3', 'v2'] as const) {
    describe(`API ${version}`, () => {
      let t: TestApp;
      const bills = (path: string, body?: object) =>
        body
          ? t.http.post(`/sandbox/wechat/control/bills${path}`).send(body).expect(200)
          : t.http.delete('/sandbox/wechat/control/bills').expect(200);
      beforeAll(async () => {
        t = await startApp({ ...FAST, ...(version === 'v2' ? { WECHAT_API_VERSION: 'v2' } : {}) });
      });
      afterAll(() => t.close());
      afterEach(() => bills(''));

      it('matches a paid trade, reports a left-out one, heals a silent one; a day without trades is an empty bill', async () => {
        const pay = async (amount: number, action = 'pay') => {
          const w = await orderWithWechatAttempt(t, 'qr', {}, amount);
          await wechatControl(t, w.payment.outTradeNo, action).expect(200);
          return w;
        };
        const kept = await pay(700);
        const omitted = await pay(800);
        await eventually(async () => {
          expect(await orderStatus(t, kept.order.id)).toBe('PAID');
          expect(await orderStatus(t, omitted.order.id)).toBe('PAID');
        });
        const silent = await pay(900, 'mark-paid');
        await bills('/rows', {
          change: 'omit',
          kind: 'payment',
          outTradeNo: omitted.payment.outTradeNo,
        });

        const run = await reconcile(t, 'wechat');
        expect(run).toMatchObject({ status: 'COMPLETED', error: null });
        const keys = [kept, omitted, silent].map((w) => w.payment.outTradeNo);
        expect(await found(t, run.id, keys)).toEqual([
          expect.objectContaining({
            type: 'MISSING_REMOTE',
            outTradeNo: omitted.payment.outTradeNo,
            localAmount: 800,
          }),
          expect.objectContaining({
            type: 'STATUS_MISMATCH',
            outTradeNo: silent.payment.outTradeNo,
            channelAmount: 900,
            healed: true,
          }),
        ]);
        expect(await orderStatus(t, silent.order.id)).toBe('PAID');

        const empty = await reconcile(t, 'wechat', '2021-03-01');
        expect(empty).toMatchObject({ status: 'COMPLETED', error: null });
        expect(empty.counts.channelRows).toBe(0);
      });
    });
  }
});
