/**
 * The bare baseline of bench/notify.bench.ts: a plain node:http server doing
 * only the unavoidable work of one notification, in one transaction, and
 * delivering the resulting merchant webhook from the same process.
 *
 * Notify (BENCH_BASE_CHANNEL):
 *  - alipay, POST /notify/alipay: parse the form, verify RSA2 against the
 *    gateway public key, check app/seller id and amount; answers `success`.
 *  - wechat, POST /notify/wechat/v3: check Wechatpay-Timestamp (5 minutes) and
 *    the SHA256-RSA signature over the raw body with the key Wechatpay-Serial
 *    names, decrypt the AEAD_AES_256_GCM resource with the APIv3 key, check
 *    mchid, appid, trade_state and amount; answers 204.
 * then, through the driver directly: read the attempt (joined with its order,
 * for the event payload), insert the inbox row (a copy under a suffixed key
 * when the dedupe key is taken), the conditional updates of the payment and
 * the order, the webhook event and its delivery row; answer after commit.
 *
 * Relay: a bare outbox loop, woken after each commit that wrote an event and
 * every second: claim up to 100 due deliveries with one conditional update,
 * POST each (signed like paygate's Paygate-Signature, keep-alive, 16 in
 * flight), then record the attempts and outcomes in one transaction (delivered,
 * or due again in a second). A full batch is followed at once by the next.
 *
 * Started by the bench as a child process; configured by BENCH_BASE_* variables.
 */
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { createHmac, randomBytes } from 'node:crypto';
import { Agent, IncomingMessage, ServerResponse, createServer, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fenOf, readSandboxKeys, rsa2Verify, signContent } from './support/alipay-bench';
import {
  decryptResource,
  readWechatKeys,
  rsaSha256Verify,
  signedMessage,
} from './support/wechat-bench';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const CHANNEL = env('BENCH_BASE_CHANNEL') === 'wechat' ? 'wechat' : 'alipay';
const DATA_DIR = env('BENCH_BASE_DATA_DIR');
const WEBHOOK_URL = env('BENCH_BASE_WEBHOOK_URL');
const WEBHOOK_SECRET = env('BENCH_BASE_WEBHOOK_SECRET');
const BODY_LIMIT = 64 * 1024;
const RELAY_BATCH = 100;
const RELAY_IN_FLIGHT = 16;
const WEBHOOK_TIMEOUT_MS = 10_000;

interface AttemptRow {
  id: string;
  order_id: string;
  amount: string | number;
  merchant_order_no: string;
  currency: string;
  subject: string;
  description: string | null;
  refunded_amount: string | number;
  notify_url: string | null;
  metadata: string | null;
  expires_at: string;
  created_at: string;
}

interface Verified {
  dedupeKey: string;
  outTradeNo: string;
  amountFen: number;
  tradeNo: string;
  paidAt: string;
  audit: string;
}

type Outcome = 'processed' | 'duplicate' | 'rejected:unknown_trade' | 'rejected:amount_mismatch';

