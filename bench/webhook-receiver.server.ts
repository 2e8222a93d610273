/**
 * The merchant of bench/notify: a plain node:http server that takes webhooks
 * at POST /hooks/<side> (service or baseline), checks `Paygate-Signature`
 * (t=…,v1=HMAC-SHA256(secret, t + "." + body), within 5 minutes) the way the
 * README tells merchants to, and remembers, per side, which orders it holds a
 * valid order.paid for and when the newest one arrived. Answers 200 to a valid
 * webhook, 400 to any other. GET /stats/<side> reports; the bench polls it.
 *
 * For bench/chaos it also plays an unreliable merchant: BENCH_HOOK_FAIL_RATIO of
 * the valid webhooks (decided before anything is recorded) are answered 500, or,
 * for half of them when BENCH_HOOK_HANG_MS is set, answered only after that long
 * (past paygate's WEBHOOK_TIMEOUT_MS: a timeout); GET /events/<side> lists every
 * event id it accepted with its type, order and how often it came.
 *
 * Started by the bench as a child process; configured by BENCH_HOOK_* variables.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { IncomingMessage, ServerResponse, createServer } from 'node:http';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const SECRET = env('BENCH_HOOK_SECRET');
const BODY_LIMIT = 256 * 1024;
const FAIL_RATIO = Number(process.env.BENCH_HOOK_FAIL_RATIO ?? '0');
const HANG_MS = Number(process.env.BENCH_HOOK_HANG_MS ?? '0');

interface Side {
  paidOrders: Set<string>;
  /** Date.now() when the last order seen for the first time arrived. */
  lastNewAt: number;
  received: number;
  invalid: number;
  /** Answered 500 or timed out on purpose. */
  failed: number;
  /** Accepted event ids: type, order id, times accepted. */
  events: Map<string, { type: string; orderId: string | null; count: number }>;
}

const sides = new Map<string, Side>();
const side = (name: string): Side => {
  let s = sides.get(name);
  if (!s) {
    s = {
      paidOrders: new Set(),
      lastNewAt: 0,
      received: 0,
      invalid: 0,
      failed: 0,
      events: new Map(),
    };
    sides.set(name, s);
  }
  return s;
};

function validSignature(header: string | undefined, body: Buffer): boolean {
  if (!header) return false;
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.split('=', 2);
    if (k === 't' && /^\d{1,12}$/.test(v ?? '')) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v ?? '')) v1.push(v);
  }
  if (t === undefined || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', SECRET).update(`${t}.`).update(body).digest();
  return v1.some((sig) => timingSafeEqual(Buffer.from(sig, 'hex'), expected));
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '';
  if (req.method === 'GET' && url === '/health') return reply(res, 200, '{}');
  const stats = /^\/stats\/(\w+)$/.exec(url);
  if (req.method === 'GET' && stats) {
    const s = side(stats[1]);
    return reply(
      res,
      200,
      JSON.stringify({
        paidOrders: s.paidOrders.size,
        lastNewAt: s.lastNewAt,
        received: s.received,
        invalid: s.invalid,
        failed: s.failed,
        events: s.events.size,
      }),
    );
  }
  const list = /^\/events\/(\w+)$/.exec(url);
  if (req.method === 'GET' && list) {
    return reply(res, 200, JSON.stringify(Object.fromEntries(side(list[1]).events)));
  }
  const hook = /^\/hooks\/(\w+)$/.exec(url);
  if (req.method !== 'POST' || !hook) return reply(res, 404, '{}');
  const s = side(hook[1]);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) {
      s.invalid += 1;
      return reply(res, 413, '{}');
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  s.received += 1;
  const header = req.headers['paygate-signature'];
  if (!validSignature(typeof header === 'string' ? header : undefined, body)) {
    s.invalid += 1;
    return reply(res, 400, '{"error":"bad signature"}');
  }
  let event: {
    id?: unknown;
    type?: unknown;
    data?: { id?: unknown; orderId?: unknown; status?: unknown };
  };
  try {
    event = JSON.parse(body.toString('utf8')) as typeof event;
  } catch {
    s.invalid += 1;
    return reply(res, 400, '{"error":"not JSON"}');
  }
  if (FAIL_RATIO > 0 && Math.random() < FAIL_RATIO) {
    s.failed += 1;
    if (HANG_MS > 0 && Math.random() < 0.5) await new Promise((r) => setTimeout(r, HANG_MS));
    return reply(res, 500, '{"error":"merchant failure (on purpose)"}');
  }
  if (typeof event.id === 'string' && typeof event.type === 'string') {
    const orderId =
      typeof event.data?.orderId === 'string'
        ? event.data.orderId
        : typeof event.data?.id === 'string'
          ? event.data.id
          : null;
    const seen = s.events.get(event.id);
    if (seen) seen.count += 1;
    else s.events.set(event.id, { type: event.type, orderId, count: 1 });
  }
  if (event.type === 'order.paid' && typeof event.data?.id === 'string') {
    if (event.data.status !== 'PAID') {
      s.invalid += 1;
      return reply(res, 400, '{"error":"order.paid without a PAID order"}');
    }
    if (!s.paidOrders.has(event.data.id)) {
      s.paidOrders.add(event.data.id);
      s.lastNewAt = Date.now();
    }
  }
  reply(res, 200, '{}');
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    process.stderr.write(`receiver: ${(error as Error).message}\n`);
    if (!res.headersSent) reply(res, 500, '{}');
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(env('BENCH_HOOK_PORT')), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
