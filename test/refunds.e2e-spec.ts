import { join } from 'node:path';
import { AutoRefundsJob } from '../src/jobs/auto-refunds.job';
import { SyncPendingRefundsJob } from '../src/jobs/sync-pending-refunds.job';
import { AlipayProvider } from '../src/payments/channels/alipay/alipay.provider';
import { RefundsService } from '../src/refunds/refunds.service';
import {
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  postNotify,
  sandboxKeys,
  sandboxPay,
  signAlipayNotification,
} from './support/alipay-sandbox';
import { TestApp, eventTypes, startApp, uniqueNo } from './support/test-app';

const FAST = { SANDBOX_TIME_SCALE: '0.0005' };
/** Short enough that a refund answered late is a timeout, long enough for a loaded CI machine. */
const CLIENT_TIMEOUT_MS = 1500;

type RefundBody = {
  id: string;
  kind: string;
  status: string;
  amount: number;
  outRefundNo: string;
  failureReason: string | null;
  merchantRefundNo: string | null;
};

/** A paid order of `amount` fen through the sandbox: the notification has been applied. */
async function paidOrder(t: TestApp, amount = 5000) {
  const { order, payment } = await orderWithAlipayAttempt(t, 'qr', { amount });
  await sandboxPay(t, payment.outTradeNo).expect(200);
  await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
  return { order, payment };
}

const refund = (t: TestApp, orderId: string, body: Record<string, unknown>) =>
  t.http.post(`/api/orders/${orderId}/refunds`).set(t.merchant).send(body);

const getOrder = async (t: TestApp, id: string) =>
  (await t.http.get(`/api/orders/${id}`).set(t.merchant).expect(200)).body as {
    status: string;
    paidAmount: number;
    refundedAmount: number;
  };

const sandboxTrade = async (t: TestApp, outTradeNo: string) =>
  (await t.http.get(`/sandbox/alipay/control/trades/${outTradeNo}`).expect(200)).body as {
    status: string;
    refundedAmountFen: number;
    refunds: { outRequestNo: string; refundAmountFen: number }[];
  };

const refundFault = (t: TestApp, outTradeNo: string, body: Record<string, unknown>) =>
  t.http.post(`/sandbox/alipay/control/trades/${outTradeNo}/next-refund`).send(body).expect(200);

const reserved = async (t: TestApp, orderId: string) =>
  Number(
    (
      (await t.dataSource.query('SELECT refund_reserved FROM orders WHERE id = ?', [orderId])) as {
        refund_reserved: number | string;
      }[]
    )[0].refund_reserved,
  );

/** The sync job's view of time: past every refund's next look. */
const later = (minutes = 2) => new Date(Date.now() + minutes * 60_000);