const newId = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`;
const sqlNow = () => new Date().toISOString().replace('T', ' ').replace('Z', '');
const iso = (sqlText: string) => `${sqlText.replace(' ', 'T')}Z`;

/** "2024-01-01 12:00:00" Beijing → SQL UTC text. */
function beijingToSql(text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  const d = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4] - 8, +m[5], +m[6])) : new Date();
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

const alipayKeys = CHANNEL === 'alipay' ? readSandboxKeys(DATA_DIR) : undefined;
const wechatKeys = CHANNEL === 'wechat' ? readWechatKeys(DATA_DIR) : undefined;

function verifyAlipay(body: string): Verified | null {
  const keys = alipayKeys!;
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) params[k] = v;
  if (!params.sign || (params.sign_type !== undefined && params.sign_type !== 'RSA2')) return null;
  if (!rsa2Verify(signContent(params, ['sign', 'sign_type']), params.sign, keys.gatewayPublicKey)) {
    return null;
  }
  if (params.app_id !== keys.appId || params.seller_id !== keys.sellerId) return null;
  const amountFen = fenOf(params.total_amount ?? '');
  const paid = params.trade_status === 'TRADE_SUCCESS' || params.trade_status === 'TRADE_FINISHED';
  if (!paid || !Number.isFinite(amountFen) || !params.out_trade_no) return null;
  const audit: Record<string, string> = { ...params };
  delete audit.sign;
  return {
    dedupeKey: `${params.trade_status}:${params.notify_id}`.slice(0, 191),
    outTradeNo: params.out_trade_no,
    amountFen,
    tradeNo: params.trade_no ?? '',
    paidAt: beijingToSql(params.gmt_payment ?? ''),
    audit: JSON.stringify(audit),
  };
}

const header = (req: IncomingMessage, name: string): string =>
  typeof req.headers[name] === 'string' ? (req.headers[name] as string) : '';

interface WechatTransaction {
  mchid?: string;
  appid?: string;
  out_trade_no?: string;
  transaction_id?: string;
  trade_state?: string;
  success_time?: string;
  amount?: { total?: number };
}

function verifyWechat(req: IncomingMessage, raw: Buffer): Verified | null {
  const keys = wechatKeys!;
  const timestamp = header(req, 'wechatpay-timestamp');
  const serial = header(req, 'wechatpay-serial');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) {
    return null;
  }
  if (serial !== keys.platformPublicKeyId) return null;
  const text = raw.toString('utf8');
  const message = signedMessage(timestamp, header(req, 'wechatpay-nonce'), text);
  if (!rsaSha256Verify(message, header(req, 'wechatpay-signature'), keys.platformPublicKey)) {
    return null;
  }
  let envelope: {
    id?: string;
    event_type?: string;
    resource?: { ciphertext?: string; nonce?: string; associated_data?: string };
  };
  try {
    envelope = JSON.parse(text) as typeof envelope;
  } catch {
    return null;
  }
  const r = envelope.resource;
  if (!envelope.id || envelope.event_type !== 'TRANSACTION.SUCCESS' || !r?.ciphertext || !r.nonce)
    return null;
  const plain = decryptResource(keys.apiV3Key, r.nonce, r.associated_data ?? '', r.ciphertext);
  if (plain === null) return null;
  const t = JSON.parse(plain) as WechatTransaction;
  const total = t.amount?.total;
  if (t.mchid !== keys.mchId || t.appid !== keys.appId || t.trade_state !== 'SUCCESS') return null;
  if (!Number.isSafeInteger(total) || !t.out_trade_no) return null;
  const paidAt = new Date(t.success_time ?? '');
  return {
    dedupeKey: `${envelope.event_type}:${envelope.id}`.slice(0, 191),
    outTradeNo: t.out_trade_no.slice(0, 64),
    amountFen: total!,
    tradeNo: t.transaction_id ?? '',
    paidAt: (Number.isNaN(paidAt.getTime()) ? new Date() : paidAt)
      .toISOString()
      .replace('T', ' ')
      .replace('Z', ''),
    audit: JSON.stringify({
      id: envelope.id,
      event_type: envelope.event_type,
      serial,
      resource: t,
    }),
  };
}

function eventPayload(eventId: string, a: AttemptRow, n: Verified, now: string): string {
  return JSON.stringify({
    id: eventId,
    type: 'order.paid',
    createdAt: iso(now),
    data: {
      id: a.order_id,
      merchantOrderNo: a.merchant_order_no,
      amount: Number(a.amount),
      currency: a.currency,
      subject: a.subject,
      description: a.description,
      status: 'PAID',
      paidAmount: Number(a.amount),
      refundedAmount: Number(a.refunded_amount),
      channel: CHANNEL,
      channelTradeNo: n.tradeNo,
      paidAt: iso(n.paidAt),
      expiresAt: iso(a.expires_at),
      notifyUrl: a.notify_url,
      metadata: a.metadata ? (JSON.parse(a.metadata) as unknown) : null,
      createdAt: iso(a.created_at),
      updatedAt: iso(now),
    },
  });
}

const SELECT_ATTEMPT = `SELECT p.id, p.order_id, p.amount, o.merchant_order_no, o.currency, o.subject,
  o.description, o.refunded_amount, o.notify_url, o.metadata, o.expires_at, o.created_at
  FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.out_trade_no = ? AND p.channel = ?`;
const INSERT_INBOX = `INSERT INTO channel_notifications
  (id, channel, dedupe_key, kind, out_trade_no, source_ip, verified, outcome, body, received_at)
  VALUES (?, ?, ?, 'payment', ?, ?, 1, ?, ?, ?)`;
const UPDATE_PAYMENT = `UPDATE payments SET status = 'SUCCEEDED', paid_at = ?, channel_trade_no = ?,
  next_query_at = NULL, updated_at = ? WHERE id = ? AND status IN ('PENDING', 'CLOSED', 'FAILED')`;
const UPDATE_ORDER = `UPDATE orders SET status = 'PAID', paid_amount = ?, channel = ?, channel_trade_no = ?,
  paid_payment_id = ?, paid_at = ?, updated_at = ? WHERE id = ? AND status IN ('PENDING')`;
const INSERT_EVENT = `INSERT INTO webhook_events (id, type, order_id, refund_id, payload, created_at)
  VALUES (?, 'order.paid', ?, NULL, ?, ?)`;
const INSERT_DELIVERY = `INSERT INTO webhook_deliveries (id, event_id, order_id, url, status, attempts,
  next_attempt_at, claimed_by, claimed_until, last_status, last_error, delivered_at, created_at, updated_at)
  VALUES (?, ?, ?, ?, 'PENDING', 0, ?, NULL, NULL, NULL, NULL, NULL, ?, ?)`;

const outcomeOf = (a: AttemptRow | undefined, n: Verified): Outcome =>
  !a
    ? 'rejected:unknown_trade'
    : Number(a.amount) !== n.amountFen
      ? 'rejected:amount_mismatch'
      : 'processed';

/** Applies one verified notification; resolves to its outcome once committed. */
type Apply = (n: Verified, sourceIp: string) => Promise<Outcome>;

interface DueDelivery {
  id: string;
  url: string;
  payload: string;
  attempts: number | string;
}

interface Sent {
  row: DueDelivery;
  statusCode: number | null;
  ok: boolean;
  latencyMs: number;
}

/** The relay's two database steps. */
interface RelayStore {
  /** Claims up to `limit` due deliveries for `token`; returns them with their payloads. */
  claim(token: string, limit: number): Promise<DueDelivery[]>;
  /** One transaction: the attempt rows, then each outcome, conditional on the claim. */
  record(token: string, sent: Sent[]): Promise<void>;
}

interface Backend {
  apply: Apply;
  relay: RelayStore;
}

const CLAIM_SECONDS = 40;
const later = (ms: number) => sqlTime(new Date(Date.now() + ms));
const sqlTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

const SELECT_CLAIMED = `SELECT d.id, d.url, d.attempts, e.payload FROM webhook_deliveries d
  JOIN webhook_events e ON e.id = d.event_id WHERE d.claimed_by = ? AND d.status = 'PENDING'`;
const insertAttempts = (n: number) =>
  `INSERT INTO webhook_attempts (id, delivery_id, attempt_no, status_code, error, latency_ms, attempted_at)
   VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
