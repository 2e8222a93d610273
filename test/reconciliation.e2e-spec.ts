import { ProviderRegistry } from '../src/payments/provider-registry';
import { BillError, BillRow } from '../src/payments/payment-provider';
import { ReconcileJob } from '../src/jobs/reconcile.job';
import { ReconciliationService } from '../src/reconciliation/reconciliation.service';
import { beijingDate, beijingDayRange } from '../src/reconciliation/beijing-day';
import { sqlTime } from '../src/database/sql-time';
import {
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  sandboxPay,
} from './support/alipay-sandbox';
import { eventTypes, startApp, TestApp } from './support/test-app';

interface RunBody {
  id: string;
  status: string;
  error: string | null;
  counts: Record<'channelRows' | 'localRows' | 'matched' | 'discrepancies' | 'healed', number>;
}

interface DiscrepancyBody {
  id: string;
  type: string;
  kind: string;
  outTradeNo: string | null;
  outRefundNo: string | null;
  healed: boolean;
  resolvedAt: string | null;
  note: string | null;
}

/**
 * The scripted rows in batches, as a provider yields them; an odd size, so that
 * the run's own batches of a thousand straddle them.
 */
async function* inBatches(rows: AsyncIterable<BillRow>, size = 7): AsyncGenerator<BillRow[]> {
  let batch: BillRow[] = [];
  for await (const row of rows) {
    batch.push(row);
    if (batch.length < size) continue;
    yield batch;
    batch = [];
  }
  if (batch.length > 0) yield batch;
}

/**
 * Reconciliation against a bill the test writes itself: the Alipay provider's
 * downloadBill is replaced by one that yields rows made from our own records
 * plus the faults under test, so every discrepancy type, healing and the
 * failure paths are checked exactly, whatever else the database holds.
 */
