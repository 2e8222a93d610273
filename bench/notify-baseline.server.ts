/**
 * The bare baseline of bench/notify.bench.ts: a plain node:http server doing
 * only the unavoidable work of one Alipay notification, in one transaction:
 * parse the form, verify RSA2 against the gateway public key, check app/seller
 * id and amount, then through the driver directly: read the attempt (joined
 * with its order, for the event payload), insert the inbox row (a copy under a
 * suffixed key when the dedupe key is taken), the conditional updates of the
 * payment and the order, and the webhook event. Answers `success` after commit.
 *
 * Started by the bench as a child process; configured by BENCH_BASE_* variables.
 */
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse, createServer } from 'node:http';
import { fenOf, readSandboxKeys, rsa2Verify, signContent } from './support/alipay-bench';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const keys = readSandboxKeys(env('BENCH_BASE_DATA_DIR'));
const CHANNEL = 'alipay';
const BODY_LIMIT = 64 * 1024;

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

function verifyNotification(body: string): Verified | null {
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

const outcomeOf = (a: AttemptRow | undefined, n: Verified): Outcome =>
  !a
    ? 'rejected:unknown_trade'
    : Number(a.amount) !== n.amountFen
      ? 'rejected:amount_mismatch'
      : 'processed';

/** Applies one verified notification; resolves to its outcome once committed. */
type Apply = (n: Verified, sourceIp: string) => Promise<Outcome>;

function sqliteApply(): Apply {
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
    return outcome;
  });
  return async (n, sourceIp) => apply.immediate(n, sourceIp);
}

function mysqlApply(): Apply {
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
  const once = async (n: Verified, sourceIp: string): Promise<Outcome> => {
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      const now = sqlNow();
      const [rows] = await conn.query<(AttemptRow & mysql.RowDataPacket)[]>(SELECT_ATTEMPT, [
        n.outTradeNo,
        CHANNEL,
      ]);
      const a = rows[0];
      let outcome = outcomeOf(a, n);
      const id = newId('ntf');
      try {
        await conn.query(INSERT_INBOX, [
          id,
          CHANNEL,
          n.dedupeKey,
          n.outTradeNo,
          sourceIp,
          outcome,
          n.audit,
          now,
        ]);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ER_DUP_ENTRY') throw error;
        if (outcome === 'processed') outcome = 'duplicate';
        const key = `${n.dedupeKey.slice(0, 150)}#${id}`;
        await conn.query(INSERT_INBOX, [
          id,
          CHANNEL,
          key,
          n.outTradeNo,
          sourceIp,
          outcome,
          n.audit,
          now,
        ]);
      }
      if (a && !outcome.startsWith('rejected')) {
        const [p] = await conn.query<Result>(UPDATE_PAYMENT, [n.paidAt, n.tradeNo, now, a.id]);
        if (p.affectedRows === 1) {
          const [o] = await conn.query<Result>(UPDATE_ORDER, [
            a.amount,
            CHANNEL,
            n.tradeNo,
            a.id,
            n.paidAt,
            now,
            a.order_id,
          ]);
          if (o.affectedRows === 1) {
            const eventId = newId('evt');
            await conn.query(INSERT_EVENT, [
              eventId,
              a.order_id,
              eventPayload(eventId, a, n, now),
              now,
            ]);
          }
        }
      }
      await conn.commit();
      return outcome;
    } catch (error) {
      await conn.rollback().catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  };
  // A deadlock victim is run again, a bounded number of times, as the service does.
  return async (n, sourceIp) => {
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
}

const apply = env('BENCH_BASE_DB_TYPE') === 'mysql' ? mysqlApply() : sqliteApply();

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET' && req.url === '/health') return reply(res, 200, 'ok');
  if (req.method !== 'POST' || req.url !== '/notify/alipay') return reply(res, 404, 'not found');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) return reply(res, 413, 'fail');
    chunks.push(chunk);
  }
  const verified = verifyNotification(Buffer.concat(chunks).toString('utf8'));
  if (!verified) return reply(res, 200, 'fail');
  try {
    const outcome = await apply(verified, (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
    reply(res, 200, outcome.startsWith('rejected') ? 'fail' : 'success');
  } catch (error) {
    process.stderr.write(`baseline: ${(error as Error).message}\n`);
    reply(res, 200, 'fail');
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
