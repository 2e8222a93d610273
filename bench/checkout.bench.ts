/**
 * bench/checkout: what a storefront does to take an order to a QR code —
 * POST /api/orders, then POST /api/orders/:id/payments {channel:'alipay', method:'qr'}
 * (which writes the attempt, calls the Alipay sandbox precreate over HTTP on
 * 127.0.0.1 — the sandbox verifies the request's RSA2 signature and signs its
 * answer — verifies that answer and stores the action) — N orders with M in
 * flight, beside a bare loop in this process doing per order only the
 * unavoidable work: the app-side RSA2 signature of the precreate request, the
 * gateway-side verification and signature of its answer, the app-side
 * verification, and the three durable writes the design needs (order; attempt
 * before the channel call; its action after) through the driver directly.
 *
 *   npm run bench:checkout -- [--db sqlite|mysql|both] [--count 2000] [--concurrency 16]
 *     [--warmup 100] [--sqlite-sync FULL|NORMAL] [--mysql-pool 10] [--max-seconds 600] [--keep]
 *     [--profile] [--service-root DIR]
 */
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SandboxKeys,
  alipayJson,
  beijing,
  readSandboxKeys,
  rsa2Sign,
  rsa2Verify,
  signContent,
  yuan,
} from './support/alipay-bench';
import { BenchArgs, BenchDb, print, progress } from './support/bench-args';
import {
  BenchDatabase,
  copySchema,
  createMysqlDatabase,
  dropMysqlDatabase,
  mysqlServerInfo,
  openMysql,
  openSqlite,
} from './support/bench-db';
import {
  BenchChild,
  REPO_ROOT,
  SERVICE_KEYS,
  describeServiceEnv,
  mysqlEnv,
  startService,
} from './support/child-process';
import { Cleanups } from './support/cleanups';
import { CpuMeter, CpuUsage, findDatabaseServerPid } from './support/cpu-meter';
import { alnum, beijingStamp, sqlTime } from './support/fixtures';
import { LoadResult, httpRequest, runTasks } from './support/http-load';
import { machineInfo, machineLine } from './support/machine-info';
import { fixed, loadColumns, loadHeaders, markdownTable, summarise } from './support/stats';

const args = new BenchArgs(process.argv.slice(2), [
  'db',
  'count',
  'concurrency',
  'warmup',
  'sqlite-sync',
  'mysql-pool',
  'max-seconds',
  'keep',
  'stripped',
  'service-root',
  'profile',
]);
const settings = {
  dbs: args.dbs(),
  count: args.int('count', 2000, 1, 100_000),
  concurrency: args.int('concurrency', 16, 1, 256),
  warmup: args.int('warmup', 100, 0, 10_000),
  sqliteSync: args.oneOf('sqlite-sync', ['FULL', 'NORMAL'] as const, 'FULL'),
  mysqlPool: args.int('mysql-pool', 10, 1, 200),
  maxSeconds: args.int('max-seconds', 600, 1, 3600),
  keep: args.flag('keep'),
  /** The old stripped service setup (jobs off, LOG_LEVEL=warn), for comparison only. */
  stripped: args.flag('stripped'),
  /** Writes a V8 CPU profile of the service into the (kept) work directory. */
  profile: args.flag('profile'),
  serviceRoot: args.string('service-root', REPO_ROOT),
};
// Profiles stay in the work directory; the databases go unless --keep.
const cleanups = new Cleanups(() => settings.keep || settings.profile);
const REQUEST_TIMEOUT_MS = 30_000;

interface OrderSpec {
  merchantOrderNo: string;
  amountFen: number;
  subject: string;
}

function orderSpecs(prefix: string, count: number): OrderSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    merchantOrderNo: `${prefix}-${i}`,
    amountFen: 100 + ((i * 7919) % 99_900),
    subject: `Bench item ${i}`,
  }));
}

// ---- the service ------------------------------------------------------------