const markDelivered = (n: number) =>
  `UPDATE webhook_deliveries SET status = 'DELIVERED', attempts = attempts + 1, last_status = 200,
   last_error = NULL, delivered_at = ?, claimed_by = NULL, claimed_until = NULL, updated_at = ?
   WHERE claimed_by = ? AND id IN (${placeholders(n)})`;
const markRetry = (n: number) =>
  `UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = 'failed', next_attempt_at = ?,
   claimed_by = NULL, claimed_until = NULL, updated_at = ? WHERE claimed_by = ? AND id IN (${placeholders(n)})`;

function attemptValues(sent: Sent[], now: string): unknown[] {
  return sent.flatMap((s) => [
    newId('wha'),
    s.row.id,
    Number(s.row.attempts) + 1,
    s.statusCode,
    s.ok ? null : `HTTP ${s.statusCode ?? 'error'}`,
    Math.round(s.latencyMs),
    now,
  ]);
}

function sqliteBackend(): Backend {
  const db = new Database(env('BENCH_BASE_DB_PATH'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${env('BENCH_BASE_SQLITE_SYNC')}`);
  db.pragma('busy_timeout = 10000');
  db.pragma('foreign_keys = ON');
  const select = db.prepare(SELECT_ATTEMPT);
  const inbox = db.prepare(INSERT_INBOX);
  const payment = db.prepare(UPDATE_PAYMENT);
  const order = db.prepare(UPDATE_ORDER);
  const event = db.prepare(INSERT_EVENT);
  const delivery = db.prepare(INSERT_DELIVERY);
  const apply = db.transaction((n: Verified, sourceIp: string): Outcome => {
    const now = sqlNow();
    const a = select.get(n.outTradeNo, CHANNEL) as AttemptRow | undefined;
    let outcome = outcomeOf(a, n);
    const id = newId('ntf');
    try {
      inbox.run(id, CHANNEL, n.dedupeKey, n.outTradeNo, sourceIp, outcome, n.audit, now);
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
      if (outcome === 'processed') outcome = 'duplicate';
      const key = `${n.dedupeKey.slice(0, 150)}#${id}`;
      inbox.run(id, CHANNEL, key, n.outTradeNo, sourceIp, outcome, n.audit, now);
    }
    if (!a || outcome.startsWith('rejected')) return outcome;
    if (payment.run(n.paidAt, n.tradeNo, now, a.id).changes !== 1) return outcome;
    if (order.run(a.amount, CHANNEL, n.tradeNo, a.id, n.paidAt, now, a.order_id).changes !== 1) {
      return outcome;
    }
    const eventId = newId('evt');
    event.run(eventId, a.order_id, eventPayload(eventId, a, n, now), now);
    delivery.run(newId('whd'), eventId, a.order_id, WEBHOOK_URL, now, now, now);
    return outcome;
  });
  const claim = db.prepare(
    `UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ? WHERE id IN (
       SELECT id FROM webhook_deliveries WHERE status = 'PENDING' AND next_attempt_at <= ?
       AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY created_at, id LIMIT ?)`,
  );
  const claimed = db.prepare(SELECT_CLAIMED);
  const record = db.transaction((token: string, sent: Sent[]) => {
    const now = sqlNow();
    db.prepare(insertAttempts(sent.length)).run(...attemptValues(sent, now));
    const ok = sent.filter((s) => s.ok).map((s) => s.row.id);
    const failed = sent.filter((s) => !s.ok).map((s) => s.row.id);
    if (ok.length) db.prepare(markDelivered(ok.length)).run(now, now, token, ...ok);
    if (failed.length) db.prepare(markRetry(failed.length)).run(later(1000), now, token, ...failed);
  });
  return {
    apply: async (n, sourceIp) => apply.immediate(n, sourceIp),
    relay: {
      claim: async (token, limit) => {
        const now = sqlNow();
        claim.run(token, later(CLAIM_SECONDS * 1000), now, now, limit);
        return claimed.all(token) as DueDelivery[];
      },
      record: async (token, sent) => {
        if (sent.length) record.immediate(token, sent);
      },
    },
  };
}

