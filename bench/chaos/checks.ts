/**
 * What the chaos run checks at the end, against the database, the merchant's
 * receiver and the simulator's own records (never against paygate's answers
 * alone). Each broken rule is one line in `violations`.
 */
import type mysql from 'mysql2/promise';
import type { ChaosOrder, Sent } from '../chaos';
import type { ProxyFigures } from './round-robin-proxy';
import type { SimTrade, SimulatorControl } from './simulator';

export interface RunRecord {
  sent: Sent[];
  /** When mariadbd was down (killed → answering again). */
  outages: { from: number; to: number }[];
  events: { at: number; what: string }[];
  notes: Record<string, number>;
  hostile?: { at: number; kind: string; path: string; status: number | string; refused: boolean }[];
  refundRaces?: { orderId: string; amountFen: number; part: number; statuses: number[] }[];
}

/** After mariadbd answers again, instances may take a few seconds to get their connections back. */
const OUTAGE_GRACE_MS = 10_000;

type Row = Record<string, string | number | null>;

async function rows(conn: mysql.Connection, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [result] = await conn.query(sql, params);
  return result as Row[];
}

const num = (v: string | number | null | undefined) => Number(v ?? 0);

export async function checkRun(opts: {
  conn: mysql.Connection;
  control: SimulatorControl;
  receiverUrl: string;
  orders: ChaosOrder[];
  record: RunRecord;
  settleUntil: number;
  runEnd: number;
  proxy: ProxyFigures;
}): Promise<{ violations: string[]; report: string[] }> {
  const { conn, control, record } = opts;
  const violations: string[] = [];
  const report: string[] = [];
  const inOutage = (at: number) =>
    record.outages.some((o) => at >= o.from && at <= (o.to || Date.now()) + OUTAGE_GRACE_MS);

  const simTrades = async () => [
    ...(await control.trades('alipay')),
    ...(await control.trades('wechat')),
  ];
  const receiverEvents = async () =>
    (await (await fetch(`${opts.receiverUrl}/events/chaos`)).json()) as Record<
      string,
      { type: string; orderId: string | null; count: number }
    >;

  // ---- the bounded wait ------------------------------------------------------------
  let converged = false;
  let trades: SimTrade[] = await simTrades();
  let paidNos = new Set(trades.filter((t) => t.paid).map((t) => t.outTradeNo));
  let lastState = '';
  while (Date.now() < opts.settleUntil) {
    const [{ n: applied }] = await rows(
      conn,
      `SELECT COUNT(*) AS n FROM payments WHERE status = 'SUCCEEDED'`,
    );
    const [{ n: pendingRefunds }] = await rows(
      conn,
      `SELECT COUNT(*) AS n FROM refunds WHERE status = 'PENDING'`,
    );
    const [{ n: pendingDeliveries }] = await rows(
      conn,
      `SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'`,
    );
    const unsettled = trades.some((t) => t.refunds.some((r) => !r.settled));
    lastState = `${applied}/${paidNos.size} payments applied, ${pendingRefunds} refunds pending, ${pendingDeliveries} webhooks pending`;
    if (
      num(applied) >= paidNos.size &&
      num(pendingRefunds) === 0 &&
      num(pendingDeliveries) === 0 &&
      !unsettled
    ) {
      converged = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 3000));
    trades = await simTrades();
    paidNos = new Set(trades.filter((t) => t.paid).map((t) => t.outTradeNo));
  }
  const convergeSeconds = (Date.now() - opts.runEnd) / 1000;
  if (!converged) {
    violations.push(
      `not converged within ${((opts.settleUntil - opts.runEnd) / 1000).toFixed(0)} s: ${lastState}`,
    );
  }
  trades = await simTrades();

  // ---- payments: paid at the channel ⇔ paid here, once, for the right amount -------
  const payments = await rows(
    conn,
    'SELECT p.out_trade_no, p.status, p.amount, p.order_id FROM payments p',
  );
  const orderRows = await rows(
    conn,
    `SELECT id, merchant_order_no, status, amount, paid_amount, refunded_amount FROM orders
     WHERE merchant_order_no LIKE 'CHAOS-%' OR merchant_order_no LIKE 'HOSTILE%'`,
  );
  const orderById = new Map(orderRows.map((o) => [String(o.id), o]));
  const paymentByNo = new Map(payments.map((p) => [String(p.out_trade_no), p]));
  const succeededByOrder = new Map<string, number>();
  for (const p of payments) {
    if (p.status === 'SUCCEEDED')
      succeededByOrder.set(String(p.order_id), (succeededByOrder.get(String(p.order_id)) ?? 0) + 1);
  }
  const PAID_STATES = new Set(['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED']);
  for (const t of trades) {
    const p = paymentByNo.get(t.outTradeNo);
    if (!p) {
      violations.push(`${t.channel} trade ${t.outTradeNo} has no payment in the database`);
      continue;
    }
    const order = orderById.get(String(p.order_id));
    if (t.paid) {
      if (p.status !== 'SUCCEEDED')
        violations.push(`${t.outTradeNo}: paid at ${t.channel}, payment ${p.status}`);
      if (num(p.amount) !== t.totalFen)
        violations.push(`${t.outTradeNo}: channel amount ${t.totalFen}, payment ${p.amount}`);
      if (!order || !PAID_STATES.has(String(order.status)))
        violations.push(`${t.outTradeNo}: paid at ${t.channel}, order ${order?.status}`);
      else if (num(order.paid_amount) !== t.totalFen)
        violations.push(
          `order ${order.id}: paid_amount ${order.paid_amount}, channel ${t.totalFen}`,
        );
    } else if (p.status === 'SUCCEEDED') {
      violations.push(`${t.outTradeNo}: SUCCEEDED here, unpaid at ${t.channel}`);
    }
  }
  for (const o of orderRows) {
    const succeeded = succeededByOrder.get(String(o.id)) ?? 0;
    if (PAID_STATES.has(String(o.status)) && succeeded !== 1)
      violations.push(`order ${o.id} is ${o.status} with ${succeeded} succeeded payments`);
    if (!PAID_STATES.has(String(o.status)) && succeeded > 0)
      violations.push(`order ${o.id} is ${o.status} but has ${succeeded} succeeded payments`);
  }
  for (const o of opts.orders.filter((x) => x.role === 'decoy')) {
    const row = orderById.get(o.orderId);
    if (!row || PAID_STATES.has(String(row.status)))
      violations.push(`decoy order ${o.orderId} (never paid) is ${row?.status}`);
  }
  const paidOrders = orderRows.filter((o) => PAID_STATES.has(String(o.status)));

  // ---- merchant events: one order.paid per paid order, each delivered ---------------
  const events = await rows(
    conn,
    `SELECT e.id, e.order_id, e.type FROM webhook_events e JOIN orders o ON o.id = e.order_id
     WHERE o.merchant_order_no LIKE 'CHAOS-%'`,
  );
  const paidEvents = new Map<string, string[]>();
  for (const e of events)
    if (e.type === 'order.paid')
      paidEvents.set(String(e.order_id), [
        ...(paidEvents.get(String(e.order_id)) ?? []),
        String(e.id),
      ]);
  const received = await receiverEvents();
  for (const o of paidOrders) {
    const ids = paidEvents.get(String(o.id)) ?? [];
    if (ids.length !== 1) violations.push(`order ${o.id}: ${ids.length} order.paid events`);
  }
  let undelivered = 0;
  for (const e of events) {
    if (!received[String(e.id)]) {
      undelivered += 1;
      if (undelivered <= 50)
        violations.push(
          `event ${e.id} (${e.type}, order ${e.order_id}) never reached the merchant`,
        );
    }
  }
  if (undelivered > 50)
    violations.push(`… ${undelivered - 50} more events never reached the merchant`);
  const [webhookTries] = await rows(
    conn,
    `SELECT COUNT(*) AS deliveries, SUM(attempts) AS attempts FROM webhook_deliveries`,
  );

  // ---- refunds: never above what was paid; every refund the channel made recorded ----
  const refunds = await rows(
    conn,
    `SELECT r.out_refund_no, r.order_id, r.amount, r.status, r.kind, r.merchant_refund_no FROM refunds r`,
  );
  const refundByNo = new Map(refunds.map((r) => [String(r.out_refund_no), r]));
  const refundedByOrder = new Map<string, number>();
  for (const r of refunds) {
    if (r.kind === 'merchant' && r.status === 'SUCCEEDED')
      refundedByOrder.set(
        String(r.order_id),
        (refundedByOrder.get(String(r.order_id)) ?? 0) + num(r.amount),
      );
    if (String(r.merchant_refund_no ?? '').startsWith('HOSTILE'))
      violations.push(`refund ${r.out_refund_no} was made by a hostile request`);
  }
  for (const o of orderRows) {
    const refunded = refundedByOrder.get(String(o.id)) ?? 0;
    if (refunded > num(o.paid_amount))
      violations.push(`order ${o.id}: refunded ${refunded} > paid ${o.paid_amount}`);
    if (refunded !== num(o.refunded_amount))
      violations.push(
        `order ${o.id}: refunded_amount ${o.refunded_amount}, succeeded refunds ${refunded}`,
      );
  }
  let channelRefunds = 0;
  for (const t of trades) {
    const sum = t.refunds.reduce((s, r) => s + r.amountFen, 0);
    if (sum > t.totalFen)
      violations.push(`${t.outTradeNo}: the channel refunded ${sum} > ${t.totalFen}`);
    for (const r of t.refunds) {
      channelRefunds += 1;
      const local = refundByNo.get(r.outRefundNo);
      if (!local)
        violations.push(`${t.channel} refund ${r.outRefundNo} of ${t.outTradeNo} is not recorded`);
      else if (num(local.amount) !== r.amountFen || local.status !== 'SUCCEEDED')
        violations.push(
          `refund ${r.outRefundNo}: channel ${r.amountFen} fen, here ${local.amount} ${local.status}`,
        );
    }
  }
  const channelRefundNos = new Set(trades.flatMap((t) => t.refunds.map((r) => r.outRefundNo)));
  for (const r of refunds) {
    if (r.status === 'SUCCEEDED' && !channelRefundNos.has(String(r.out_refund_no)))
      violations.push(`refund ${r.out_refund_no} SUCCEEDED here, unknown to the channel`);
  }
  const races = record.refundRaces ?? [];
  const raceAccepted = races.reduce((s, r) => s + r.statuses.filter((x) => x === 201).length, 0);
  const raceRefused = races.reduce((s, r) => s + r.statuses.filter((x) => x === 409).length, 0);

  // ---- no 5xx outside the outage; during it, retry answers then applied ------------
  let outside5xx = 0;
  let during5xx = 0;
  for (const s of record.sent) {
    if (typeof s.status === 'number' && s.status >= 500) {
      if (inOutage(s.at)) during5xx += 1;
      else {
        outside5xx += 1;
        if (outside5xx <= 20)
          violations.push(
            `${s.what} answered ${s.status} at ${new Date(s.at).toISOString()}, outside the database outage`,
          );
      }
    }
  }
  let notifications = 0;
  let attempts = 0;
  let retryAnswers = 0;
  let retryAnswersInOutage = 0;
  for (const t of trades) {
    for (const n of t.notifications) {
      if (n.tamper) continue;
      notifications += 1;
      attempts += n.attempts.length;
      if (!n.acknowledged)
        violations.push(
          `${t.channel} ${n.event} notification of ${t.outTradeNo} never acknowledged${n.gaveUp ? ' (gave up)' : ''}`,
        );
      for (const a of n.attempts) {
        if (a.acknowledged) continue;
        retryAnswers += 1;
        const at = Date.parse(a.at);
        if (inOutage(at)) retryAnswersInOutage += 1;
        else if (a.httpStatus !== null && a.httpStatus >= 500)
          violations.push(
            `${t.channel} notification of ${t.outTradeNo} answered ${a.httpStatus} at ${a.at}, outside the outage`,
          );
      }
    }
  }
  const [inbox] = await rows(
    conn,
    `SELECT COUNT(*) AS total, SUM(outcome = 'duplicate') AS duplicates, SUM(outcome LIKE 'rejected%') AS rejected
     FROM channel_notifications`,
  );

  // ---- the hostile requests changed nothing ----------------------------------------
  const hostile = record.hostile ?? [];
  const byKind = new Map<string, { n: number; wrong: number }>();
  for (const h of hostile) {
    const k = byKind.get(h.kind) ?? { n: 0, wrong: 0 };
    k.n += 1;
    const fiveXX = typeof h.status === 'number' && h.status >= 500;
    if (!h.refused && !(fiveXX && inOutage(h.at))) {
      k.wrong += 1;
      if (k.wrong <= 5) violations.push(`hostile ${h.kind} ${h.path} answered ${h.status}`);
    }
    byKind.set(h.kind, k);
  }
  const hostileOrders = orderRows.filter((o) => String(o.merchant_order_no).startsWith('HOSTILE'));
  for (const o of hostileOrders) violations.push(`order ${o.id} was created by a hostile request`);

  const outage = record.outages.map((o) => `${((o.to - o.from) / 1000).toFixed(1)} s`).join(', ');
  report.push(
    '',
    '## what was checked',
    `orders: ${opts.orders.length} (${paidNos.size} trades paid at the simulator, ${paidOrders.length} orders paid here)`,
    `merchant requests sent by the script: ${record.sent.length}; 5xx: ${during5xx} during the outage, ${outside5xx} outside`,
    `channel notifications: ${notifications} (${attempts} attempts, ${retryAnswers} answered "retry", ${retryAnswersInOutage} of them in the outage); inbox rows ${inbox.total}, duplicates ${inbox.duplicates}, rejected ${inbox.rejected}`,
    `mariadbd outage: ${outage}; instance 2 down ${record.notes.instanceDownSeconds?.toFixed(1)} s; proxy: ${opts.proxy.requests} requests, ${opts.proxy.retried} sent again to another instance, ${opts.proxy.unanswered} unanswered`,
    `webhook events ${events.length}, deliveries ${webhookTries.deliveries}, delivery attempts ${webhookTries.attempts}, all received: ${undelivered === 0}`,
    `refunds at the channel: ${channelRefunds}; refund races: ${races.length} orders, ${raceAccepted} accepted, ${raceRefused} refused (409)`,
    `hostile requests: ${hostile.length}, by kind: ${[...byKind].map(([k, v]) => `${k} ${v.n}${v.wrong ? ` (${v.wrong} WRONG)` : ''}`).join('; ')}`,
    `time to converge after the last payment: ${convergeSeconds.toFixed(1)} s${converged ? '' : ' (NOT converged)'}`,
  );
  return { violations, report };
}
