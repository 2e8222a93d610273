import { JobLeaseService } from '../src/database/job-lease.service';
import { CloseExpiredOrdersJob } from '../src/jobs/close-expired-orders.job';
import { CloseOtherAttemptsJob } from '../src/jobs/close-other-attempts.job';
import { SyncPendingPaymentsJob } from '../src/jobs/sync-pending-payments.job';
import {
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  sandboxPay,
} from './support/alipay-sandbox';
import { TestApp, startApp } from './support/test-app';

const events = async (t: TestApp, orderId: string) =>
  (
    (await t.dataSource.query(
      'SELECT type FROM webhook_events WHERE order_id = ? ORDER BY created_at',
      [orderId],
    )) as { type: string }[]
  ).map((e) => e.type);

const expire = (t: TestApp, orderId: string) =>
  t.dataSource.query('UPDATE orders SET expires_at = ? WHERE id = ?', [
    '2020-01-01 00:00:00.000',
    orderId,
  ]);

describe('scheduled jobs (e2e)', () => {
  let t: TestApp;
  let closeJob: CloseExpiredOrdersJob;
  let syncJob: SyncPendingPaymentsJob;
  beforeAll(async () => {
    // JOBS_ENABLED=false: no timers; the tests run one batch at a time.
    t = await startApp({ SANDBOX_TIME_SCALE: '0.0005', INSTANCE_ID: 'jobs-test' });
    closeJob = t.app.get(CloseExpiredOrdersJob);
    syncJob = t.app.get(SyncPendingPaymentsJob);
  });
  afterAll(async () => t.close());

  it('close-expired-orders closes an expired order at the channel, then locally', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    await expire(t, order.id);
    expect(await closeJob.run()).toBeGreaterThanOrEqual(1);
    expect(await orderStatus(t, order.id)).toBe('CLOSED');
    const trade = await t.http
      .get(`/sandbox/alipay/control/trades/${payment.outTradeNo}`)
      .expect(200);
    expect(trade.body.status).toBe('TRADE_CLOSED');
    expect(await events(t, order.id)).toEqual(['order.closed']);
  });

  it('an expired order that was paid at the last moment ends PAID', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    await t.http
      .post(`/sandbox/alipay/control/trades/${payment.outTradeNo}/mark-paid`)
      .send({})
      .expect(200);
    await expire(t, order.id);
    await closeJob.run();
    expect(await orderStatus(t, order.id)).toBe('PAID');
    expect(await events(t, order.id)).toEqual(['order.paid']);
  });

  it('sync-pending-payments finds a payment whose notification never came', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    await t.http
      .post(`/sandbox/alipay/control/trades/${payment.outTradeNo}/mark-paid`)
      .send({})
      .expect(200);
    // Nothing is due yet: the first query waits a minute.
    await syncJob.run(new Date());
    expect(await orderStatus(t, order.id)).toBe('PENDING');
    await syncJob.run(new Date(Date.now() + 2 * 60_000));
    expect(await orderStatus(t, order.id)).toBe('PAID');
    expect(await events(t, order.id)).toEqual(['order.paid']);
  });

  it('an attempt still unpaid is queried again later, with back-off', async () => {
    const { payment } = await orderWithAlipayAttempt(t, 'qr');
    const before = Date.now();
    await syncJob.run(new Date(before + 2 * 60_000));
    const [row] = (await t.dataSource.query(
      'SELECT status, query_attempts, next_query_at FROM payments WHERE out_trade_no = ?',
      [payment.outTradeNo],
    )) as { status: string; query_attempts: number; next_query_at: string | Date }[];
    expect(row.status).toBe('PENDING');
    expect(Number(row.query_attempts)).toBe(1);
    const next = new Date(
      row.next_query_at instanceof Date
        ? row.next_query_at
        : `${row.next_query_at.replace(' ', 'T')}Z`,
    ).getTime();
    expect(next).toBeGreaterThan(before + 3 * 60_000);
  });

  describe('close-other-attempts', () => {
    /** A paid order with a second attempt (page) opened at the sandbox before the payment. */
    async function paidWithSecondAttempt() {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      const page = await t.http
        .post(`/api/orders/${order.id}/payments`)
        .set(t.merchant)
        .send({ channel: 'alipay', method: 'page' })
        .expect(201);
      const url = new URL(page.body.action.url);
      await t.http.get(`${url.pathname}${url.search}`).expect(302);
      await sandboxPay(t, payment.outTradeNo).expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      return { order, second: page.body as { id: string; outTradeNo: string } };
    }
    const attempt = async (outTradeNo: string) =>
      (
        (await t.dataSource.query(
          'SELECT status, anomaly, refund_due_at FROM payments WHERE out_trade_no = ?',
          [outTradeNo],
        )) as { status: string; anomaly: string | null; refund_due_at: unknown }[]
      )[0];

    it('once an order is paid, its other open attempt is closed at the channel, once', async () => {
      const { order, second } = await paidWithSecondAttempt();
      const job = t.app.get(CloseOtherAttemptsJob);
      expect(await job.run()).toBeGreaterThanOrEqual(1);
      expect((await attempt(second.outTradeNo)).status).toBe('CLOSED');
      const trade = await t.http
        .get(`/sandbox/alipay/control/trades/${second.outTradeNo}`)
        .expect(200);
      expect(trade.body.status).toBe('TRADE_CLOSED');
      // The buyer can no longer pay the second trade.
      await sandboxPay(t, second.outTradeNo).expect(409);
      expect(await orderStatus(t, order.id)).toBe('PAID');
      expect(await events(t, order.id)).toEqual(['order.paid']);
    });

    it('an attempt that was paid too before the job reached it takes the duplicate path', async () => {
      const { order, second } = await paidWithSecondAttempt();
      await t.http
        .post(`/sandbox/alipay/control/trades/${second.outTradeNo}/mark-paid`)
        .send({})
        .expect(200);
      await t.app.get(CloseOtherAttemptsJob).run();
      const row = await attempt(second.outTradeNo);
      expect(row).toMatchObject({ status: 'SUCCEEDED', anomaly: 'DUPLICATE' });
      expect(row.refund_due_at).not.toBeNull();
      expect(await orderStatus(t, order.id)).toBe('PAID');
      expect(await events(t, order.id)).toEqual(['order.paid']);
    });
  });

  it('one instance at a time holds a job lease', async () => {
    const leases = t.app.get(JobLeaseService);
    const name = `lease-test-${Date.now()}`;
    expect(await leases.tryAcquire(name, 'a', 60_000)).toBe(true);
    expect(await leases.tryAcquire(name, 'b', 60_000)).toBe(false);
    expect(await leases.tryAcquire(name, 'a', 60_000)).toBe(true);
    await leases.release(name, 'a');
    expect(await leases.tryAcquire(name, 'b', 60_000)).toBe(true);
  });

  it('a lease that ran out can be taken by another instance', async () => {
    const leases = t.app.get(JobLeaseService);
    const name = `lease-expiry-${Date.now()}`;
    const past = new Date(Date.now() - 120_000);
    expect(await leases.tryAcquire(name, 'crashed', 60_000, past)).toBe(true);
    expect(await leases.tryAcquire(name, 'survivor', 60_000)).toBe(true);
  });
});

describe('close-expired-orders with a backlog (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Batches of 2: a backlog of 5 is more than two batches.
    t = await startApp({ INSTANCE_ID: 'jobs-backlog-test', JOBS_BATCH_SIZE: '2' });
  });
  afterAll(async () => t.close());

  it('one run goes on batch after batch until the backlog is closed, each trade closed once', async () => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await orderWithAlipayAttempt(t, 'qr'));
    for (const { order } of made) await expire(t, order.id);
    await t.app.get(JobLeaseService).release('close-expired-orders', 'jobs-test');
    expect(await t.app.get(CloseExpiredOrdersJob).run()).toBeGreaterThanOrEqual(5);
    for (const { order, payment } of made) {
      expect(await orderStatus(t, order.id)).toBe('CLOSED');
      const trade = await t.http
        .get(`/sandbox/alipay/control/trades/${payment.outTradeNo}`)
        .expect(200);
      expect(trade.body).toMatchObject({ status: 'TRADE_CLOSED', closeCalls: 1 });
    }
  });
});