function mysqlBackend(): Backend {
  const pool = mysql.createPool({
    host: env('BENCH_BASE_DB_HOST'),
    port: Number(env('BENCH_BASE_DB_PORT')),
    user: env('BENCH_BASE_DB_USER'),
    password: process.env.BENCH_BASE_DB_PASSWORD ?? '',
    database: env('BENCH_BASE_DB_NAME'),
    connectionLimit: Number(env('BENCH_BASE_POOL_SIZE')),
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  type Result = mysql.ResultSetHeader;
  const inTransaction = async <T>(work: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> => {
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = await work(conn);
      await conn.commit();
      return result;
    } catch (error) {
      await conn.rollback().catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  };
  const once = (n: Verified, sourceIp: string): Promise<Outcome> =>
    inTransaction(async (conn) => {
      const now = sqlNow();
      const [rows] = await conn.query<(AttemptRow & mysql.RowDataPacket)[]>(SELECT_ATTEMPT, [
        n.outTradeNo,
        CHANNEL,
      ]);
      const a = rows[0];
      let outcome = outcomeOf(a, n);
      const id = newId('ntf');
      const inboxRow = (key: string) => [
        id,
        CHANNEL,
        key,
        n.outTradeNo,
        sourceIp,
        outcome,
        n.audit,
        now,
      ];
      try {
        await conn.query(INSERT_INBOX, inboxRow(n.dedupeKey));
      } catch (error) {
        if ((error as { code?: string }).code !== 'ER_DUP_ENTRY') throw error;
        if (outcome === 'processed') outcome = 'duplicate';
        await conn.query(INSERT_INBOX, inboxRow(`${n.dedupeKey.slice(0, 150)}#${id}`));
      }
      if (!a || outcome.startsWith('rejected')) return outcome;
      const [p] = await conn.query<Result>(UPDATE_PAYMENT, [n.paidAt, n.tradeNo, now, a.id]);
      if (p.affectedRows !== 1) return outcome;
      const [o] = await conn.query<Result>(UPDATE_ORDER, [
        a.amount,
        CHANNEL,
        n.tradeNo,
        a.id,
        n.paidAt,
        now,
        a.order_id,
      ]);
      if (o.affectedRows !== 1) return outcome;
      const eventId = newId('evt');
      await conn.query(INSERT_EVENT, [eventId, a.order_id, eventPayload(eventId, a, n, now), now]);
      await conn.query(INSERT_DELIVERY, [
        newId('whd'),
        eventId,
        a.order_id,
        WEBHOOK_URL,
        now,
        now,
        now,
      ]);
      return outcome;
    });
  // A deadlock victim is run again, a bounded number of times, as the service does.
  const apply: Apply = async (n, sourceIp) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(n, sourceIp);
      } catch (error) {
        const code = (error as { code?: string }).code;
        const retryable = code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT';
        if (!retryable || attempt >= 4) throw error;
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
      }
    }
  };
  return {
    apply,
    relay: {
      claim: async (token, limit) => {
        const now = sqlNow();
        await pool.query(
          `UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ?
            WHERE status = 'PENDING' AND next_attempt_at <= ?
              AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY created_at, id LIMIT ?`,
          [token, later(CLAIM_SECONDS * 1000), now, now, limit],
        );
        const [rows] = await pool.query<(DueDelivery & mysql.RowDataPacket)[]>(SELECT_CLAIMED, [
          token,
        ]);
        return rows;
      },
      record: async (token, sent) => {
        if (sent.length === 0) return;
        await inTransaction(async (conn) => {
          const now = sqlNow();
          await conn.query(insertAttempts(sent.length), attemptValues(sent, now));
          const ok = sent.filter((s) => s.ok).map((s) => s.row.id);
          const failed = sent.filter((s) => !s.ok).map((s) => s.row.id);
          if (ok.length) await conn.query(markDelivered(ok.length), [now, now, token, ...ok]);
          if (failed.length)
            await conn.query(markRetry(failed.length), [later(1000), now, token, ...failed]);
        });
      },
    },
  };
}

