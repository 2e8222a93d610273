import { Logger } from '@nestjs/common';
import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { newId } from '../src/common/ids/ids';
import { sqlTime } from '../src/database/sql-time';
import { UnitOfWork } from '../src/database/unit-of-work';
import { DeliverWebhooksJob } from '../src/jobs/deliver-webhooks.job';
import { WebhookEventType } from '../src/webhooks/entities/webhook-event.entity';
import { WebhookDeliveryService } from '../src/webhooks/webhook-delivery.service';
import { WebhookOutboxService } from '../src/webhooks/webhook-outbox.service';
import { signWebhook, verifyWebhookSignature } from '../src/webhooks/webhook-signer';
import {
  PaygateEvent,
  paygateWebhooks,
  verifyPaygateSignature,
} from './support/paygate-webhook-recipe';
import { TestApp, WEBHOOK_SECRET, freePort, orderInput, startApp } from './support/test-app';
import { Receiver, answers, eventually, listen, startReceiver } from './support/webhook-receiver';

const SCHEDULE_S = [15, 60, 300, 900, 3600, 10_800, 21_600, 43_200];
const DAY_MS = 24 * 3600_000;
const isMysql = (process.env.DB_TYPE ?? 'sqlite') === 'mysql';

/** JSON answers, read loosely as supertest's `body` is. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/**
 * On MySQL every suite and every earlier run share one database, and the
 * deliveries they left PENDING point at receivers long gone. They are marked
 * failed before each test so that batches hold only this test's deliveries.
 */
async function parkPendingDeliveries(ds: DataSource): Promise<void> {
  await ds.query(
    "UPDATE webhook_deliveries SET status = 'FAILED', claimed_by = NULL, claimed_until = NULL WHERE status = 'PENDING'",
  );
}

/** Creates an order (with notifyUrl when given) and closes it: one `order.closed` event. */
async function closedOrder(t: TestApp, notifyUrl?: string): Promise<Json> {
  const created = await t.http
    .post('/api/orders')
    .set(t.merchant)
    .send(orderInput(notifyUrl ? { notifyUrl } : {}))
    .expect(201);
  const closed = await t.http
    .post(`/api/orders/${created.body.id}/close`)
    .set(t.merchant)
    .expect(200);
  expect(closed.body.status).toBe('CLOSED');
  return closed.body;
}

/** The order as webhooks carry it: the public shape without the client secret. */
function asWebhookData(order: Json): Json {
  const { clientSecret: _secret, ...data } = order;
  return data;
}

async function deliveriesOf(t: TestApp, orderId: string): Promise<Json[]> {
  const res = await t.http
    .get('/admin/webhooks/deliveries')
    .query({ orderId })
    .set(t.admin)
    .expect(200);
  return res.body.items;
}

async function detail(t: TestApp, id: string): Promise<Json> {
  return (await t.http.get(`/admin/webhooks/deliveries/${id}`).set(t.admin).expect(200)).body;
}

const at = (iso: string, plusMs = 0): Date => new Date(Date.parse(iso) + plusMs);

/**
 * Starts `second` in a later macrotask. Two apps in one process on one SQLite
 * file have two connections on one thread: a transaction of one begun while
 * the other's is open in the same tick would wait on SQLite's busy timeout,
 * which blocks the very thread that must finish the other. Separate processes
 * (production) do not have this problem; on MySQL both start at once.
 */
function soonAfter<T>(second: () => Promise<T>): Promise<T> {
  if (isMysql) return second();
  return new Promise<void>((resolve) => setImmediate(resolve)).then(second);
}

/**
 * Writes events straight into the outbox in one transaction, oldest first and
 * all due already, each with `data: {orderId, seq}` (seq: its place in `events`).
 */
async function writeEvents(
  t: TestApp,
  events: { url: string; orderId: string; type?: WebhookEventType }[],
): Promise<void> {
  const outbox = t.app.get(WebhookOutboxService);
  const t0 = Date.now() - 60_000;
  await t.app.get(UnitOfWork).run(async (tx) => {
    for (const [seq, e] of events.entries()) {
      await outbox.enqueue(
        tx,
        {
          type: e.type ?? 'order.paid',
          orderId: e.orderId,
          data: { orderId: e.orderId, seq },
          notifyUrl: e.url,
        },
        new Date(t0 + seq),
      );
    }
  });
}

/** `count` events of as many orders, all to `url`. */
const eventsTo = (url: string, count: number) =>
  Array.from({ length: count }, () => ({ url, orderId: newId('ord') }));

async function countDeliveries(t: TestApp, url: string, status: string): Promise<number> {
  const [row] = await t.dataSource.query(
    'SELECT COUNT(*) AS n FROM webhook_deliveries WHERE url = ? AND status = ?',
    [url, status],
  );
  return Number(row.n);
}

/**
 * A receiver answering 200 after `delayMs` that counts how many requests it
 * holds at once; `onRequest` may act before the answer.
 */
async function countingReceiver(
  delayMs: number,
  onRequest: (body: Json) => Promise<void> | void = () => undefined,
) {
  const bodies: Json[] = [];
  const stats = { inFlight: 0, maxInFlight: 0 };
  const server = await listen((req, res) => {
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
      bodies.push(body);
      void Promise.resolve(onRequest(body)).then(() =>
        setTimeout(() => {
          stats.inFlight -= 1;
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end('ok');
        }, delayMs),
      );
    });
  });
  return { url: `${server.origin}/hooks`, bodies, stats, close: server.close };
}