describe('reconciliation (scripted bills)', () => {
  let t: TestApp;
  let bill: (date: string) => AsyncIterable<BillRow>;
  const today = beijingDate(new Date());

  beforeAll(async () => {
    t = await startApp();
    const provider = t.app.get(ProviderRegistry).get('alipay');
    provider.downloadBill = (date: string) => inBatches(bill(date));
  });
  afterAll(() => t.close());

  async function paidOrder(amount = 8880) {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr', { amount });
    await sandboxPay(t, payment.outTradeNo).expect(200);
    await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
    return { order, payment };
  }

  /** Our succeeded Alipay payments and refunds of a Beijing day, as a faithful bill would list them. */
  async function faithfulBill(date: string): Promise<BillRow[]> {
    const { from, to } = beijingDayRange(date);
    const pays: { out_trade_no: string; amount: number | string; channel_trade_no: string }[] =
      await t.dataSource.query(
        "SELECT out_trade_no, amount, channel_trade_no FROM payments WHERE channel = 'alipay' AND status = 'SUCCEEDED' AND paid_at >= ? AND paid_at < ?",
        [sqlTime(from), sqlTime(to)],
      );
    const refunds: { out_trade_no: string; out_refund_no: string; amount: number | string }[] =
      await t.dataSource.query(
        "SELECT out_trade_no, out_refund_no, amount FROM refunds WHERE channel = 'alipay' AND status = 'SUCCEEDED' AND succeeded_at >= ? AND succeeded_at < ?",
        [sqlTime(from), sqlTime(to)],
      );
    return [
      ...pays.map((p) => ({
        kind: 'payment' as const,
        outTradeNo: p.out_trade_no,
        channelTradeNo: p.channel_trade_no,
        amount: Number(p.amount),
        channelStatus: '交易',
        fee: '-0.05',
      })),
      ...refunds.map((r) => ({
        kind: 'refund' as const,
        outTradeNo: r.out_trade_no,
        outRefundNo: r.out_refund_no,
        amount: Number(r.amount),
        channelStatus: '退款',
        fee: '0.01',
      })),
    ];
  }

  async function finished(id: string): Promise<RunBody> {
    return eventually(
      async () => {
        const res = await t.http.get(`/admin/reconciliations/${id}`).set(t.admin).expect(200);
        expect(res.body.status).not.toBe('RUNNING');
        return res.body;
      },
      20_000,
      50,
    );
  }

  async function reconcile(date = today): Promise<RunBody> {
    const res = await t.http
      .post('/admin/reconciliations')
      .set(t.admin)
      .send({ channel: 'alipay', date })
      .expect(201);
    expect(res.body).toMatchObject({ channel: 'alipay', date, status: 'RUNNING' });
    return finished(res.body.id);
  }

  async function discrepancies(runId: string, query = ''): Promise<DiscrepancyBody[]> {
    const items: DiscrepancyBody[] = [];
    let cursor = '';
    do {
      const res = await t.http
        .get(
          `/admin/reconciliations/${runId}/discrepancies?limit=200${query}${cursor ? `&cursor=${cursor}` : ''}`,
        )
        .set(t.admin)
        .expect(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor ?? '';
    } while (cursor);
    return items;
  }

  it('finds every kind of discrepancy, heals what the channel proves, and counts the rest as matched', async () => {
    const matched = await paidOrder(1000);
    const altered = await paidOrder(2000);
    const dropped = await paidOrder(3000);
    const refunded = await paidOrder(5000);
    const refund = await t.http
      .post(`/api/orders/${refunded.order.id}/refunds`)
      .set(t.merchant)
      .send({ merchantRefundNo: 'RF-1', amount: 1200 })
      .expect(201);
    expect(refund.body.status).toBe('SUCCEEDED');
    // Paid at Alipay, but the notification never came: we hold it unpaid.
    const silent = await orderWithAlipayAttempt(t, 'qr', { amount: 4000 });
    await sandboxPay(t, silent.payment.outTradeNo, { notify: 'drop' }).expect(200);

    bill = async function* (date) {
      for (const row of await faithfulBill(date)) {
        if (row.outTradeNo === dropped.payment.outTradeNo) continue;
        if (row.outTradeNo === altered.payment.outTradeNo) yield { ...row, amount: 1999 };
        else if (row.kind === 'refund' && row.outRefundNo === refund.body.outRefundNo)
          yield { ...row, amount: 1100 };
        else yield row;
      }
      yield {
        kind: 'payment',
        outTradeNo: silent.payment.outTradeNo,
        amount: 4000,
        channelStatus: '交易',
      };
      yield {
        kind: 'payment',
        outTradeNo: 'STRANGER00000000000000000000001',
        amount: 777,
        channelStatus: '交易',
      };
      yield {
        kind: 'refund',
        outTradeNo: matched.payment.outTradeNo,
        outRefundNo: 'UNKNOWNREFUND0001',
        amount: 5,
        channelStatus: '退款',
      };
    };

    const run = await reconcile();
    expect(run.status).toBe('COMPLETED');
    expect(run.error).toBeNull();
    const found = await discrepancies(run.id);
    const of = (key: string) => found.filter((d) => d.outTradeNo === key || d.outRefundNo === key);

    expect(of(matched.payment.outTradeNo).filter((d) => d.kind === 'payment')).toEqual([]);
    expect(of(altered.payment.outTradeNo)).toEqual([
      expect.objectContaining({
        type: 'AMOUNT_MISMATCH',
        kind: 'payment',
        channelAmount: 1999,
        localAmount: 2000,
        localStatus: 'SUCCEEDED',
        healed: false,
      }),
    ]);
    expect(of(dropped.payment.outTradeNo)).toEqual([
      expect.objectContaining({
        type: 'MISSING_REMOTE',
        kind: 'payment',
        channelAmount: null,
        localAmount: 3000,
        channelStatus: null,
      }),
    ]);
    expect(of(refund.body.outRefundNo)).toEqual([
      expect.objectContaining({
        type: 'AMOUNT_MISMATCH',
        kind: 'refund',
        channelAmount: 1100,
        localAmount: 1200,
      }),
    ]);
    expect(of('STRANGER00000000000000000000001')).toEqual([
      expect.objectContaining({
        type: 'MISSING_LOCAL',
        kind: 'payment',
        channelAmount: 777,
        localAmount: null,
        localStatus: null,
        channelStatus: '交易',
      }),
    ]);
    expect(of('UNKNOWNREFUND0001')).toEqual([
      expect.objectContaining({
        type: 'MISSING_LOCAL',
        kind: 'refund',
        channelAmount: 5,
        localAmount: null,
      }),
    ]);
    const healed = of(silent.payment.outTradeNo);
    expect(healed).toEqual([
      expect.objectContaining({
        type: 'STATUS_MISMATCH',
        kind: 'payment',
        channelAmount: 4000,
        localStatus: 'PENDING',
        healed: true,
      }),
    ]);
    expect(healed[0].resolvedAt).not.toBeNull();

    // Healed through the notification path: the order is PAID, order.paid was written once,
    // and the inbox says where the news came from.
    expect(await orderStatus(t, silent.order.id)).toBe('PAID');
    expect((await eventTypes(t, silent.order.id)).filter((e) => e === 'order.paid')).toHaveLength(
      1,
    );
    const inbox: { source_ip: string; outcome: string; body: string }[] = await t.dataSource.query(
      'SELECT source_ip, outcome, body FROM channel_notifications WHERE out_trade_no = ?',
      [silent.payment.outTradeNo],
    );
    expect(inbox).toEqual([
      expect.objectContaining({ source_ip: 'reconciliation', outcome: 'processed' }),
    ]);
    expect(JSON.parse(inbox[0].body)).toMatchObject({
      source: 'reconciliation',
      ref: run.id,
      status: 'PAID',
    });

    expect(run.counts.discrepancies).toBe(found.length);
    expect(run.counts.healed).toBe(found.filter((d) => d.healed).length);
    expect(run.counts.channelRows).toBe(
      run.counts.matched + found.filter((d) => d.type !== 'MISSING_REMOTE').length,
    );
    expect(run.counts.localRows).toBeGreaterThanOrEqual(5);

    // Filters, and the same list as CSV for the finance team.
    const missing = await discrepancies(run.id, '&type=MISSING_LOCAL');
    expect(missing.map((d) => d.type)).toEqual(['MISSING_LOCAL', 'MISSING_LOCAL']);
    expect((await discrepancies(run.id, '&resolved=true')).map((d) => d.id)).toEqual([
      healed[0].id,
    ]);
    const csv = await t.http
      .get(`/admin/reconciliations/${run.id}/discrepancies?format=csv`)
      .set(t.admin)
      .expect(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.text
      .replace(/^\uFEFF/, '')
      .trim()
      .split(/\r?\n/);
    expect(lines[0]).toBe(
      'id,runId,type,kind,outTradeNo,outRefundNo,channelTradeNo,channelAmount,localAmount,channelStatus,localStatus,healed,resolvedAt,note',
    );
    expect(lines).toHaveLength(found.length + 1);
    expect(csv.text).toContain('STRANGER00000000000000000000001');

    // A person resolves what paygate could not.
    const stranger = of('STRANGER00000000000000000000001')[0];
    const resolved = await t.http
      .post(`/admin/reconciliations/discrepancies/${stranger.id}/resolve`)
      .set(t.admin)
      .send({ note: 'paid through the old shop system; booked by hand' })
      .expect(200);
    expect(resolved.body).toMatchObject({
      id: stranger.id,
      note: 'paid through the old shop system; booked by hand',
    });
    expect(resolved.body.resolvedAt).not.toBeNull();
    const again = await t.http
      .post(`/admin/reconciliations/discrepancies/${stranger.id}/resolve`)
      .set(t.admin)
      .send({ note: 'twice' })
      .expect(409);
    expect(again.body.code).toBe('DISCREPANCY_RESOLVED');

    // Running the same day again is a new run; the healed payment now simply matches.
    const second = await reconcile();
    expect(second.id).not.toBe(run.id);
    const secondFound = await discrepancies(second.id);
    expect(secondFound.filter((d) => d.outTradeNo === silent.payment.outTradeNo)).toEqual([]);
    const list = await t.http
      .get(`/admin/reconciliations?channel=alipay&date=${today}`)
      .set(t.admin)
      .expect(200);
    expect(list.body.items.map((r: { id: string }) => r.id).slice(0, 2)).toEqual([
      second.id,
      run.id,
    ]);
  });

  it('a bill that breaks half-way leaves a FAILED run with a clear error and nothing recorded', async () => {
    await paidOrder(1500);
    bill = async function* () {
      for (let i = 0; i < 2500; i++)
        yield {
          kind: 'payment',
          outTradeNo: `NOBODY${String(i).padStart(20, '0')}`,
          amount: 100,
          channelStatus: '交易',
        };
      throw new BillError(
        'alipay',
        'corrupt',
        'row 2502 of the detail file: 订单金额（元） is not an amount: "1.2.3"',
      );
    };
    const run = await reconcile();
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe(
      'the bill is corrupt: row 2502 of the detail file: 订单金额（元） is not an amount: "1.2.3"',
    );
    expect(run.counts).toEqual({
      channelRows: 0,
      localRows: 0,
      matched: 0,
      discrepancies: 0,
      healed: 0,
    });
    expect(await discrepancies(run.id)).toEqual([]);
    const kept: { c: number | string }[] = await t.dataSource.query(
      'SELECT COUNT(*) AS c FROM reconciliation_bill_keys WHERE run_id = ?',
      [run.id],
    );
    expect(Number(kept[0].c)).toBe(0);
  });

  it('a bill that lists a trade twice completes, with its key kept once and nothing reported missing', async () => {
    const twice = await paidOrder(3100);
    bill = async function* (date) {
      const rows = await faithfulBill(date);
      yield* rows;
      yield* rows.filter((r) => r.outTradeNo === twice.payment.outTradeNo);
    };
    const run = await reconcile();
    expect(run.status).toBe('COMPLETED');
    const kept: { c: number | string }[] = await t.dataSource.query(
      "SELECT COUNT(*) AS c FROM reconciliation_bill_keys WHERE run_id = ? AND kind = 'P' AND out_key = ?",
      [run.id, twice.payment.outTradeNo],
    );
    expect(Number(kept[0].c)).toBe(1);
    expect(
      (await discrepancies(run.id)).filter((d) => d.outTradeNo === twice.payment.outTradeNo),
    ).toEqual([]);
  });

  it('a bill that is not ready is a FAILED run saying so; the daily job tries again and completes', async () => {
    let asked = 0;
    bill = async function* (date) {
      asked++;
      if (asked === 1) throw new BillError('alipay', 'not_ready', 'isp.bill_not_exist: 账单不存在');
      yield* await faithfulBill(date);
    };
    const operator = await reconcile();
    expect(operator).toMatchObject({
      status: 'FAILED',
      error: 'the bill is not ready yet: isp.bill_not_exist: 账单不存在',
    });

    // The daily job, at 10:31 Beijing the next day: the bill of `today` is the day before.
    asked = 0;
    const job = t.app.get(ReconcileJob);
    const { to } = beijingDayRange(today);
    const at1031 = new Date(to.getTime() + (10 * 60 + 31) * 60_000);
    const first = await job.run(at1031);
    expect(first).toBeGreaterThanOrEqual(1);
    const daily = (
      await t.http.get(`/admin/reconciliations?channel=alipay&date=${today}`).set(t.admin)
    ).body.items[0];
    expect(daily).toMatchObject({ status: 'FAILED', error: expect.stringContaining('not ready') });
    // Not again before 30 minutes have passed…
    await job.run(new Date(at1031.getTime() + 10 * 60_000));
    expect((await t.http.get(`/admin/reconciliations/${daily.id}`).set(t.admin)).body.status).toBe(
      'FAILED',
    );
    // …then it is the same run, completed.
    await job.run(new Date(at1031.getTime() + 31 * 60_000));
    const retried = (await t.http.get(`/admin/reconciliations/${daily.id}`).set(t.admin)).body;
    expect(retried.status).toBe('COMPLETED');
    expect(asked).toBe(2);
    // Before RECONCILE_AT nothing starts.
    const before = new Date(to.getTime() + 24 * 3600_000 + 9 * 3600_000);
    expect(await job.run(before)).toBe(0);
  });

  it("a payment booked by the channel on the next day is reported once, then resolved by the next day's bill", async () => {
    const late = await paidOrder(2500);
    // Paid at 23:59:59.500 yesterday (Beijing) by our clock; the channel books it today.
    const yesterday = beijingDate(new Date(Date.now() - 24 * 3600_000));
    const lastMoment = new Date(beijingDayRange(yesterday).to.getTime() - 500);
    await t.dataSource.query('UPDATE payments SET paid_at = ? WHERE out_trade_no = ?', [
      sqlTime(lastMoment),
      late.payment.outTradeNo,
    ]);
    bill = async function* (date) {
      yield* (await faithfulBill(date)).filter((r) => r.outTradeNo !== late.payment.outTradeNo);
      if (date === today)
        yield {
          kind: 'payment',
          outTradeNo: late.payment.outTradeNo,
          amount: 2500,
          channelStatus: '交易',
        };
    };
    const first = await reconcile(yesterday);
    const reported = (await discrepancies(first.id)).filter(
      (d) => d.outTradeNo === late.payment.outTradeNo,
    );
    expect(reported).toEqual([
      expect.objectContaining({ type: 'MISSING_REMOTE', resolvedAt: null }),
    ]);

    const next = await reconcile(today);
    expect(
      (await discrepancies(next.id)).filter((d) => d.outTradeNo === late.payment.outTradeNo),
    ).toEqual([]);
    const after = await t.http
      .get(`/admin/reconciliations/${first.id}/discrepancies?type=MISSING_REMOTE`)
      .set(t.admin);
    const resolved = after.body.items.find(
      (d: DiscrepancyBody) => d.outTradeNo === late.payment.outTradeNo,
    );
    expect(resolved.resolvedAt).not.toBeNull();
    expect(resolved.note).toBe(`found in the alipay bill of ${today} (run ${next.id})`);
  });

  it('two instances make one daily run per channel and day; a run left behind is handed back', async () => {
    const other = await startApp({}, { dataDir: t.dataDir });
    try {
      other.app.get(ProviderRegistry).get('alipay').downloadBill = (date: string) =>
        inBatches(bill(date));
      bill = async function* (date) {
        await new Promise((r) => setTimeout(r, 50));
        yield* await faithfulBill(date);
      };
      // A day of its own, so that the earlier tests' daily runs do not count.
      const day = beijingDate(new Date(Date.now() - 3 * 24 * 3600_000));
      const at = new Date(beijingDayRange(day).to.getTime() + 11 * 3600_000);
      const services = [t, other].map((a) => a.app.get(ReconciliationService));
      const signal = new AbortController().signal;
      await Promise.all([...services, ...services].map((s) => s.runDaily(signal, at)));
      const runs: { id: string; status: string }[] = await t.dataSource.query(
        "SELECT id, status FROM reconciliation_runs WHERE channel = 'alipay' AND bill_date = ? AND schedule_key IS NOT NULL",
        [day],
      );
      expect(runs).toEqual([expect.objectContaining({ status: 'COMPLETED' })]);

      // An operator's run whose instance died: RUNNING with a lease long run out.
      const stale = 'rec_STALE0000000000000000000';
      await t.dataSource.query(
        "INSERT INTO reconciliation_runs (id, channel, bill_date, status, attempts, owner, lease_until, channel_rows, local_rows, matched, discrepancies, healed, started_at) VALUES (?, 'alipay', ?, 'RUNNING', 1, 'gone-instance', ?, 0, 0, 0, 0, 0, ?)",
        [
          stale,
          day,
          sqlTime(new Date(Date.now() - 600_000)),
          sqlTime(new Date(Date.now() - 900_000)),
        ],
      );
      await services[1].runDaily(signal, new Date());
      const handed = (await t.http.get(`/admin/reconciliations/${stale}`).set(t.admin).expect(200))
        .body;
      expect(handed).toMatchObject({
        status: 'FAILED',
        error: 'the instance running it (gone-instance) stopped before it finished',
      });
    } finally {
      await other.close();
    }
  });

  it('refuses bad input with the field named', async () => {
    const bad = async (body: Record<string, unknown>, field: RegExp) => {
      const res = await t.http.post('/admin/reconciliations').set(t.admin).send(body).expect(400);
      expect(res.body.message).toMatch(field);
    };
    await bad({ channel: 'paypal', date: today }, /^channel must be one of alipay, wechat/);
    await bad({ channel: 'alipay', date: '2024-02-30' }, /^date must be a calendar date/);
    await bad({ channel: 'alipay' }, /date/);
    await bad({ channel: 'alipay', date: '2999-01-01' }, /^date: 2999-01-01 is in the future/);
    await t.http.get('/admin/reconciliations/rec_unknown').set(t.admin).expect(404);
    await t.http.get('/admin/reconciliations/rec_unknown/discrepancies').set(t.admin).expect(404);
    const res = await t.http
      .get('/admin/reconciliations/x/discrepancies?type=NOPE')
      .set(t.admin)
      .expect(400);
    expect(res.body.message).toMatch(/^type must be one of MISSING_LOCAL/);
    await t.http
      .post('/admin/reconciliations/discrepancies/dsc_x/resolve')
      .set(t.admin)
      .send({ note: '  ' })
      .expect(400);
    await t.http
      .post('/admin/reconciliations/discrepancies/dsc_x/resolve')
      .set(t.admin)
      .send({ note: 'ok' })
      .expect(404);
    await t.http
      .post('/admin/reconciliations')
      .set(t.merchant)
      .send({ channel: 'alipay', date: today })
      .expect(403);
    await t.http
      .post('/admin/reconciliations')
      .send({ channel: 'alipay', date: today })
      .expect(401);
  });
});