describe('refunds (e2e)', () => {
  let t: TestApp;
  let syncJob: SyncPendingRefundsJob;
  beforeAll(async () => {
    t = await startApp({ ...FAST, ALIPAY_TIMEOUT_MS: String(CLIENT_TIMEOUT_MS) });
    syncJob = t.app.get(SyncPendingRefundsJob);
  });
  afterAll(async () => t.close());

  it('partial refunds up to REFUNDED, each SUCCEEDED at once with its webhook; listed oldest first', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    const first = await refund(t, order.id, {
      merchantRefundNo: 'RF-1',
      amount: 1000,
      reason: 'one cup broken',
    }).expect(201);
    expect(first.body).toMatchObject({
      orderId: order.id,
      paymentId: payment.id,
      kind: 'merchant',
      merchantRefundNo: 'RF-1',
      amount: 1000,
      status: 'SUCCEEDED',
      reason: 'one cup broken',
      failureReason: null,
      succeededAt: expect.any(String),
    });
    expect(await getOrder(t, order.id)).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refundedAmount: 1000,
    });
    await refund(t, order.id, { merchantRefundNo: 'RF-2', amount: 4000 }).expect(201);
    expect(await getOrder(t, order.id)).toMatchObject({
      status: 'REFUNDED',
      paidAmount: 5000,
      refundedAmount: 5000,
    });
    expect(await reserved(t, order.id)).toBe(0);
    const trade = await sandboxTrade(t, payment.outTradeNo);
    expect(trade.refundedAmountFen).toBe(5000);
    expect(trade.refunds.map((r) => r.outRequestNo)).toEqual([
      first.body.outRefundNo,
      expect.any(String),
    ]);
    const list = await t.http.get(`/api/orders/${order.id}/refunds`).set(t.merchant).expect(200);
    expect(list.body.items.map((r: RefundBody) => r.merchantRefundNo)).toEqual(['RF-1', 'RF-2']);
    const one = await t.http.get(`/api/refunds/${first.body.id}`).set(t.merchant).expect(200);
    expect(one.body).toEqual(first.body);
    expect(await eventTypes(t, order.id)).toEqual([
      'order.paid',
      'refund.succeeded',
      'refund.succeeded',
    ]);
    // Nothing is left to refund.
    const more = await refund(t, order.id, { merchantRefundNo: 'RF-3', amount: 1 }).expect(409);
    expect(more.body.code).toBe('ORDER_NOT_REFUNDABLE');
  });

  it('the same merchantRefundNo again is 200 and the same refund; with another amount 409', async () => {
    const { order } = await paidOrder(t, 5000);
    const first = await refund(t, order.id, { merchantRefundNo: 'R-A', amount: 700 }).expect(201);
    const again = await refund(t, order.id, { merchantRefundNo: 'R-A', amount: 700 }).expect(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await refund(t, order.id, { merchantRefundNo: 'R-A', amount: 701 }).expect(409);
    expect(other.body).toMatchObject({
      code: 'REFUND_CONFLICT',
      message: expect.stringContaining('R-A'),
    });
    expect((await getOrder(t, order.id)).refundedAmount).toBe(700);
  });

  it('10 concurrent requests with one merchantRefundNo: one refund, one channel call', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        refund(t, order.id, { merchantRefundNo: 'SAME', amount: 900 }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([
      200, 200, 200, 200, 200, 200, 200, 200, 200, 201,
    ]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect((await sandboxTrade(t, payment.outTradeNo)).refunds).toHaveLength(1);
    expect((await getOrder(t, order.id)).refundedAmount).toBe(900);
  });

  it('above what remains: 409 REFUND_EXCEEDS_PAID naming the remaining amount; nothing written', async () => {
    const { order } = await paidOrder(t, 5000);
    await refund(t, order.id, { merchantRefundNo: 'X-1', amount: 3000 }).expect(201);
    const res = await refund(t, order.id, { merchantRefundNo: 'X-2', amount: 2001 }).expect(409);
    expect(res.body).toMatchObject({ code: 'REFUND_EXCEEDS_PAID' });
    expect(res.body.message).toContain('2000 fen');
    const list = await t.http.get(`/api/orders/${order.id}/refunds`).set(t.merchant).expect(200);
    expect(list.body.items).toHaveLength(1);
    expect(await reserved(t, order.id)).toBe(0);
  });

  it('unpaid or closed orders cannot be refunded (409); bad fields are 400 naming the field', async () => {
    const { order: pending } = await orderWithAlipayAttempt(t, 'qr');
    const unpaid = await refund(t, pending.id, { merchantRefundNo: 'N-1', amount: 100 }).expect(
      409,
    );
    expect(unpaid.body).toMatchObject({
      code: 'ORDER_NOT_REFUNDABLE',
      message: expect.stringContaining('PENDING'),
    });
    await t.http.post(`/api/orders/${pending.id}/close`).set(t.merchant).expect(200);
    const closed = await refund(t, pending.id, { merchantRefundNo: 'N-1', amount: 100 }).expect(
      409,
    );
    expect(closed.body.message).toContain('CLOSED');

    const { order } = await paidOrder(t, 5000);
    const cases: [Record<string, unknown>, string][] = [
      [{ amount: 100 }, 'merchantRefundNo'],
      [{ merchantRefundNo: 'has space', amount: 100 }, 'merchantRefundNo'],
      [{ merchantRefundNo: 'B-1' }, 'amount'],
      [{ merchantRefundNo: 'B-1', amount: 0 }, 'amount'],
      [{ merchantRefundNo: 'B-1', amount: 10.5 }, 'amount'],
      [{ merchantRefundNo: 'B-1', amount: '100' }, 'amount'],
      [{ merchantRefundNo: 'B-1', amount: 2 ** 53 + 2 }, 'amount'],
      [{ merchantRefundNo: 'B-1', amount: 100, reason: 'x'.repeat(257) }, 'reason'],
      [{ merchantRefundNo: 'B-1', amount: 100, extra: true }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const res = await refund(t, order.id, body).expect(400);
      expect(res.body.message).toContain(field);
    }
    await t.http
      .post('/api/orders/ord_unknown000000000000000000/refunds')
      .set(t.merchant)
      .send({ merchantRefundNo: 'U', amount: 1 })
      .expect(404);
    await t.http.get('/api/refunds/ref_unknown000000000000000000').set(t.merchant).expect(404);
    expect((await getOrder(t, order.id)).refundedAmount).toBe(0);
  });

  it('merchant key only: a client secret gets 403, no key 401', async () => {
    const { order } = await paidOrder(t, 5000);
    const secret = { 'X-Client-Secret': order.clientSecret };
    await t.http
      .post(`/api/orders/${order.id}/refunds`)
      .set(secret)
      .send({ merchantRefundNo: 'C', amount: 1 })
      .expect(403);
    await t.http.get(`/api/orders/${order.id}/refunds`).set(secret).expect(403);
    await t.http
      .post(`/api/orders/${order.id}/refunds`)
      .send({ merchantRefundNo: 'C', amount: 1 })
      .expect(401);
    await t.http.get(`/api/orders/${order.id}/refunds`).set(t.admin).expect(403);
  });

  it('20 concurrent refunds of 10.00 on a 50.00 order with a slow channel: never more than 50.00, no 5xx', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    await refundFault(t, payment.outTradeNo, { outcome: 'delay', delayMs: 200, times: 20 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        refund(t, order.id, { merchantRefundNo: `P-${i}`, amount: 1000 }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(15);
    for (const a of answers.filter((x) => x.status === 409))
      expect(a.body.code).toBe('REFUND_EXCEEDS_PAID');
    for (const a of answers.filter((x) => x.status === 201))
      expect(a.body.status).toBe('SUCCEEDED');
    // The channel was never asked for more than remained: every call it got, it carried out.
    const trade = await sandboxTrade(t, payment.outTradeNo);
    expect(trade.refunds).toHaveLength(5);
    expect(trade.refundedAmountFen).toBe(5000);
    expect(await getOrder(t, order.id)).toMatchObject({ status: 'REFUNDED', refundedAmount: 5000 });
    expect(await reserved(t, order.id)).toBe(0);
  });

  it('a timeout leaves the refund PENDING with its amount held; the sync job settles it without a second refund', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    // Alipay refunds at once but answers after the client gave up.
    await refundFault(t, payment.outTradeNo, { outcome: 'delay', delayMs: CLIENT_TIMEOUT_MS * 3 });
    const res = await refund(t, order.id, { merchantRefundNo: 'TO-1', amount: 2000 }).expect(201);
    expect(res.body.status).toBe('PENDING');
    expect(await getOrder(t, order.id)).toMatchObject({ status: 'PAID', refundedAmount: 0 });
    expect(await reserved(t, order.id)).toBe(2000);
    // The held amount is not refundable twice.
    const over = await refund(t, order.id, { merchantRefundNo: 'TO-2', amount: 3001 }).expect(409);
    expect(over.body.message).toContain('3000 fen');

    expect(await syncJob.run(later())).toBeGreaterThanOrEqual(1);
    const settled = await t.http.get(`/api/refunds/${res.body.id}`).set(t.merchant).expect(200);
    expect(settled.body.status).toBe('SUCCEEDED');
    expect(await getOrder(t, order.id)).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refundedAmount: 2000,
    });
    expect(await reserved(t, order.id)).toBe(0);
    expect((await sandboxTrade(t, payment.outTradeNo)).refunds).toHaveLength(1);
    expect(await eventTypes(t, order.id)).toEqual(['order.paid', 'refund.succeeded']);
  });

  it('an unsure ACQ.SYSTEM_ERROR stays PENDING; the job finds Alipay never refunded and re-sends the same number', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    await refundFault(t, payment.outTradeNo, { outcome: 'system_error' });
    const res = await refund(t, order.id, { merchantRefundNo: 'SE-1', amount: 1500 }).expect(201);
    expect(res.body.status).toBe('PENDING');
    expect((await sandboxTrade(t, payment.outTradeNo)).refunds).toHaveLength(0);
    await syncJob.run(later());
    const settled = await t.http.get(`/api/refunds/${res.body.id}`).set(t.merchant).expect(200);
    expect(settled.body.status).toBe('SUCCEEDED');
    const trade = await sandboxTrade(t, payment.outTradeNo);
    expect(trade.refunds).toEqual([
      expect.objectContaining({ outRequestNo: res.body.outRefundNo, refundAmountFen: 1500 }),
    ]);
    expect((await getOrder(t, order.id)).refundedAmount).toBe(1500);
  });

  it('a certain failure is FAILED at once, the reservation released, and a new refund can take the amount', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    await refundFault(t, payment.outTradeNo, { outcome: 'fail' });
    const failed = await refund(t, order.id, { merchantRefundNo: 'F-1', amount: 5000 }).expect(201);
    expect(failed.body).toMatchObject({
      status: 'FAILED',
      failureReason: expect.stringContaining('ACQ.SELLER_BALANCE_NOT_ENOUGH'),
    });
    expect(await getOrder(t, order.id)).toMatchObject({ status: 'PAID', refundedAmount: 0 });
    expect(await reserved(t, order.id)).toBe(0);
    await refund(t, order.id, { merchantRefundNo: 'F-2', amount: 5000 }).expect(201);
    expect(await getOrder(t, order.id)).toMatchObject({ status: 'REFUNDED', refundedAmount: 5000 });
    expect(await eventTypes(t, order.id)).toEqual([
      'order.paid',
      'refund.failed',
      'refund.succeeded',
    ]);
    const [payload] = (await t.dataSource.query(
      "SELECT payload FROM webhook_events WHERE order_id = ? AND type = 'refund.failed'",
      [order.id],
    )) as { payload: string }[];
    expect(JSON.parse(payload.payload).data).toMatchObject({
      id: failed.body.id,
      status: 'FAILED',
    });
  });

  it('a process dying between the reservation and the channel call: the job sends it once, nothing lost', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    // reserve() is what commits before the channel call; the process "dies" right after it.
    const { refund: pending } = await t.app
      .get(RefundsService)
      .reserve(order.id, { merchantRefundNo: 'K-1', amount: 2500 });
    expect(await reserved(t, order.id)).toBe(2500);
    expect((await sandboxTrade(t, payment.outTradeNo)).refunds).toHaveLength(0);
    await syncJob.run(later());
    expect((await sandboxTrade(t, payment.outTradeNo)).refunds).toHaveLength(1);
    expect(await getOrder(t, order.id)).toMatchObject({ refundedAmount: 2500 });
    expect((await t.app.get(RefundsService).get(pending.id)).status).toBe('SUCCEEDED');
    // Asking again with the same merchantRefundNo after the "restart" changes nothing.
    await refund(t, order.id, { merchantRefundNo: 'K-1', amount: 2500 }).expect(200);
    expect((await sandboxTrade(t, payment.outTradeNo)).refunds).toHaveLength(1);
  });

  it('a process dying after Alipay refunded but before it was recorded: the job finds it, no second refund', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    const { refund: pending } = await t.app
      .get(RefundsService)
      .reserve(order.id, { merchantRefundNo: 'K-2', amount: 1200 });
    await t.app.get(AlipayProvider).refund({
      outTradeNo: payment.outTradeNo,
      outRefundNo: pending.outRefundNo,
      amount: 1200,
      totalAmount: 5000,
    });
    await syncJob.run(later());
    expect((await t.app.get(RefundsService).get(pending.id)).status).toBe('SUCCEEDED');
    const trade = await sandboxTrade(t, payment.outTradeNo);
    expect(trade.refunds).toHaveLength(1);
    expect(trade.refundedAmountFen).toBe(1200);
    expect((await getOrder(t, order.id)).refundedAmount).toBe(1200);
  });

  it("Alipay's refund notification is kept in the inbox and changes nothing else, even TRADE_CLOSED after a full refund", async () => {
    const { order, payment } = await paidOrder(t, 5000);
    await refund(t, order.id, { merchantRefundNo: 'NT-1', amount: 5000 }).expect(201);
    // The sandbox sends TRADE_CLOSED with refund_fee after the full refund.
    await eventually(async () => {
      const rows = (await t.dataSource.query(
        "SELECT kind, outcome FROM channel_notifications WHERE out_trade_no = ? AND kind = 'refund'",
        [payment.outTradeNo],
      )) as { kind: string; outcome: string }[];
      expect(rows).toEqual([{ kind: 'refund', outcome: 'processed' }]);
    });
    expect(await getOrder(t, order.id)).toMatchObject({ status: 'REFUNDED', refundedAmount: 5000 });
    expect(await eventTypes(t, order.id)).toEqual(['order.paid', 'refund.succeeded']);

    // A validly signed refund notification for a paid order with no refund: still PAID.
    const { order: other, payment: otherPayment } = await paidOrder(t, 5000);
    await postNotify(
      t,
      signAlipayNotification(t, {
        out_trade_no: otherPayment.outTradeNo,
        total_amount: '50.00',
        trade_status: 'TRADE_CLOSED',
        refund_fee: '50.00',
        gmt_refund: '2024-01-01 12:05:00.000',
        gmt_close: '2024-01-01 12:05:00',
        out_biz_no: 'NOT-OURS',
      }),
    ).expect(200, 'success');
    expect(await getOrder(t, other.id)).toMatchObject({ status: 'PAID', refundedAmount: 0 });
    expect(await eventTypes(t, other.id)).toEqual(['order.paid']);
  });

  it('a refund notification for a PENDING refund makes the sync job look at it now', async () => {
    const { order, payment } = await paidOrder(t, 5000);
    await refundFault(t, payment.outTradeNo, { outcome: 'delay', delayMs: CLIENT_TIMEOUT_MS * 3 });
    const res = await refund(t, order.id, { merchantRefundNo: 'NP-1', amount: 1000 }).expect(201);
    expect(res.body.status).toBe('PENDING');
    // Alipay's own refund notification arrives (the sandbox sent it when it refunded).
    await eventually(async () => {
      const [row] = (await t.dataSource.query('SELECT next_query_at FROM refunds WHERE id = ?', [
        res.body.id,
      ])) as { next_query_at: string | Date }[];
      const at =
        row.next_query_at instanceof Date
          ? row.next_query_at
          : new Date(`${row.next_query_at.replace(' ', 'T')}Z`);
      expect(at.getTime()).toBeLessThanOrEqual(Date.now());
    });
    expect(await syncJob.run(new Date())).toBeGreaterThanOrEqual(1);
    expect((await t.app.get(RefundsService).get(res.body.id)).status).toBe('SUCCEEDED');
  });

  it('admin: refunds by status, kind and order, paged; the order detail shows them; stuck ones listed', async () => {
    const { order } = await paidOrder(t, 5000);
    const a = await refund(t, order.id, { merchantRefundNo: 'AD-1', amount: 100 }).expect(201);
    const b = await refund(t, order.id, { merchantRefundNo: 'AD-2', amount: 200 }).expect(201);
    const page1 = await t.http
      .get('/admin/refunds')
      .query({ orderId: order.id, limit: 1 })
      .set(t.admin)
      .expect(200);
    expect(page1.body.items.map((r: RefundBody) => r.id)).toEqual([b.body.id]);
    const page2 = await t.http
      .get('/admin/refunds')
      .query({ orderId: order.id, limit: 1, cursor: page1.body.nextCursor })
      .set(t.admin)
      .expect(200);
    expect(page2.body.items.map((r: RefundBody) => r.id)).toEqual([a.body.id]);
    expect(page2.body.nextCursor).toBeNull();
    const succeeded = await t.http
      .get('/admin/refunds')
      .query({ orderId: order.id, status: 'SUCCEEDED', kind: 'merchant' })
      .set(t.admin)
      .expect(200);
    expect(succeeded.body.items).toHaveLength(2);
    await t.http.get('/admin/refunds').query({ status: 'DONE' }).set(t.admin).expect(400);
    await t.http.get('/admin/refunds').query({ kind: 'other' }).set(t.admin).expect(400);
    await t.http.get('/admin/refunds').query({ cursor: 'bm9wZQ' }).set(t.admin).expect(400);
    await t.http.get('/admin/refunds').set(t.merchant).expect(403);
    const detail = await t.http.get(`/admin/orders/${order.id}`).set(t.admin).expect(200);
    expect(detail.body.refunds.map((r: RefundBody) => r.id)).toEqual([a.body.id, b.body.id]);

    const { order: slow, payment } = await paidOrder(t, 5000);
    await refundFault(t, payment.outTradeNo, { outcome: 'system_error' });
    const stuck = await refund(t, slow.id, { merchantRefundNo: 'ST-1', amount: 100 }).expect(201);
    await t.dataSource.query('UPDATE refunds SET created_at = ? WHERE id = ?', [
      '2020-01-01 00:00:00.000',
      stuck.body.id,
    ]);
    const list = await t.http.get('/admin/refunds/stuck').set(t.admin).expect(200);
    expect(list.body.items.map((r: RefundBody) => r.id)).toContain(stuck.body.id);
    expect(list.body.items.map((r: RefundBody) => r.id)).not.toContain(a.body.id);
  });
});