describe('merchant webhooks (e2e)', () => {
  let t: TestApp;
  let deliveries: WebhookDeliveryService;
  let fallback: Receiver;

  beforeAll(async () => {
    fallback = await startReceiver();
    t = await startApp({ MERCHANT_WEBHOOK_URL: fallback.url, WEBHOOK_TIMEOUT_MS: '2000' });
    deliveries = t.app.get(WebhookDeliveryService);
  });
  afterAll(async () => {
    await parkPendingDeliveries(t.dataSource);
    await t.close();
    await fallback.close();
  });
  beforeEach(() => parkPendingDeliveries(t.dataSource));

  describe('the receiver recipe from the README', () => {
    it('accepts what paygate sends and hands over the event with the order as closed', async () => {
      const events: PaygateEvent[] = [];
      const shop = express();
      shop.use(paygateWebhooks(WEBHOOK_SECRET, (event) => void events.push(event)));
      const server = await listen(shop);
      try {
        const order = await closedOrder(t, `${server.origin}/paygate/webhooks`);
        const summary = await deliveries.deliverDue(100);
        expect(summary).toMatchObject({ due: 1, delivered: 1 });
        expect(events).toEqual([
          {
            id: expect.stringMatching(/^evt_/),
            type: 'order.closed',
            createdAt: expect.any(String),
            data: asWebhookData(order),
          },
        ]);
        expect(events[0].data).not.toHaveProperty('clientSecret');
        const [delivery] = await deliveriesOf(t, order.id as string);
        expect(delivery).toMatchObject({
          eventId: events[0].id,
          eventType: 'order.closed',
          status: 'DELIVERED',
          attempts: 1,
          lastStatus: 204,
          lastError: null,
        });
      } finally {
        await server.close();
      }
    });

    it('refuses a wrong secret with 400, and paygate schedules a retry', async () => {
      const events: PaygateEvent[] = [];
      const shop = express();
      shop.use(paygateWebhooks('whsec_not_the_secret_0123456789', (e) => void events.push(e)));
      const server = await listen(shop);
      try {
        const order = await closedOrder(t, `${server.origin}/paygate/webhooks`);
        expect(await deliveries.deliverDue(100)).toMatchObject({ retrying: 1 });
        expect(events).toHaveLength(0);
        const [delivery] = await deliveriesOf(t, order.id as string);
        expect(delivery).toMatchObject({
          status: 'PENDING',
          attempts: 1,
          lastStatus: 400,
          lastError: 'HTTP 400: bad signature',
        });
      } finally {
        await server.close();
      }
    });

    it("agrees with paygate's own verifier on real requests; refuses changed bodies and stale times", async () => {
      const r = await startReceiver();
      try {
        await closedOrder(t, r.url);
        await deliveries.deliverDue(100);
        expect(r.requests).toHaveLength(1);
        const { headers, rawBody } = r.requests[0];
        const header = headers['paygate-signature'] as string;
        expect(header).toMatch(/^t=\d{10},v1=[0-9a-f]{64}$/);
        expect(verifyPaygateSignature(header, rawBody, WEBHOOK_SECRET)).toBe(true);
        expect(verifyWebhookSignature(header, rawBody, WEBHOOK_SECRET)).toBe(true);

        const changed = Buffer.from(rawBody.toString('utf8').replace('CLOSED', 'PAID'), 'utf8');
        expect(verifyPaygateSignature(header, changed, WEBHOOK_SECRET)).toBe(false);
        expect(verifyPaygateSignature(header, rawBody, 'whsec_not_the_secret_0123456789')).toBe(
          false,
        );
        const stale = signWebhook(WEBHOOK_SECRET, rawBody, Math.floor(Date.now() / 1000) - 301);
        expect(verifyPaygateSignature(stale, rawBody, WEBHOOK_SECRET)).toBe(false);
        const rotated = `${header},v1=${'0'.repeat(64)}`;
        expect(verifyPaygateSignature(rotated, rawBody, WEBHOOK_SECRET)).toBe(true);
        expect(verifyPaygateSignature(undefined, rawBody, WEBHOOK_SECRET)).toBe(false);
      } finally {
        await r.close();
      }
    });
  });

  describe('secret rotation: WEBHOOK_SECRET=new,old', () => {
    const NEW_SECRET = 'whsec_rotated_new_secret_0123456789';
    let rotating: TestApp;
    beforeAll(async () => {
      rotating = await startApp({
        WEBHOOK_SECRET: `${NEW_SECRET},${WEBHOOK_SECRET}`,
        WEBHOOK_TIMEOUT_MS: '2000',
      });
    });
    afterAll(async () => {
      await parkPendingDeliveries(rotating.dataSource);
      await rotating.close();
    });

    it('signs every request under both, new first; a receiver holding either one (the README recipe) accepts it', async () => {
      const got: Record<string, PaygateEvent[]> = { old: [], new: [] };
      const oldShop = express().use(paygateWebhooks(WEBHOOK_SECRET, (e) => void got.old.push(e)));
      const newShop = express().use(paygateWebhooks(NEW_SECRET, (e) => void got.new.push(e)));
      const [oldServer, newServer] = [await listen(oldShop), await listen(newShop)];
      const raw = await startReceiver();
      try {
        const service = rotating.app.get(WebhookDeliveryService);
        await closedOrder(rotating, `${oldServer.origin}/paygate/webhooks`);
        await closedOrder(rotating, `${newServer.origin}/paygate/webhooks`);
        await closedOrder(rotating, raw.url);
        expect(await service.deliverDue(100)).toMatchObject({ due: 3, delivered: 3 });
        expect(got.old).toHaveLength(1);
        expect(got.new).toHaveLength(1);
        const { headers, rawBody } = raw.requests[0];
        const header = headers['paygate-signature'] as string;
        expect(header).toMatch(/^t=\d{10},v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
        const t = Number(/^t=(\d+)/.exec(header)![1]);
        expect(header).toBe(signWebhook([NEW_SECRET, WEBHOOK_SECRET], rawBody, t));
        for (const secret of [NEW_SECRET, WEBHOOK_SECRET]) {
          expect(verifyPaygateSignature(header, rawBody, secret)).toBe(true);
          expect(verifyWebhookSignature(header, rawBody, secret)).toBe(true);
        }
        expect(verifyPaygateSignature(header, rawBody, 'whsec_neither_of_them_0123456789')).toBe(
          false,
        );
      } finally {
        await Promise.all([oldServer.close(), newServer.close(), raw.close()]);
      }
    });
  });

  describe('delivery', () => {
    it('sends the payload bytes stored with the change: data is the order then, not later', async () => {
      const r = await startReceiver();
      try {
        const order = await closedOrder(t, r.url);
        // A later change to the order must not leak into the event about the close.
        await t.dataSource.query('UPDATE orders SET subject = ? WHERE id = ?', [
          'Changed later',
          order.id,
        ]);
        await deliveries.deliverDue(100);
        expect(r.requests).toHaveLength(1);
        const [{ payload }] = await t.dataSource.query(
          'SELECT payload FROM webhook_events WHERE order_id = ?',
          [order.id],
        );
        const sent = r.requests[0];
        expect(sent.rawBody.toString('utf8')).toBe(payload);
        expect(sent.body.data).toEqual(asWebhookData(order));
        expect(sent.body.data.subject).toBe('Blue mug');
        expect(sent.headers['content-type']).toBe('application/json');
      } finally {
        await r.close();
      }
    });

    it('goes to MERCHANT_WEBHOOK_URL when the order has no notifyUrl', async () => {
      const before = fallback.requests.length;
      const order = await closedOrder(t);
      await deliveries.deliverDue(100);
      expect(fallback.requests.slice(before).map((q) => q.body.data.id)).toEqual([order.id]);
    });

    it('500, 500, then 200: three attempts on the schedule, delivered once', async () => {
      const r = await startReceiver(answers(500, 500, 200));
      try {
        const order = await closedOrder(t, r.url);
        await deliveries.deliverDue(100);
        expect(r.requests).toHaveLength(1);
        const [{ id }] = await deliveriesOf(t, order.id as string);
        let d = await detail(t, id as string);
        expect(d.delivery).toMatchObject({
          status: 'PENDING',
          attempts: 1,
          lastStatus: 500,
          lastError: 'HTTP 500: receiver says no',
        });
        expect(Date.parse(d.delivery.nextAttemptAt) - Date.parse(d.attempts[0].attemptedAt)).toBe(
          15_000,
        );

        // Not due yet: nothing is sent, however often the worker runs.
        await deliveries.deliverDue(100);
        await deliveries.deliverDue(100, at(d.delivery.nextAttemptAt, -1000));
        expect(r.requests).toHaveLength(1);

        await deliveries.deliverDue(100, at(d.delivery.nextAttemptAt));
        expect(r.requests).toHaveLength(2);
        d = await detail(t, id as string);
        expect(d.delivery).toMatchObject({ status: 'PENDING', attempts: 2, lastStatus: 500 });
        expect(Date.parse(d.delivery.nextAttemptAt) - Date.parse(d.attempts[1].attemptedAt)).toBe(
          60_000,
        );

        await deliveries.deliverDue(100, at(d.delivery.nextAttemptAt));
        expect(r.requests).toHaveLength(3);
        d = await detail(t, id as string);
        expect(d.delivery).toMatchObject({
          status: 'DELIVERED',
          attempts: 3,
          lastStatus: 200,
          lastError: null,
          nextAttemptAt: null,
        });
        expect(d.delivery.deliveredAt).toBe(d.attempts[2].attemptedAt);
        expect(d.attempts.map((a: Json) => [a.attemptNo, a.statusCode, a.error])).toEqual([
          [1, 500, 'HTTP 500: receiver says no'],
          [2, 500, 'HTTP 500: receiver says no'],
          [3, 200, null],
        ]);
        for (const a of d.attempts) expect(a.latencyMs).toBeGreaterThanOrEqual(0);

        // Delivered means done: a day later nothing more is sent.
        await deliveries.deliverDue(100, new Date(Date.now() + 2 * DAY_MS));
        expect(r.requests).toHaveLength(3);
        // Every attempt carried the same event, byte for byte, freshly signed.
        expect(new Set(r.requests.map((q) => q.rawBody.toString('hex'))).size).toBe(1);
        expect(r.requests[0].body.id).toBe(d.event.id);
        for (const q of r.requests) {
          const header = q.headers['paygate-signature'] as string;
          expect(verifyPaygateSignature(header, q.rawBody, WEBHOOK_SECRET)).toBe(true);
        }
      } finally {
        await r.close();
      }
    });

    it('a refused connection is retried on the whole schedule, about a day, then FAILED', async () => {
      const port = await freePort(); // nothing listens there
      const order = await closedOrder(t, `http://127.0.0.1:${port}/hooks`);
      const [{ id }] = await deliveriesOf(t, order.id as string);
      let d: Json | undefined;
      for (let attempt = 1; attempt <= 9; attempt++) {
        await deliveries.deliverDue(100, d ? at(d.delivery.nextAttemptAt) : undefined);
        d = await detail(t, id as string);
        expect(d.delivery.attempts).toBe(attempt);
        expect(d.delivery.lastStatus).toBeNull();
        expect(d.delivery.lastError).toMatch(/^connection error: ECONNREFUSED/);
        if (attempt <= 8) {
          expect(d.delivery.status).toBe('PENDING');
          const last = d.attempts[attempt - 1];
          expect(Date.parse(d.delivery.nextAttemptAt) - Date.parse(last.attemptedAt)).toBe(
            SCHEDULE_S[attempt - 1] * 1000,
          );
        }
      }
      expect(d!.delivery).toMatchObject({ status: 'FAILED', attempts: 9, nextAttemptAt: null });
      const span = Date.parse(d!.attempts[8].attemptedAt) - Date.parse(d!.attempts[0].attemptedAt);
      expect(span).toBeGreaterThanOrEqual(80_475_000); // 22.35 h of waiting
      expect(span).toBeLessThan(DAY_MS);

      await deliveries.deliverDue(100, new Date(Date.now() + 3 * DAY_MS));
      expect((await detail(t, id as string)).delivery.attempts).toBe(9);
    });

    it('an instance that died holding a claim delays the delivery only until the claim runs out', async () => {
      const r = await startReceiver();
      try {
        const order = await closedOrder(t, r.url);
        const [{ id }] = await deliveriesOf(t, order.id as string);
        const now = Date.now();
        await t.dataSource.query(
          'UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ? WHERE id = ?',
          ['dead-instance#0000', sqlTime(new Date(now + 40_000)), id],
        );
        expect((await detail(t, id as string)).delivery.claimedBy).toBe('dead-instance#0000');

        await deliveries.deliverDue(100);
        expect(r.requests).toHaveLength(0);
        await deliveries.deliverDue(100, new Date(now + 41_000));
        expect(r.requests).toHaveLength(1);
        expect((await detail(t, id as string)).delivery).toMatchObject({
          status: 'DELIVERED',
          claimedBy: null,
        });
      } finally {
        await r.close();
      }
    });

    it('sends the events of one order in the order they happened', async () => {
      const r = await startReceiver(() => 200, 5);
      try {
        const created = await t.http
          .post('/api/orders')
          .set(t.merchant)
          .send(orderInput({ notifyUrl: r.url }))
          .expect(201);
        const orderId = created.body.id as string;
        const outbox = t.app.get(WebhookOutboxService);
        const t0 = Date.now() - 1000; // in the past: all three are due at once
        const types = ['order.paid', 'refund.succeeded', 'refund.failed'] as const;
        // Written newest first, so only created_at can put them in order.
        for (const [i, type] of [...types.entries()].reverse()) {
          await t.app
            .get(UnitOfWork)
            .run((tx) =>
              outbox.enqueue(
                tx,
                { type, orderId, data: { seq: i }, notifyUrl: r.url },
                new Date(t0 + i),
              ),
            );
        }
        await deliveries.deliverDue(100);
        expect(r.requests.map((q) => q.body.type)).toEqual([...types]);
      } finally {
        await r.close();
      }
    });

    it('counts attempts in /metrics', async () => {
      const r = await startReceiver();
      try {
        await closedOrder(t, r.url);
        await deliveries.deliverDue(100);
        const metrics = await t.http.get('/metrics').expect(200);
        const line = /paygate_webhook_attempts_total\{result="delivered"\} (\d+)/.exec(
          metrics.text,
        );
        expect(Number(line?.[1])).toBeGreaterThanOrEqual(1);
      } finally {
        await r.close();
      }
    });
  });

  describe('keeping up with bursts', () => {
    it('a burst of 300 events goes out in one run, page after page, each order in event order', async () => {
      const r = await countingReceiver(3);
      try {
        // 100 orders with three events each: pages of JOBS_BATCH_SIZE (100) split some orders.
        const types: WebhookEventType[] = ['order.paid', 'refund.succeeded', 'refund.failed'];
        const events = eventsTo(r.url, 100).flatMap((e) => types.map((type) => ({ ...e, type })));
        await writeEvents(t, events);

        expect(await t.app.get(DeliverWebhooksJob).run()).toBe(300);
        expect(r.bodies).toHaveLength(300);
        expect(new Set(r.bodies.map((b) => b.id)).size).toBe(300);
        expect(await countDeliveries(t, r.url, 'DELIVERED')).toBe(300);
        const byOrder = new Map<string, Json[]>();
        for (const b of r.bodies)
          byOrder.set(b.data.orderId, [...(byOrder.get(b.data.orderId) ?? []), b]);
        expect(byOrder.size).toBe(100);
        for (const sent of byOrder.values()) {
          expect(sent.map((b) => b.type)).toEqual(types);
          expect(sent.map((b) => b.data.seq)).toEqual(
            [...sent.map((b) => b.data.seq)].sort((a, b) => a - b),
          );
        }
        // Several at once, never more than the per-destination limit.
        expect(r.stats.maxInFlight).toBeGreaterThan(1);
        expect(r.stats.maxInFlight).toBeLessThanOrEqual(8);
        const [{ n }] = await t.dataSource.query(
          `SELECT COUNT(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
            WHERE d.url = ?`,
          [r.url],
        );
        expect(Number(n)).toBe(300);
      } finally {
        await r.close();
      }
    });

    it('two deliveries running at once on one instance never send a row twice', async () => {
      const r = await countingReceiver(5);
      try {
        await writeEvents(t, eventsTo(r.url, 60));
        const [one, two, three] = await Promise.all([
          deliveries.deliverDue(100),
          deliveries.deliverDue(100),
          deliveries.drain(25),
        ]);
        expect(one.delivered + two.delivered + three.delivered).toBe(60);
        expect(one.error + two.error + three.error).toBe(0);
        expect(r.bodies).toHaveLength(60);
        expect(new Set(r.bodies.map((b) => b.id)).size).toBe(60);
        expect(await countDeliveries(t, r.url, 'DELIVERED')).toBe(60);
      } finally {
        await r.close();
      }
    });

    it('a claim lost during the POST is told apart in a batch: that row is left alone, the others recorded', async () => {
      const r = await countingReceiver(20, async (body) => {
        // Another instance takes this row over while we are sending it.
        if (body.data.seq === 2) {
          await t.dataSource.query(
            'UPDATE webhook_deliveries SET claimed_by = ? WHERE event_id = ?',
            ['other-instance#0000', body.id],
          );
        }
      });
      try {
        await writeEvents(t, eventsTo(r.url, 5));
        expect(await deliveries.deliverDue(100)).toMatchObject({
          due: 5,
          delivered: 4,
          claim_lost: 1,
          error: 0,
        });
        const rows: { status: string; attempts: number | string; claimed_by: string | null }[] =
          await t.dataSource.query(
            'SELECT status, attempts, claimed_by FROM webhook_deliveries WHERE url = ? ORDER BY created_at',
            [r.url],
          );
        expect(rows.map((d) => [d.status, Number(d.attempts), d.claimed_by])).toEqual([
          ['DELIVERED', 1, null],
          ['DELIVERED', 1, null],
          ['PENDING', 0, 'other-instance#0000'],
          ['DELIVERED', 1, null],
          ['DELIVERED', 1, null],
        ]);
        // The attempt itself is on record.
        const [{ n }] = await t.dataSource.query(
          `SELECT COUNT(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
            WHERE d.url = ?`,
          [r.url],
        );
        expect(Number(n)).toBe(5);
      } finally {
        await r.close();
      }
    });

    it('after consecutive failures a destination is paused: its due rows wait, others still go', async () => {
      const deadUrl = `http://127.0.0.1:${await freePort()}/hooks`; // nothing listens there
      const r = await startReceiver();
      try {
        await writeEvents(t, eventsTo(deadUrl, 10));
        expect(await deliveries.deliverDue(100)).toMatchObject({ due: 10, retrying: 10 });

        // Due again after 15 s, but ten failures in a row paused the destination for
        // longer: its rows are not even looked at.
        await writeEvents(t, eventsTo(r.url, 1));
        expect(await deliveries.deliverDue(100, new Date(Date.now() + 20_000))).toEqual({
          due: 1,
          delivered: 1,
          retrying: 0,
          failed: 0,
          not_claimed: 0,
          claim_lost: 0,
          error: 0,
          deferred: 0,
        });
        expect(r.requests).toHaveLength(1);
        const attempts = async () =>
          (
            (await t.dataSource.query('SELECT attempts FROM webhook_deliveries WHERE url = ?', [
              deadUrl,
            ])) as { attempts: number | string }[]
          ).map((d) => Number(d.attempts));
        expect(await attempts()).toEqual(Array(10).fill(1));

        // Once the pause is over they are tried again, on their own schedule.
        expect(await deliveries.deliverDue(100, new Date(Date.now() + 120_000))).toMatchObject({
          due: 10,
          retrying: 10,
        });
        expect(await attempts()).toEqual(Array(10).fill(2));
      } finally {
        await r.close();
      }
    });

    it('with jobs disabled, a commit wakes nothing: the event waits for a run', async () => {
      const r = await startReceiver();
      try {
        await closedOrder(t, r.url);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(r.requests).toHaveLength(0);
        expect(await deliveries.deliverDue(100)).toMatchObject({ due: 1, delivered: 1 });
      } finally {
        await r.close();
      }
    });

    it('logs each delivered webhook at debug level and one info line per drain', async () => {
      const r = await startReceiver();
      const info = jest.spyOn(Logger.prototype, 'log');
      const debug = jest.spyOn(Logger.prototype, 'debug');
      try {
        await writeEvents(t, eventsTo(r.url, 5));
        expect(await deliveries.drain(100)).toMatchObject({ delivered: 5 });
        const lines = (spy: jest.SpyInstance) =>
          spy.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith('webhook'));
        expect(lines(info)).toEqual([
          expect.stringMatching(/^webhooks: 5 delivered, 0 retrying, 0 failed in \d+ ms$/),
        ]);
        expect(lines(debug).filter((m) => m.includes(': delivered (HTTP 200'))).toHaveLength(5);
      } finally {
        info.mockRestore();
        debug.mockRestore();
        await r.close();
      }
    });
  });

  describe('admin API', () => {
    /** An order with three events: the first delivered, the other two failing and retrying. */
    async function orderWithThreeDeliveries(): Promise<{ orderId: string; ids: string[] }> {
      const r = await startReceiver(answers(200, 500));
      try {
        const created = await t.http
          .post('/api/orders')
          .set(t.merchant)
          .send(orderInput({ notifyUrl: r.url }))
          .expect(201);
        const orderId = created.body.id as string;
        const outbox = t.app.get(WebhookOutboxService);
        const t0 = Date.now() - 1000; // in the past: all three are due at once
        for (const i of [0, 1, 2]) {
          await t.app
            .get(UnitOfWork)
            .run((tx) =>
              outbox.enqueue(
                tx,
                { type: 'order.paid', orderId, data: { seq: i } },
                new Date(t0 + i),
              ),
            );
        }
        // No notifyUrl given to enqueue: these go to MERCHANT_WEBHOOK_URL; point them at r.
        await t.dataSource.query('UPDATE webhook_deliveries SET url = ? WHERE order_id = ?', [
          r.url,
          orderId,
        ]);
        await deliveries.deliverDue(100);
        expect(r.requests).toHaveLength(3);
        const items = await deliveriesOf(t, orderId);
        return { orderId, ids: items.map((d) => d.id as string) };
      } finally {
        await r.close();
      }
    }

    it('lists by order and status, newest first, in pages', async () => {
      const { orderId, ids } = await orderWithThreeDeliveries();
      expect(ids).toHaveLength(3);
      const list = (query: Json) =>
        t.http.get('/admin/webhooks/deliveries').query(query).set(t.admin).expect(200);

      const all = (await list({ orderId })).body.items as Json[];
      expect(all.map((d) => Date.parse(d.createdAt))).toEqual(
        [...all.map((d) => Date.parse(d.createdAt))].sort((a, b) => b - a),
      );
      expect(all.map((d) => d.status)).toEqual(['PENDING', 'PENDING', 'DELIVERED']);
      expect((await list({ orderId, status: 'DELIVERED' })).body.items).toHaveLength(1);
      expect((await list({ orderId, status: 'PENDING' })).body.items).toHaveLength(2);
      expect((await list({ orderId, status: 'FAILED' })).body.items).toHaveLength(0);

      const page1 = (await list({ orderId, limit: 2 })).body;
      expect(page1.items.map((d: Json) => d.id)).toEqual(ids.slice(0, 2));
      expect(page1.nextCursor).toEqual(expect.any(String));
      const page2 = (await list({ orderId, limit: 2, cursor: page1.nextCursor })).body;
      expect(page2.items.map((d: Json) => d.id)).toEqual(ids.slice(2));
      expect(page2.nextCursor).toBeNull();

      const byEvent = (await list({ eventId: all[0].eventId })).body.items as Json[];
      expect(byEvent.map((d) => d.id)).toEqual([all[0].id]);
    });

    it('shows one delivery with its event payload and every attempt', async () => {
      const { ids } = await orderWithThreeDeliveries();
      const d = await detail(t, ids[0]);
      expect(d.delivery).toMatchObject({ id: ids[0], status: 'PENDING', attempts: 1 });
      expect(d.event).toMatchObject({
        id: d.delivery.eventId,
        type: 'order.paid',
        payload: { id: d.delivery.eventId, type: 'order.paid', data: { seq: 2 } },
      });
      expect(d.attempts).toEqual([
        {
          attemptNo: 1,
          attemptedAt: expect.any(String),
          statusCode: 500,
          error: 'HTTP 500: receiver says no',
          latencyMs: expect.any(Number),
        },
      ]);
    });

    it.each([
      ['status', { status: 'LOST' }],
      ['orderId', { orderId: 'ord_short' }],
      ['eventId', { eventId: 'x' }],
      ['limit', { limit: '0' }],
      ['limit', { limit: '201' }],
      ['limit', { limit: 'ten' }],
      ['cursor', { cursor: 'not a cursor' }],
      ['cursor', { cursor: 'bm90LWEtY3Vyc29y' }],
      ['url', { url: 'x' }],
    ])('answers 400 naming %s for a bad filter', async (field, query) => {
      const res = await t.http
        .get('/admin/webhooks/deliveries')
        .query(query)
        .set(t.admin)
        .expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
      expect(res.body.message).toContain(field);
    });

    it('is for admins only', async () => {
      await t.http.get('/admin/webhooks/deliveries').expect(401);
      const res = await t.http.get('/admin/webhooks/deliveries').set(t.merchant).expect(403);
      expect(res.body.code).toBe('FORBIDDEN');
      await t.http.post('/admin/webhooks/deliveries/whd_x/redeliver').set(t.merchant).expect(403);
    });

    it('answers 404 WEBHOOK_DELIVERY_NOT_FOUND for an unknown delivery', async () => {
      for (const id of ['whd_000000000000000000000000', 'nope']) {
        const get = await t.http.get(`/admin/webhooks/deliveries/${id}`).set(t.admin).expect(404);
        expect(get.body.code).toBe('WEBHOOK_DELIVERY_NOT_FOUND');
        const post = await t.http
          .post(`/admin/webhooks/deliveries/${id}/redeliver`)
          .set(t.admin)
          .expect(404);
        expect(post.body.code).toBe('WEBHOOK_DELIVERY_NOT_FOUND');
      }
    });

    it('redeliver now: a delivered event is sent again, same id, history kept', async () => {
      const r = await startReceiver();
      try {
        const order = await closedOrder(t, r.url);
        await deliveries.deliverDue(100);
        const [{ id }] = await deliveriesOf(t, order.id as string);
        const res = await t.http
          .post(`/admin/webhooks/deliveries/${id}/redeliver`)
          .set(t.admin)
          .expect(200);
        expect(res.body.outcome).toBe('delivered');
        expect(res.body.delivery).toMatchObject({ status: 'DELIVERED', attempts: 2 });
        expect(res.body.attempts.map((a: Json) => a.statusCode)).toEqual([200, 200]);
        expect(r.requests).toHaveLength(2);
        expect(r.requests[1].body.id).toBe(r.requests[0].body.id);
        expect(r.requests[1].rawBody.equals(r.requests[0].rawBody)).toBe(true);
      } finally {
        await r.close();
      }
    });

    it('redeliver now: a FAILED delivery gets one more attempt, and is delivered once the receiver is back', async () => {
      let up = false;
      const r = await startReceiver(() => (up ? 200 : 503));
      try {
        const order = await closedOrder(t, r.url);
        const [{ id }] = await deliveriesOf(t, order.id as string);
        let d: Json | undefined;
        for (let attempt = 1; attempt <= 9; attempt++) {
          await deliveries.deliverDue(100, d ? at(d.delivery.nextAttemptAt) : undefined);
          d = await detail(t, id as string);
        }
        expect(d!.delivery).toMatchObject({ status: 'FAILED', attempts: 9, lastStatus: 503 });

        const again = await t.http
          .post(`/admin/webhooks/deliveries/${id}/redeliver`)
          .set(t.admin)
          .expect(200);
        expect(again.body.outcome).toBe('failed');
        expect(again.body.delivery).toMatchObject({ status: 'FAILED', attempts: 10 });

        up = true;
        const back = await t.http
          .post(`/admin/webhooks/deliveries/${id}/redeliver`)
          .set(t.admin)
          .expect(200);
        expect(back.body.outcome).toBe('delivered');
        expect(back.body.delivery).toMatchObject({
          status: 'DELIVERED',
          attempts: 11,
          lastStatus: 200,
        });
        expect(back.body.attempts).toHaveLength(11);
        expect(r.requests).toHaveLength(11);
      } finally {
        await r.close();
      }
    });

    it('refuses to redeliver while an instance is sending it (409), sending nothing', async () => {
      const r = await startReceiver();
      try {
        const order = await closedOrder(t, r.url);
        const [{ id }] = await deliveriesOf(t, order.id as string);
        await t.dataSource.query(
          'UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ? WHERE id = ?',
          ['other-instance#0000', sqlTime(new Date(Date.now() + 30_000)), id],
        );
        const res = await t.http
          .post(`/admin/webhooks/deliveries/${id}/redeliver`)
          .set(t.admin)
          .expect(409);
        expect(res.body.code).toBe('WEBHOOK_DELIVERY_IN_FLIGHT');
        expect(r.requests).toHaveLength(0);
      } finally {
        await r.close();
      }
    });

    it('documents the endpoints in the OpenAPI document', async () => {
      const doc = (await t.http.get('/docs-json').expect(200)).body;
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/admin/webhooks/deliveries',
          '/admin/webhooks/deliveries/{id}',
          '/admin/webhooks/deliveries/{id}/redeliver',
        ]),
      );
      const list = doc.paths['/admin/webhooks/deliveries'].get;
      expect(list.security).toEqual([{ admin: [] }]);
      expect(list.parameters.map((p: Json) => p.name)).toEqual(
        expect.arrayContaining(['status', 'orderId', 'limit', 'cursor']),
      );
    });
  });
});