async function serviceCheckout(service: BenchChild, specs: OrderSpec[]): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: settings.concurrency });
  const headers = {
    authorization: `Bearer ${SERVICE_KEYS.MERCHANT_API_KEY}`,
    'content-type': 'application/json',
  };
  const ordersUrl = new URL('/api/orders', service.baseUrl);
  try {
    return await runTasks({
      count: specs.length,
      concurrency: settings.concurrency,
      maxMs: settings.maxSeconds * 1000,
      task: async (i) => {
        const s = specs[i];
        const order = await httpRequest(
          agent,
          ordersUrl,
          'POST',
          headers,
          Buffer.from(
            JSON.stringify({
              merchantOrderNo: s.merchantOrderNo,
              amount: s.amountFen,
              subject: s.subject,
            }),
          ),
          REQUEST_TIMEOUT_MS,
        );
        if (order.status !== 201)
          return `create order: HTTP ${order.status} ${order.text.slice(0, 200)}`;
        const { id } = JSON.parse(order.text) as { id: string };
        const pay = await httpRequest(
          agent,
          new URL(`/api/orders/${id}/payments`, service.baseUrl),
          'POST',
          headers,
          Buffer.from('{"channel":"alipay","method":"qr"}'),
          REQUEST_TIMEOUT_MS,
        );
        if (pay.status !== 201)
          return `create payment: HTTP ${pay.status} ${pay.text.slice(0, 200)}`;
        const payment = JSON.parse(pay.text) as { action?: { type?: string; qrCode?: string } };
        return payment.action?.type === 'qr' && payment.action.qrCode
          ? null
          : `create payment: no QR action in ${pay.text.slice(0, 200)}`;
      },
    });
  } finally {
    agent.destroy();
  }
}

// ---- the bare loop ------------------------------------------------------------

const PRECREATE = 'alipay.trade.precreate';
const RESPONSE_KEY = 'alipay_trade_precreate_response';

/** App signs the request; gateway verifies it and signs its answer; app verifies that. */
function precreateSignatures(
  keys: SandboxKeys,
  outTradeNo: string,
  s: OrderSpec,
  expires: Date,
): string {
  const params: Record<string, string> = {
    app_id: keys.appId,
    method: PRECREATE,
    format: 'JSON',
    charset: 'utf-8',
    sign_type: 'RSA2',
    timestamp: beijing(new Date()),
    version: '1.0',
    biz_content: JSON.stringify({
      out_trade_no: outTradeNo,
      total_amount: yuan(s.amountFen),
      subject: s.subject,
      product_code: 'FACE_TO_FACE_PAYMENT',
      time_expire: beijing(expires),
    }),
    notify_url: 'http://127.0.0.1/notify/alipay',
  };
  params.sign = rsa2Sign(signContent(params, ['sign']), keys.appPrivateKey);
  // gateway side
  if (!rsa2Verify(signContent(params, ['sign']), params.sign, keys.appPublicKey)) {
    throw new Error('gateway: request signature does not verify');
  }
  const qrCode = `http://127.0.0.1/sandbox/alipay/cashier/${outTradeNo}`;
  const inner = alipayJson({
    code: '10000',
    msg: 'Success',
    out_trade_no: outTradeNo,
    qr_code: qrCode,
  });
  const text = `{"${RESPONSE_KEY}":${inner},"sign":"${rsa2Sign(inner, keys.gatewayPrivateKey)}"}`;
  // app side: the signed bytes are the raw text of the response object
  const start = text.indexOf('{', RESPONSE_KEY.length + 3);
  const end = text.lastIndexOf(',"sign"');
  const sign = (JSON.parse(text) as { sign: string }).sign;
  if (!rsa2Verify(text.slice(start, end), sign, keys.gatewayPublicKey)) {
    throw new Error('app: response signature does not verify');
  }
  return JSON.stringify({ type: 'qr', qrCode });
}

const INSERT_ORDER = `INSERT INTO orders (id, merchant_order_no, amount, currency, subject, description,
  status, paid_amount, refunded_amount, client_secret, notify_url, metadata, expires_at, created_at, updated_at)
  VALUES (?, ?, ?, 'CNY', ?, NULL, 'PENDING', 0, 0, ?, NULL, NULL, ?, ?, ?)`;