describe('refunds paygate makes by itself (e2e)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await startApp(FAST);
    // A second instance on the same database, calling the first one's sandbox as its Alipay.
    const keys = sandboxKeys(a) as ReturnType<typeof sandboxKeys> & {
      appPrivateKeyPem: string;
      gatewayPublicKeyPem: string;
    };
    b = await startApp({
      ...FAST,
      DB_PATH: join(a.dataDir, 'paygate.sqlite'),
      ALIPAY_APP_ID: keys.appId,
      ALIPAY_PRIVATE_KEY: keys.appPrivateKeyPem,
      ALIPAY_PUBLIC_KEY: keys.gatewayPublicKeyPem,
      ALIPAY_GATEWAY: `${a.url}/sandbox/alipay/gateway.do`,
    });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  /** An order paid twice at the sandbox: a QR attempt and a page attempt, both paid. */
  async function paidTwice() {
    const { order, payment } = await orderWithAlipayAttempt(a, 'qr', { amount: 3000 });
    const page = await a.http
      .post(`/api/orders/${order.id}/payments`)
      .set(a.merchant)
      .send({ channel: 'alipay', method: 'page' })
      .expect(201);
    const url = new URL(page.body.action.url);
    await a.http.get(`${url.pathname}${url.search}`).expect(302); // the browser opens the cashier
    await sandboxPay(a, payment.outTradeNo).expect(200);
    await eventually(async () => expect(await orderStatus(a, order.id)).toBe('PAID'));
    await sandboxPay(a, page.body.outTradeNo).expect(200);
    await eventually(async () => {
      const rows = (await a.dataSource.query(
        'SELECT anomaly FROM payments WHERE out_trade_no = ?',
        [page.body.outTradeNo],
      )) as { anomaly: string }[];
      expect(rows[0].anomaly).toBe('DUPLICATE');
    });
    return { order, first: payment, second: page.body as { id: string; outTradeNo: string } };
  }

  it('a duplicate payment is refunded in full exactly once, with two instances running the job at once', async () => {
    const { order, second } = await paidTwice();
    const services = [a.app.get(RefundsService), b.app.get(RefundsService)];
    const jobs = [a.app.get(AutoRefundsJob), b.app.get(AutoRefundsJob)];
    // The jobs (one holds the lease) and the services behind them, bypassing the lease, all at once.
    await Promise.all([
      ...jobs.map((j) => j.run()),
      ...services.map((s) => s.startDueAutoRefunds(100)),
    ]);
    const refunds = (
      await a.http.get(`/api/orders/${order.id}/refunds`).set(a.merchant).expect(200)
    ).body.items as RefundBody[];
    expect(refunds).toEqual([
      expect.objectContaining({
        kind: 'duplicate_payment',
        amount: 3000,
        status: 'SUCCEEDED',
        merchantRefundNo: null,
      }),
    ]);
    const trade = await sandboxTrade(a, second.outTradeNo);
    expect(trade.refunds).toHaveLength(1);
    expect(trade.refundedAmountFen).toBe(3000);
    // The order's own payment is untouched: duplicates never count towards refundedAmount.
    expect(await getOrder(a, order.id)).toMatchObject({ status: 'PAID', refundedAmount: 0 });
    // Later runs find nothing to do.
    await Promise.all(services.map((s) => s.startDueAutoRefunds(100)));
    expect((await sandboxTrade(a, second.outTradeNo)).refunds).toHaveLength(1);
    const toRefund = await a.http.get('/admin/payments/to-refund').set(a.admin).expect(200);
    const entry = toRefund.body.items.find(
      (e: { payment: { id: string } }) => e.payment.id === second.id,
    );
    expect(entry).toMatchObject({
      anomaly: 'DUPLICATE',
      refund: { kind: 'duplicate_payment', status: 'SUCCEEDED' },
    });
    expect(await eventTypes(a, order.id)).toEqual(['order.paid', 'refund.succeeded']);
  });

  it('an automatic refund whose answer is lost is settled by the sync job, still once', async () => {
    const { second } = await paidTwice();
    await refundFault(a, second.outTradeNo, { outcome: 'system_error' });
    expect(await a.app.get(RefundsService).startDueAutoRefunds(100)).toBeGreaterThanOrEqual(1);
    await a.app.get(SyncPendingRefundsJob).run(later());
    const trade = await sandboxTrade(a, second.outTradeNo);
    expect(trade.refunds).toHaveLength(1);
    expect(trade.status).toBe('TRADE_CLOSED');
  });
});