describe('merchant webhooks: a receiver that never answers (e2e)', () => {
  it('times out, retries on the compressed schedule, then marks the delivery FAILED', async () => {
    const r = await startReceiver(() => 'hang');
    const t = await startApp({
      JOBS_ENABLED: 'true',
      JOBS_POLL_INTERVAL_MS: '10',
      WEBHOOK_TIMEOUT_MS: '100',
      // 22.35 h of back-off becomes 0.8 s.
      WEBHOOK_RETRY_SCALE: '0.00001',
    });
    try {
      await parkPendingDeliveries(t.dataSource);
      const order = await closedOrder(t, r.url);
      const [{ id }] = await deliveriesOf(t, order.id as string);
      const d = await eventually(async () => {
        const current = await detail(t, id as string);
        expect(current.delivery.status).toBe('FAILED');
        return current;
      }, 20_000);
      expect(d.delivery).toMatchObject({
        attempts: 9,
        lastStatus: null,
        lastError: 'timeout after 100 ms',
      });
      expect(d.attempts).toHaveLength(9);
      for (const a of d.attempts) {
        expect(a).toMatchObject({ statusCode: null, error: 'timeout after 100 ms' });
        expect(a.latencyMs).toBeGreaterThanOrEqual(90);
      }
      expect(r.requests).toHaveLength(9);
      expect(new Set(r.requests.map((q) => q.body.id))).toEqual(new Set([d.event.id]));
    } finally {
      await t.close();
      await r.close();
    }
  });
});