const backend = env('BENCH_BASE_DB_TYPE') === 'mysql' ? mysqlBackend() : sqliteBackend();

const hookAgent = new Agent({ keepAlive: true, maxSockets: RELAY_IN_FLIGHT });
const hookUrl = new URL(WEBHOOK_URL);

function post(row: DueDelivery): Promise<Sent> {
  const started = performance.now();
  const body = Buffer.from(row.payload, 'utf8');
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', WEBHOOK_SECRET).update(`${t}.`).update(body).digest('hex');
  return new Promise((resolve) => {
    const done = (statusCode: number | null) =>
      resolve({
        row,
        statusCode,
        ok: statusCode !== null && statusCode >= 200 && statusCode < 300,
        latencyMs: performance.now() - started,
      });
    const req = request(
      {
        agent: hookAgent,
        host: hookUrl.hostname,
        port: hookUrl.port,
        path: hookUrl.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(body.length),
          'user-agent': 'paygate-bench-baseline',
          'paygate-signature': `t=${t},v1=${v1}`,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? null));
        res.on('error', () => done(null));
      },
    );
    req.setTimeout(WEBHOOK_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', () => done(null));
    req.end(body);
  });
}

let relaying = false;
let relayAgain = false;
const relayToken = `baseline-${process.pid}`;