describe('late payments under LATE_PAYMENT_POLICY=refund (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...FAST, LATE_PAYMENT_POLICY: 'refund' });
  });
  afterAll(async () => t.close());

  it('the order stays CLOSED and the late payment is refunded in full, once', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr', { amount: 4200 });
    await t.http.post(`/api/orders/${order.id}/close`).set(t.merchant).expect(200);
    await sandboxPay(t, payment.outTradeNo, { force: true }).expect(200);
    await eventually(async () => {
      const rows = (await t.dataSource.query('SELECT anomaly FROM payments WHERE id = ?', [
        payment.id,
      ])) as {
        anomaly: string;
      }[];
      expect(rows[0].anomaly).toBe('LATE_REFUND');
    });
    await t.app.get(AutoRefundsJob).run();
    const refunds = (
      await t.http.get(`/api/orders/${order.id}/refunds`).set(t.merchant).expect(200)
    ).body.items as RefundBody[];
    expect(refunds).toEqual([
      expect.objectContaining({ kind: 'late_payment', amount: 4200, status: 'SUCCEEDED' }),
    ]);
    expect(await getOrder(t, order.id)).toMatchObject({ status: 'CLOSED', refundedAmount: 0 });
    expect((await sandboxTrade(t, payment.outTradeNo)).refundedAmountFen).toBe(4200);
    await t.app.get(AutoRefundsJob).run();
    expect((await sandboxTrade(t, payment.outTradeNo)).refunds).toHaveLength(1);
    expect(await eventTypes(t, order.id)).toEqual(['order.closed', 'refund.succeeded']);
  });
});