describe('merchant webhooks: a destination that never answers (e2e)', () => {
  let t: TestApp;
  // A minute before a POST times out: far longer than these tests wait.
  beforeAll(async () => (t = await startApp({ WEBHOOK_TIMEOUT_MS: '60000' })));
  afterAll(async () => {
    await parkPendingDeliveries(t.dataSource);
    await t.close();
  });
  beforeEach(() => parkPendingDeliveries(t.dataSource));

  it('holds only its own slots: a healthy destination gets all of its events meanwhile', async () => {
    const dead = await startReceiver(() => 'hang');
    const healthy = await startReceiver();
    try {
      // The dead destination's events are the oldest: first in the page.
      await writeEvents(t, [...eventsTo(dead.url, 20), ...eventsTo(healthy.url, 40)]);
      const run = t.app.get(WebhookDeliveryService).drain(100);
      await eventually(async () => {
        expect(healthy.requests).toHaveLength(40);
        expect(await countDeliveries(t, healthy.url, 'DELIVERED')).toBe(40);
      }, 20_000);
      expect(dead.requests.length).toBeGreaterThan(0);
      expect(dead.requests.length).toBeLessThanOrEqual(8);
      expect(await countDeliveries(t, dead.url, 'DELIVERED')).toBe(0);

      // The dead endpoint goes away: its POSTs fail, and the run ends.
      await dead.close();
      expect(await run).toMatchObject({ delivered: 40, retrying: 20, failed: 0, error: 0 });
      expect(await countDeliveries(t, dead.url, 'PENDING')).toBe(20);
    } finally {
      await healthy.close();
      await dead.close();
    }
  });

  it('stopped meanwhile (shutdown), a drain gives back the claims it has not used and sends nothing more', async () => {
    const dead = await startReceiver(() => 'hang');
    try {
      await writeEvents(t, eventsTo(dead.url, 20));
      const stop = new AbortController();
      const run = t.app.get(WebhookDeliveryService).drain(100, { signal: stop.signal });
      await eventually(() => expect(dead.requests).toHaveLength(8));
      stop.abort();
      // The POSTs in flight end (here: their connections drop) and are recorded.
      await dead.close();
      expect(await run).toMatchObject({ retrying: 8, deferred: 12, error: 0 });
      expect(dead.requests).toHaveLength(8);
      const rows: { attempts: number | string; claimed_by: string | null }[] =
        await t.dataSource.query(
          'SELECT attempts, claimed_by FROM webhook_deliveries WHERE url = ? ORDER BY created_at',
          [dead.url],
        );
      expect(rows.filter((d) => Number(d.attempts) === 1)).toHaveLength(8);
      // The others are due again at once, for whichever instance comes next.
      expect(rows.filter((d) => Number(d.attempts) === 0 && d.claimed_by === null)).toHaveLength(
        12,
      );
    } finally {
      await dead.close();
    }
  });
});