const INSERT_PAYMENT = `INSERT INTO payments (id, order_id, out_trade_no, channel, method, amount, status,
  action, expires_at, next_query_at, query_attempts, created_at, updated_at)
  VALUES (?, ?, ?, 'alipay', 'qr', ?, 'PENDING', NULL, ?, ?, 0, ?, ?)`;
const UPDATE_ACTION = 'UPDATE payments SET action = ?, updated_at = ? WHERE id = ?';

/** Three transactions, each one durable commit: the order, the attempt, its action. */
type Writes = {
  order(values: unknown[]): Promise<void>;
  payment(values: unknown[]): Promise<void>;
  action(values: unknown[]): Promise<void>;
  close(): Promise<void>;
};

function sqliteWrites(path: string): Writes {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${settings.sqliteSync}`);
  db.pragma('busy_timeout = 10000');
  const tx = (sql: string) => {
    const stmt = db.prepare(sql);
    const run = db.transaction((values: unknown[]) => stmt.run(...values));
    return async (values: unknown[]) => {
      run(values);
    };
  };
  return {
    order: tx(INSERT_ORDER),
    payment: tx(INSERT_PAYMENT),
    action: tx(UPDATE_ACTION),
    close: async () => {
      db.close();
    },
  };
}

function mysqlWrites(database: string): Writes {
  const m = mysqlEnv();
  const pool = mysql.createPool({
    host: m.DB_HOST,
    port: Number(m.DB_PORT),
    user: m.DB_USER,
    password: m.DB_PASSWORD,
    database,
    connectionLimit: settings.mysqlPool,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
  });
  const tx = (sql: string) => async (values: unknown[]) => {
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      await conn.query(sql, values);
      await conn.commit();
    } catch (error) {
      await conn.rollback().catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  };
  return {
    order: tx(INSERT_ORDER),
    payment: tx(INSERT_PAYMENT),
    action: tx(UPDATE_ACTION),
    close: () => pool.end(),
  };
}

async function bareCheckout(
  keys: SandboxKeys,
  writes: Writes,
  specs: OrderSpec[],
): Promise<LoadResult> {
  const stamp = beijingStamp(new Date());
  return runTasks({
    count: specs.length,
    concurrency: settings.concurrency,
    maxMs: settings.maxSeconds * 1000,
    task: async (i) => {
      const s = specs[i];
      const now = new Date();
      const created = sqlTime(now);
      const expiresAt = new Date(now.getTime() + 900_000);
      const expires = sqlTime(expiresAt);
      const orderId = `ord_${alnum(24)}`;
      const paymentId = `pay_${alnum(24)}`;
      const outTradeNo = `${stamp}${alnum(18)}`;
      await writes.order([
        orderId,
        s.merchantOrderNo,
        s.amountFen,
        s.subject,
        `cs_${alnum(40)}`,
        expires,
        created,
        created,
      ]);
      const next = sqlTime(new Date(now.getTime() + 60_000));
      await writes.payment([
        paymentId,
        orderId,
        outTradeNo,
        s.amountFen,
        expires,
        next,
        created,
        created,
      ]);
      const action = precreateSignatures(keys, outTradeNo, s, expiresAt);
      await writes.action([action, sqlTime(new Date()), paymentId]);
      return null;
    },
  });
}

// ---- running and reporting ----------------------------------------------------

interface PhaseFigures {
  orders: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpu: CpuUsage;
  /** CPU of the process doing the work (the service, or this process for the bare loop) per order. */
  workerCpuMsPerOrder: number;
}

function figures(r: LoadResult, cpu: CpuUsage, worker: string): PhaseFigures {
  const l = summarise(r.latenciesMs);
  return {
    orders: r.started,
    ok: r.ok,
    errors: r.errors + (r.cutShort ? 1 : 0),
    errorSamples: r.cutShort ? [...r.errorSamples, 'phase deadline reached'] : r.errorSamples,
    seconds: r.wallMs / 1000,
    perSecond: r.ok / (r.wallMs / 1000),
    p50: l.p50,
    p99: l.p99,
    cpu,
    workerCpuMsPerOrder: ((cpu.seconds[worker] ?? NaN) * 1000) / r.started,
  };
}

interface DbResult {
  /** The service's settings beyond its defaults (secrets masked). */
  serviceSettings: string;
  db: BenchDb;
  durability: string;
  bare: PhaseFigures;
  service: PhaseFigures;
  ratio: number;
  checks: string[];
  ok: boolean;
}

async function countCheck(db: BenchDatabase, expected: number, who: string): Promise<string> {
  const one = async (sql: string) =>
    Number(Object.values((await db.all<Record<string, unknown>>(sql))[0])[0]);
  const orders = await one('SELECT COUNT(*) FROM orders');
  const withQr = await one(
    `SELECT COUNT(*) FROM payments WHERE status = 'PENDING' AND action LIKE '%"type":"qr"%'`,
  );
  const problem = orders !== expected || withQr !== expected;
  return `${who}: ${orders} orders, ${withQr} PENDING payments with a QR action (expected ${expected} each)${problem ? ' — FAILED' : ''}`;
}

async function runOnDb(db: BenchDb, workDir: string, dataDir: string): Promise<DbResult> {
  const stamp = `${Date.now()}_${process.pid}`;
  let service: Awaited<ReturnType<typeof startService>>;
  let serviceDb: BenchDatabase;
  let bareDb: BenchDatabase;
  let writes: Writes;
  let durability: string;
  progress(`${db}: starting the service on a fresh database (migrations run at boot)`);
  if (db === 'sqlite') {
    const servicePath = join(workDir, `service-${stamp}.sqlite`);
    const barePath = join(workDir, `bare-${stamp}.sqlite`);
    service = await startService({
      dataDir,
      db: { type: 'sqlite', path: servicePath, synchronous: settings.sqliteSync },
      logFile: join(workDir, `service-${db}.log`),
      root: settings.serviceRoot,
      stripped: settings.stripped,
      nodeArgs: settings.profile
        ? ['--cpu-prof', `--cpu-prof-dir=${join(workDir, 'profiles', db)}`]
        : [],
    });
    cleanups.add(() => service.stop());
    serviceDb = openSqlite(servicePath);
    bareDb = openSqlite(barePath);
    await copySchema(serviceDb, bareDb);
    writes = sqliteWrites(barePath);
    durability = `SQLite journal_mode=WAL, synchronous=${settings.sqliteSync} on both sides`;
  } else {
    const info = await mysqlServerInfo();
    const serviceName = `paygate_bench_co_svc_${stamp}`;
    const bareName = `paygate_bench_co_bare_${stamp}`;
    for (const name of [serviceName, bareName]) {
      await createMysqlDatabase(name);
      cleanups.add(() => (settings.keep ? Promise.resolve() : dropMysqlDatabase(name)));
    }
    service = await startService({
      dataDir,
      db: { type: 'mysql', database: serviceName, poolSize: settings.mysqlPool },
      logFile: join(workDir, `service-${db}.log`),
      root: settings.serviceRoot,
      stripped: settings.stripped,
      nodeArgs: settings.profile
        ? ['--cpu-prof', `--cpu-prof-dir=${join(workDir, 'profiles', db)}`]
        : [],
    });
    cleanups.add(() => service.stop());
    serviceDb = await openMysql(serviceName);
    bareDb = await openMysql(bareName);
    await copySchema(serviceDb, bareDb);
    writes = mysqlWrites(bareName);
    const v = info.variables;
    durability =
      `MariaDB ${info.version}: innodb_flush_log_at_trx_commit=${v.innodb_flush_log_at_trx_commit}, ` +
      `sync_binlog=${v.sync_binlog}, log_bin=${v.log_bin}; pool of ${settings.mysqlPool} connections on both sides`;
  }
  cleanups.add(async () => {
    await writes.close();
    await serviceDb.close();
    await bareDb.close();
  });
  const keys = readSandboxKeys(dataDir);
  const dbPid = db === 'mysql' ? findDatabaseServerPid() : undefined;

  const bareSpecs = orderSpecs(`BARE-${stamp}`, settings.warmup + settings.count);
  const serviceSpecs = orderSpecs(`SVC-${stamp}`, settings.warmup + settings.count);
  const phase = async (
    who: 'bare' | 'service',
    run: (specs: OrderSpec[]) => Promise<LoadResult>,
    specs: OrderSpec[],
  ) => {
    if (settings.warmup > 0) await run(specs.slice(0, settings.warmup));
    progress(`${db}: ${who}: ${settings.count} orders, ${settings.concurrency} in flight`);
    const meter = new CpuMeter({ client: process.pid, server: service.pid, database: dbPid });
    const r = await run(specs.slice(settings.warmup));
    const f = figures(r, meter.stop(), who === 'bare' ? 'client' : 'server');
    progress(
      `${db}: ${who}: ${fixed(f.perSecond, 0)} orders/s, p50 ${fixed(f.p50)} ms, p99 ${fixed(f.p99)} ms, ${f.errors} errors`,
    );
    return f;
  };
  const bare = await phase('bare', (s) => bareCheckout(keys, writes, s), bareSpecs);
  const serviceFigures = await phase('service', (s) => serviceCheckout(service, s), serviceSpecs);
  await service.stop();
  const expected = settings.warmup + settings.count;
  const checks = [
    await countCheck(bareDb, expected, 'bare database'),
    await countCheck(serviceDb, expected, 'service database'),
  ];
  return {
    db,
    durability,
    serviceSettings: describeServiceEnv(service.env),
    bare,
    service: serviceFigures,
    ratio: serviceFigures.perSecond / bare.perSecond,
    checks,
    ok: !checks.some((c) => c.endsWith('FAILED')) && !bare.errors && !serviceFigures.errors,
  };
}

function report(results: DbResult[], machine: ReturnType<typeof machineInfo>): string {
  const lines = [
    `bench/checkout — ${machine.date}`,
    machineLine(machine),
    `${settings.count} orders, ${settings.concurrency} in flight (warm-up of ${settings.warmup} first, not counted); ` +
      'service: POST /api/orders + POST /api/orders/:id/payments {alipay, qr} against the in-process sandbox; ' +
      'bare: 2 RSA2 signatures + 2 verifications + 3 single-statement transactions per order, in the bench process',
    '',
  ];
  const rows: string[][] = [];
  for (const r of results) {
    for (const [who, f] of [
      ['bare loop', r.bare],
      ['service', r.service],
    ] as const) {
      rows.push([
        r.db,
        who,
        String(f.orders),
        ...loadColumns(f),
        fixed(f.workerCpuMsPerOrder, 2),
        fixed(f.cpu.otherCores, 2),
        who === 'service' ? `${fixed(r.ratio * 100, 0)}%` : '',
      ]);
    }
  }
  lines.push(
    markdownTable(
      [
        'db',
        'system',
        'orders',
        ...loadHeaders('orders/s'),
        'worker CPU ms/order',
        'other load (cores)',
        'service/bare',
      ],
      rows,
    ),
  );
  lines.push('');
  for (const r of results) {
    lines.push(`${r.db}: ${r.durability}`);
    lines.push(
      `${r.db}: service settings${settings.stripped ? ' (STRIPPED, for comparison only)' : ''}: ${r.serviceSettings}`,
    );
    for (const c of r.checks) lines.push(`${r.db}: ${c}`);
    for (const [who, f] of [
      ['bare', r.bare],
      ['service', r.service],
    ] as const) {
      if (f.errors) lines.push(`${r.db}: ${who} errors, first ones: ${f.errorSamples.join(' | ')}`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const machine = machineInfo(settings.serviceRoot);
  const workDir = mkdtempSync(join(tmpdir(), 'paygate-bench-checkout-'));
  cleanups.removeAtEnd(workDir);
  const dataDir = join(workDir, 'data');
  mkdirSync(dataDir);
  const results: DbResult[] = [];
  for (const db of settings.dbs) {
    results.push(await runOnDb(db, workDir, dataDir));
    await cleanups.runAll();
  }
  print(report(results, machine));
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `checkout-${machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine, settings, results }, null, 2)}\n`);
  progress(`results written to ${file}`);
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}

main()
  .catch((error: unknown) => {
    progress(`failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanups.runAll(true));