describe('hostile input (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(FAST);
  });
  afterAll(async () => t.close());

  it('JSON nested 10,000 levels deep is a 400, on every JSON route', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const deepMetadata = `{"merchantOrderNo":"${uniqueNo()}","amount":100,"subject":"s","metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    for (const [path, body] of [
      ['/api/orders', deep],
      ['/api/orders', deepMetadata],
      ['/api/orders/ord_x/refunds', deep],
      ['/api/orders/ord_x/payments', deep],
    ]) {
      const res = await t.http
        .post(path)
        .set(t.merchant)
        .set('Content-Type', 'application/json')
        .send(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: 'MALFORMED_BODY',
        message: expect.stringContaining('nested'),
      });
    }
    // Ordinary nesting still passes.
    const ok = `{"merchantOrderNo":"${uniqueNo()}","amount":100,"subject":"s","metadata":${'{"a":'.repeat(20)}1${'}'.repeat(20)}}`;
    await t.http
      .post('/api/orders')
      .set(t.merchant)
      .set('Content-Type', 'application/json')
      .send(ok)
      .expect(201);
  });

  it('repeated query keys, bracketed keys and numbers past 2^53 are 400s, never 5xx', async () => {
    const queries = [
      '/admin/orders?status=PAID&status=PAID',
      '/admin/orders?limit=9007199254740993',
      '/admin/orders?a[b][c][d]=1',
      '/admin/refunds?status=PENDING&status=FAILED',
      '/admin/refunds?limit=1e400',
      '/admin/webhooks/deliveries?orderId=a&orderId=b',
    ];
    for (const q of queries) {
      const res = await t.http.get(q).set(t.admin);
      expect([q, res.status]).toEqual([q, 400]);
    }
    const merchant = await t.http
      .get('/api/orders?merchantOrderNo=a&merchantOrderNo=b')
      .set(t.merchant);
    expect(merchant.status).toBe(400);
    const big = await t.http
      .post('/api/orders')
      .set(t.merchant)
      .set('Content-Type', 'application/json')
      .send('{"merchantOrderNo":"BIG-1","amount":90071992547409930000,"subject":"s"}');
    expect(big.status).toBe(400);
    expect(big.body.message).toContain('amount');
    // Deep form keys at the Alipay callback: refused as a channel would be, not a 5xx.
    const form = await postNotify(t, 'a[b][c][d][e]=1&a=2&sign=x');
    expect(form.status).toBe(200);
    expect(form.text).toBe('fail');
  });
});