describe('merchant webhooks: the delivery loop (e2e)', () => {
  it('an event committed here goes out at once, not at the next poll (an hour away)', async () => {
    const r = await countingReceiver(1);
    const t = await startApp({ JOBS_ENABLED: 'true', JOBS_POLL_INTERVAL_MS: '3600000' });
    try {
      await parkPendingDeliveries(t.dataSource);
      const order = await closedOrder(t, r.url);
      await eventually(() => expect(r.bodies).toHaveLength(1));
      expect(r.bodies[0]).toMatchObject({ type: 'order.closed', data: { id: order.id } });
      await eventually(async () => {
        const [delivery] = await deliveriesOf(t, order.id as string);
        expect(delivery.status).toBe('DELIVERED');
      });

      // A burst in one commit: one wake, every page.
      await writeEvents(t, eventsTo(r.url, 250));
      await eventually(async () => {
        expect(await countDeliveries(t, r.url, 'DELIVERED')).toBe(251);
      }, 20_000);
      expect(r.bodies).toHaveLength(251);
      expect(new Set(r.bodies.map((b) => b.id)).size).toBe(251);
    } finally {
      await t.close();
      await r.close();
    }
  });
});

describe('merchant webhooks across restarts and instances (e2e)', () => {
  let dbDir: string;
  /** Both apps on one database: on SQLite one file outside either app's data directory. */
  let shared: Record<string, string>;

  beforeAll(() => {
    dbDir = mkdtempSync(join(tmpdir(), 'paygate-shared-db-'));
    shared = isMysql ? {} : { DB_PATH: join(dbDir, 'paygate.sqlite') };
  });
  afterAll(() => rmSync(dbDir, { recursive: true, force: true }));

  it('a crash between the state change and the delivery: the event still goes out after restart', async () => {
    const r = await startReceiver();
    try {
      const first = await startApp(shared);
      let order: Json;
      try {
        await parkPendingDeliveries(first.dataSource);
        order = await closedOrder(first, r.url);
      } finally {
        // The instance goes away before any delivery was attempted (its jobs are off).
        await first.close();
      }
      expect(r.requests).toHaveLength(0);

      const second = await startApp({
        ...shared,
        JOBS_ENABLED: 'true',
        JOBS_POLL_INTERVAL_MS: '20',
      });
      try {
        await eventually(() => expect(r.requests).toHaveLength(1));
        expect(r.requests[0].body).toMatchObject({
          type: 'order.closed',
          data: asWebhookData(order),
        });
        const [delivery] = await deliveriesOf(second, order.id as string);
        await eventually(async () => {
          const [current] = await deliveriesOf(second, order.id as string);
          expect(current.status).toBe('DELIVERED');
        });
        expect(delivery.eventId).toBe(r.requests[0].body.id);
        expect(r.requests).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      await r.close();
    }
  });

  describe('two instances on one database', () => {
    let a: TestApp;
    let b: TestApp;

    beforeAll(async () => {
      a = await startApp(shared);
      b = await startApp(shared);
    });
    afterAll(async () => {
      await parkPendingDeliveries(a.dataSource);
      // Reverse order: each close restores the environment its start found.
      await b?.close();
      await a?.close();
    });
    beforeEach(() => parkPendingDeliveries(a.dataSource));

    it('of two instances that both see a delivery due, exactly one can claim it', async () => {
      const r = await startReceiver();
      try {
        const orders = [await closedOrder(a, r.url), await closedOrder(b, r.url)];
        const mine = new Set(orders.map((o) => o.id as string));
        const sa = a.app.get(WebhookDeliveryService);
        const sb = b.app.get(WebhookDeliveryService);
        const now = new Date();
        const dueA = (await sa.findDue(100, now)).filter((d) => mine.has(d.orderId));
        const dueB = (await sb.findDue(100, now)).filter((d) => mine.has(d.orderId));
        expect(dueA).toHaveLength(2);
        expect(dueB).toEqual(dueA);

        for (const { id } of dueA) {
          const [byA, byB] = await Promise.all([
            sa.claim(id, now),
            soonAfter(() => sb.claim(id, now)),
          ]);
          expect([byA, byB].filter(Boolean)).toHaveLength(1);
        }
        // Held by a live claim: neither instance sees them due any more.
        expect((await sb.findDue(100, now)).filter((d) => mine.has(d.orderId))).toEqual([]);
        expect(r.requests).toHaveLength(0);
      } finally {
        await r.close();
      }
    });

    it('a stale list of due rows does not resend what the other instance just tried', async () => {
      const r = await startReceiver(() => 500);
      try {
        const order = await closedOrder(a, r.url);
        const sa = a.app.get(WebhookDeliveryService);
        const sb = b.app.get(WebhookDeliveryService);
        const now = new Date();
        const [due] = (await sb.findDue(100, now)).filter((d) => d.orderId === order.id);
        expect(due).toBeDefined();
        expect(await sa.deliverDue(100, now)).toMatchObject({ retrying: 1 });
        // b still holds the list it read before a's attempt: the row is no longer due.
        expect(await sb.claim(due.id, now)).toBeNull();
        expect(r.requests).toHaveLength(1);
      } finally {
        await r.close();
      }
    });

    it('delivering at the same time, they send each of 20 events exactly once', async () => {
      const r = await startReceiver(() => 200, 10);
      try {
        const orders: Json[] = [];
        for (let i = 0; i < 20; i++) orders.push(await closedOrder(i % 2 ? a : b, r.url));
        const [ra, rb] = await Promise.all([
          a.app.get(WebhookDeliveryService).deliverDue(100),
          soonAfter(() => b.app.get(WebhookDeliveryService).deliverDue(100)),
        ]);
        expect(ra.delivered + rb.delivered).toBe(20);
        expect(ra.error + rb.error).toBe(0);
        expect(r.requests).toHaveLength(20);
        expect(new Set(r.requests.map((q) => q.body.data.id))).toEqual(
          new Set(orders.map((o) => o.id)),
        );
        expect(new Set(r.requests.map((q) => q.body.id)).size).toBe(20);
        for (const o of orders) {
          const [d] = await deliveriesOf(a, o.id as string);
          expect(d).toMatchObject({ status: 'DELIVERED', attempts: 1 });
        }
      } finally {
        await r.close();
      }
    });

    it('draining at the same time, they send each of 60 events exactly once', async () => {
      const r = await countingReceiver(5);
      try {
        await writeEvents(a, eventsTo(r.url, 60));
        const [ra, rb] = await Promise.all([
          a.app.get(WebhookDeliveryService).drain(20),
          soonAfter(() => b.app.get(WebhookDeliveryService).drain(20)),
        ]);
        expect(ra.delivered + rb.delivered).toBe(60);
        expect(ra.error + rb.error).toBe(0);
        expect(r.bodies).toHaveLength(60);
        expect(new Set(r.bodies.map((q) => q.id)).size).toBe(60);
        expect(await countDeliveries(a, r.url, 'DELIVERED')).toBe(60);
      } finally {
        await r.close();
      }
    });
  });
});