async function relayOnce(): Promise<number> {
  const due = await backend.relay.claim(relayToken, RELAY_BATCH);
  const sent: Sent[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(RELAY_IN_FLIGHT, due.length) }, async () => {
      while (next < due.length) sent.push(await post(due[next++]));
    }),
  );
  await backend.relay.record(relayToken, sent);
  return due.length;
}

/** Runs the relay now, or once more after the run in progress. */
function wakeRelay(): void {
  if (relaying) {
    relayAgain = true;
    return;
  }
  relaying = true;
  void (async () => {
    try {
      do {
        relayAgain = false;
        if ((await relayOnce()) >= RELAY_BATCH) relayAgain = true;
      } while (relayAgain);
    } catch (error) {
      process.stderr.write(`baseline relay: ${(error as Error).message}\n`);
    } finally {
      relaying = false;
    }
  })();
}
setInterval(wakeRelay, 1000).unref();

function reply(res: ServerResponse, status: number, text: string, type = 'text/plain'): void {
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const NOTIFY_PATH = CHANNEL === 'wechat' ? '/notify/wechat/v3' : '/notify/alipay';
const WECHAT_FAIL = JSON.stringify({ code: 'FAIL', message: 'not processed' });

/** The channel's answer: Alipay reads `success`/`fail`; WeChat a 2xx or `{code, message}`. */
function answer(res: ServerResponse, ok: boolean, retry = false): void {
  if (CHANNEL === 'alipay') return reply(res, 200, ok ? 'success' : 'fail');
  if (ok) {
    res.writeHead(204);
    res.end();
    return;
  }
  reply(res, retry ? 500 : 400, WECHAT_FAIL, 'application/json');
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET' && req.url === '/health') return reply(res, 200, 'ok');
  if (req.method !== 'POST' || req.url !== NOTIFY_PATH) return reply(res, 404, 'not found');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) return reply(res, 413, 'fail');
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks);
  const verified = CHANNEL === 'wechat' ? verifyWechat(req, raw) : verifyAlipay(raw.toString());
  if (!verified) return answer(res, false);
  try {
    const sourceIp = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const outcome = await backend.apply(verified, sourceIp);
    answer(res, !outcome.startsWith('rejected'));
    if (outcome === 'processed') wakeRelay();
  } catch (error) {
    process.stderr.write(`baseline: ${(error as Error).message}\n`);
    answer(res, false, true);
  }
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    process.stderr.write(`baseline: ${(error as Error).message}\n`);
    if (!res.headersSent) reply(res, 500, 'fail');
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(env('BENCH_BASE_PORT')), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
