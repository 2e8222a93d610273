/**
 * bench/notify: signed payment notifications (plus exact duplicates) posted
 * with N in flight to the running service, and the same stream to a bare
 * node:http baseline (notify-baseline.server.ts, a child process like the
 * service) doing the same verification and the same SQL through the driver,
 * with the same durability settings, on its own copy of the same schema and
 * data. Alipay (RSA2 form posts) and/or WeChat Pay v3 (signed JSON with an
 * AES-GCM resource); SQLite and/or MariaDB. See BENCHMARKS.md.
 *
 * The service runs as operators run it: defaults (jobs on, LOG_LEVEL info),
 * NODE_ENV=production, MERCHANT_WEBHOOK_URL at a live receiver
 * (webhook-receiver.server.ts, which checks every signature) and the notify
 * allowlists set; the report prints every setting given. The baseline delivers
 * its webhooks to the same receiver from its own process. Both sides are
 * measured on notifications/s and end to end: distinct orders ÷ the time
 * until the receiver holds a valid order.paid for every one of them.
 *
 *   npm run bench:notify -- [--channel alipay|wechat|both] [--db sqlite|mysql|both]
 *     [--count 20000] [--dup-ratio 0.2] [--concurrency 64] [--warmup 1000]
 *     [--sqlite-sync FULL|NORMAL] [--mysql-pool 10] [--slices 8] [--max-seconds 600]
 *     [--e2e-timeout 300] [--stripped] [--keep] [--profile] [--service-root DIR]
 *
 * The measured stream is cut into --slices parts, sent to the baseline and the
 * service in turn (B S, S B, B S, …) so that the machine's drift over a run
 * (this one is shared) weighs on both alike; after each slice the bench waits
 * until that side's webhooks have all arrived before the next slice starts;
 * each side's figures add up its slices. --stripped runs the service in the
 * old stripped setup (jobs off, LOG_LEVEL=warn), for comparison only.
 * --keep keeps the work directory and the MariaDB databases; --profile writes V8
 * CPU profiles of both servers into the work directory (kept); --service-root
 * measures the dist/ of another checkout (A/B runs of a change to src/).
 * Exit code 1 when any answer was wrong, a webhook did not arrive in time or a
 * database check failed.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formEncode, readSandboxKeys, signedPaidNotification } from './support/alipay-bench';
import { BenchArgs, BenchDb, print, progress } from './support/bench-args';
import { Cleanups } from './support/cleanups';
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
  freePort,
  mysqlEnv,
  startChild,
  startService,
} from './support/child-process';
import { AttemptFixture, BenchChannel, insertAttempts, makeAttempts } from './support/fixtures';
import { LoadResult, httpRequest, runTasks } from './support/http-load';
import { CpuMeter, CpuUsage, findDatabaseServerPid } from './support/cpu-meter';
import { machineInfo, machineLine } from './support/machine-info';
import {
  loadHeaders,
  fixed,
  loadColumns,
  markdownTable,
  ratesBySlice,
  summarise,
} from './support/stats';
import { readWechatKeys, signWechatBody, wechatNotificationBody } from './support/wechat-bench';

const args = new BenchArgs(process.argv.slice(2), [
  'channel',
  'db',
  'count',
  'dup-ratio',
  'concurrency',
  'warmup',
  'sqlite-sync',
  'mysql-pool',
  'slices',
  'max-seconds',
  'e2e-timeout',
  'stripped',
  'keep',
  'profile',
  'service-root',
]);
const channelArg = args.oneOf('channel', ['alipay', 'wechat', 'both'] as const, 'both');
const settings = {
  channels: (channelArg === 'both' ? ['alipay', 'wechat'] : [channelArg]) as BenchChannel[],
  dbs: args.dbs(),
  count: args.int('count', 20_000, 1, 1_000_000),
  dupRatio: args.number('dup-ratio', 0.2, 0, 1),
  concurrency: args.int('concurrency', 64, 1, 1024),
  warmup: args.int('warmup', 1000, 0, 100_000),
  sqliteSync: args.oneOf('sqlite-sync', ['FULL', 'NORMAL'] as const, 'FULL'),
  mysqlPool: args.int('mysql-pool', 10, 1, 200),
  slices: args.int('slices', 8, 1, 1000),
  maxSeconds: args.int('max-seconds', 600, 1, 3600),
  /** How long after a slice the bench waits for its webhooks before calling it a failure. */
  e2eTimeoutSeconds: args.int('e2e-timeout', 300, 1, 3600),
  /** The old stripped service setup (jobs off, LOG_LEVEL=warn), for comparison only. */
  stripped: args.flag('stripped'),
  keep: args.flag('keep'),
  /** Writes V8 CPU profiles of the service and the baseline into the (kept) work directory. */
  profile: args.flag('profile'),
  /** Another checkout whose built service to measure (A/B runs of a change to src/). */
  serviceRoot: args.string('service-root', REPO_ROOT),
};

const REQUEST_TIMEOUT_MS = 30_000;
const NOTIFY_PATH: Record<BenchChannel, string> = {
  alipay: '/notify/alipay',
  wechat: '/notify/wechat/v3',
};

/** One notification as sent: the exact bytes and headers, so a copy is exact. */
interface Signed {
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * The stream as attempt indexes (a duplicate repeats an index), signed on
 * first use: WeChat refuses a Wechatpay-Timestamp more than 5 minutes old, so
 * each slice is signed just before it is sent (outside the measured time) and
 * a copy reuses the bytes of its first sending.
 */
interface NotifyStream {
  indexes: number[];
  distinct: number;
  duplicates: number;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** One notification per attempt in [from, to), plus copies of a random dupRatio of them, shuffled. */
function buildStream(from: number, to: number): NotifyStream {
  const distinct = Array.from({ length: to - from }, (_, i) => from + i);
  const copies = shuffle([...distinct]).slice(0, Math.round(distinct.length * settings.dupRatio));
  return {
    indexes: shuffle([...distinct, ...copies]),
    distinct: distinct.length,
    duplicates: copies.length,
  };
}

/** Copies sent more than this after their first sending are re-signed, as WeChat's retries are. */
const RESIGN_AFTER_MS = 60_000;

class Signer {
  private readonly signed = new Map<number, Signed & { at: number }>();

  private constructor(
    private readonly attempts: AttemptFixture[],
    private readonly make: (attempt: AttemptFixture) => Signed,
    /** New headers for the same body (WeChat: a fresh Wechatpay-Timestamp); none for Alipay. */
    private readonly resign?: (body: Buffer) => Record<string, string>,
  ) {}

  static for(channel: BenchChannel, dataDir: string, attempts: AttemptFixture[]): Signer {
    if (channel === 'alipay') {
      const keys = readSandboxKeys(dataDir);
      return new Signer(attempts, (a) => ({
        body: Buffer.from(formEncode(signedPaidNotification(a, keys, new Date()))),
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      }));
    }
    const keys = readWechatKeys(dataDir);
    const resign = (body: Buffer) => signWechatBody(body, keys, new Date());
    return new Signer(
      attempts,
      (a) => {
        const body = wechatNotificationBody(a, keys, new Date());
        return { body, headers: resign(body) };
      },
      resign,
    );
  }

  /** The notifications of these indexes, signing those not signed yet (or signed too long ago). */
  bodies(indexes: number[]): Signed[] {
    const now = Date.now();
    return indexes.map((i) => {
      let s = this.signed.get(i);
      if (!s) {
        s = { ...this.make(this.attempts[i]), at: now };
        this.signed.set(i, s);
      } else if (this.resign && now - s.at > RESIGN_AFTER_MS) {
        s = { body: s.body, headers: this.resign(s.body), at: now };
        this.signed.set(i, s);
      }
      return s;
    });
  }
}

interface PhaseFigures {
  requests: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  seconds: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  cutShort: boolean;
  cpu: CpuUsage;
  /** Notifications per second in each quarter of the run: a drift shows here. */
  quarterRates: number[];
  /** CPU time of the server process (and of mariadbd, on MariaDB) per request. */
  serverCpuMsPerRequest: number;
  databaseCpuMsPerRequest?: number;
  /** Distinct orders paid in these slices, each owed one order.paid webhook. */
  orders: number;
  /** Sum over slices of: slice start → the receiver's last new order.paid of that slice. */
  e2eSeconds: number;
  /** Distinct orders ÷ e2eSeconds. */
  e2ePerSecond: number;
  /** Per slice: the last new webhook's arrival after the slice's last notification answer. */
  lagsMs: number[];
  /** Every slice's webhooks arrived within --e2e-timeout. */
  webhooksComplete: boolean;
}

interface Measured {
  load: LoadResult;
  cpu: CpuUsage;
  newOrders: number;
  e2eMs: number;
  lagMs: number;
  complete: boolean;
}

/** The stream cut into `n` consecutive parts of (nearly) equal size. */
function sliceIndexes(indexes: number[], n: number): number[][] {
  const parts = Math.min(n, indexes.length);
  return Array.from({ length: parts }, (_, i) =>
    indexes.slice(
      Math.floor((i * indexes.length) / parts),
      Math.floor(((i + 1) * indexes.length) / parts),
    ),
  );
}

/** One side's figures over its slices: times, requests and CPU add up; latencies pool. */
function figures(measured: Measured[]): PhaseFigures {
  let offset = 0;
  const completionsMs: number[] = [];
  for (const { load } of measured) {
    for (const t of load.completionsMs) completionsMs.push(offset + t);
    offset += load.wallMs;
  }
  const r: LoadResult = {
    started: sum(measured.map((m) => m.load.started)),
    ok: sum(measured.map((m) => m.load.ok)),
    errors: sum(measured.map((m) => m.load.errors)),
    errorSamples: measured.flatMap((m) => m.load.errorSamples).slice(0, 10),
    wallMs: offset,
    latenciesMs: measured.flatMap((m) => m.load.latenciesMs),
    completionsMs,
    cutShort: measured.some((m) => m.load.cutShort),
  };
  const seconds: Record<string, number> = {};
  for (const { cpu } of measured)
    for (const [name, s] of Object.entries(cpu.seconds)) seconds[name] = (seconds[name] ?? 0) + s;
  const cpu: CpuUsage = {
    seconds,
    otherCores:
      offset > 0 ? sum(measured.map((m) => m.cpu.otherCores * m.load.wallMs)) / offset : 0,
  };
  const l = summarise(r.latenciesMs);
  const per = (s: number | undefined) => (s === undefined ? undefined : (s * 1000) / r.started);
  const orders = sum(measured.map((m) => m.newOrders));
  const e2eSeconds = sum(measured.map((m) => m.e2eMs)) / 1000;
  const complete = measured.every((m) => m.complete);
  return {
    cpu,
    quarterRates: ratesBySlice(r.completionsMs, 4).map((x) => Math.round(x)),
    serverCpuMsPerRequest: per(cpu.seconds.server)!,
    databaseCpuMsPerRequest: per(cpu.seconds.database),
    requests: r.started,
    ok: r.ok,
    errors: r.errors + (r.cutShort ? 1 : 0),
    errorSamples: r.cutShort ? [...r.errorSamples, 'phase deadline reached'] : r.errorSamples,
    seconds: r.wallMs / 1000,
    perSecond: r.started / (r.wallMs / 1000),
    ...l,
    cutShort: r.cutShort,
    orders,
    e2eSeconds,
    e2ePerSecond: complete && e2eSeconds > 0 ? orders / e2eSeconds : NaN,
    lagsMs: measured.map((m) => m.lagMs),
    webhooksComplete: complete,
  };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);

/** The service's SQLite commits so far, from its /metrics. */
async function unitsPerCommit(
  service: BenchChild,
): Promise<{ transactions: number; units: number } | undefined> {
  const agent = new Agent();
  try {
    const { text } = await httpRequest(
      agent,
      new URL('/metrics', service.baseUrl),
      'GET',
      {},
      undefined,
      REQUEST_TIMEOUT_MS,
    );
    const value = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const transactions = value('paygate_db_units_per_commit_count');
    const units = value('paygate_db_units_per_commit_sum');
    return Number.isFinite(transactions) && transactions > 0 ? { transactions, units } : undefined;
  } finally {
    agent.destroy();
  }
}

/** Alipay reads `success` in a 200; WeChat Pay any 2xx (paygate and the baseline answer 204). */
function acknowledged(channel: BenchChannel, status: number, text: string): boolean {
  return channel === 'alipay'
    ? status === 200 && text === 'success'
    : status >= 200 && status < 300;
}

async function postAll(
  baseUrl: string,
  channel: BenchChannel,
  bodies: Signed[],
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: settings.concurrency });
  const url = new URL(NOTIFY_PATH[channel], baseUrl);
  try {
    return await runTasks({
      count: bodies.length,
      concurrency: settings.concurrency,
      maxMs: settings.maxSeconds * 1000,
      task: async (i) => {
        const { body, headers } = bodies[i];
        const a = await httpRequest(agent, url, 'POST', headers, body, REQUEST_TIMEOUT_MS);
        return acknowledged(channel, a.status, a.text)
          ? null
          : `HTTP ${a.status}: ${a.text.slice(0, 200)}`;
      },
    });
  } finally {
    agent.destroy();
  }
}

interface ReceiverStats {
  paidOrders: number;
  lastNewAt: number;
  received: number;
  invalid: number;
}

async function receiverStats(receiver: BenchChild, side: string): Promise<ReceiverStats> {
  const agent = new Agent();
  try {
    const { text } = await httpRequest(
      agent,
      new URL(`/stats/${side}`, receiver.baseUrl),
      'GET',
      {},
      undefined,
      REQUEST_TIMEOUT_MS,
    );
    return JSON.parse(text) as ReceiverStats;
  } finally {
    agent.destroy();
  }
}

/** Polls the receiver until it holds `expected` paid orders for `side`, or the timeout. */
async function waitForWebhooks(
  receiver: BenchChild,
  side: string,
  expected: number,
): Promise<{ stats: ReceiverStats; complete: boolean }> {
  const deadline = Date.now() + settings.e2eTimeoutSeconds * 1000;
  for (;;) {
    const stats = await receiverStats(receiver, side);
    if (stats.paidOrders >= expected) return { stats, complete: true };
    if (Date.now() > deadline) return { stats, complete: false };
    await new Promise((r) => setTimeout(r, 50));
  }
}

function profileArgs(workDir: string, name: string): string[] {
  return settings.profile
    ? ['--cpu-prof', `--cpu-prof-dir=${join(workDir, 'profiles', name)}`]
    : [];
}

interface DbCheck {
  paidOrders: number;
  succeededPayments: number;
  paidEvents: number;
  ordersWithEvent: number;
  deliveredWebhooks: number;
  receiverOrders: number;
  receiverInvalid: number;
  inbox: Record<string, number>;
  ok: boolean;
  problems: string[];
}

/**
 * Exactly one PAID order and one order.paid event per distinct notification,
 * each delivered and held by the receiver; every copy recorded as such.
 */
async function checkDb(
  db: BenchDatabase,
  distinct: number,
  duplicates: number,
  receiver: ReceiverStats,
): Promise<DbCheck> {
  const one = async (sql: string) =>
    Number(Object.values((await db.all<Record<string, unknown>>(sql))[0])[0]);
  const paidOrders = await one(`SELECT COUNT(*) FROM orders WHERE status = 'PAID'`);
  const succeededPayments = await one(`SELECT COUNT(*) FROM payments WHERE status = 'SUCCEEDED'`);
  const paidEvents = await one(`SELECT COUNT(*) FROM webhook_events WHERE type = 'order.paid'`);
  const ordersWithEvent = await one(
    `SELECT COUNT(DISTINCT order_id) FROM webhook_events WHERE type = 'order.paid'`,
  );
  const eventsOnUnpaid = await one(
    `SELECT COUNT(*) FROM webhook_events e JOIN orders o ON o.id = e.order_id WHERE o.status <> 'PAID'`,
  );
  const deliveredWebhooks = await one(
    `SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'DELIVERED'`,
  );
  const inboxRows = await db.all<{ outcome: string; n: unknown }>(
    'SELECT outcome, COUNT(*) AS n FROM channel_notifications GROUP BY outcome',
  );
  const inbox = Object.fromEntries(inboxRows.map((r) => [r.outcome, Number(r.n)]));
  const problems: string[] = [];
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) problems.push(`${what}: ${got}, expected ${want}`);
  };
  expect('PAID orders', paidOrders, distinct);
  expect('SUCCEEDED payments', succeededPayments, distinct);
  expect('order.paid events', paidEvents, distinct);
  expect('orders with an order.paid event', ordersWithEvent, distinct);
  expect('events on orders not PAID', eventsOnUnpaid, 0);
  expect('DELIVERED webhooks', deliveredWebhooks, distinct);
  expect('orders the receiver holds a valid order.paid for', receiver.paidOrders, distinct);
  expect('webhooks the receiver refused', receiver.invalid, 0);
  expect('inbox rows "processed"', inbox.processed ?? 0, distinct);
  expect('inbox rows "duplicate"', inbox.duplicate ?? 0, duplicates);
  const total = Object.values(inbox).reduce((s, n) => s + n, 0);
  expect('inbox rows in all', total, distinct + duplicates);
  return {
    paidOrders,
    succeededPayments,
    paidEvents,
    ordersWithEvent,
    deliveredWebhooks,
    receiverOrders: receiver.paidOrders,
    receiverInvalid: receiver.invalid,
    inbox,
    ok: problems.length === 0,
    problems,
  };
}

interface RunResult {
  channel: BenchChannel;
  db: BenchDb;
  durability: string;
  /** The service's settings beyond its defaults (secrets masked). */
  serviceSettings: string;
  /** SQLite: the service's transactions and the units of work they carried (warm-up included). */
  commits?: { transactions: number; units: number };
  setup: string;
  baseline: PhaseFigures;
  service: PhaseFigures;
  baselineWarmup?: PhaseFigures;
  serviceWarmup?: PhaseFigures;
  ratio: number;
  e2eRatio: number;
  baselineCheck: DbCheck;
  serviceCheck: DbCheck;
}

// Profiles stay in the work directory; the databases go unless --keep.
const cleanups = new Cleanups(() => settings.keep || settings.profile);

async function runOne(
  channel: BenchChannel,
  db: BenchDb,
  workDir: string,
  attempts: AttemptFixture[],
): Promise<RunResult> {
  const stamp = `${Date.now()}_${process.pid}`;
  const label = `${channel}/${db}`;
  const dataDir = join(workDir, `data-${channel}-${db}`);
  mkdirSync(dataDir);
  let serviceDb: BenchDatabase;
  let baselineDb: BenchDatabase;
  let durability: string;

  const hookPort = await freePort();
  const receiver = await startChild({
    name: 'receiver',
    args: [
      '-r',
      'ts-node/register/transpile-only',
      join(REPO_ROOT, 'bench', 'webhook-receiver.server.ts'),
    ],
    env: { BENCH_HOOK_PORT: String(hookPort), BENCH_HOOK_SECRET: SERVICE_KEYS.WEBHOOK_SECRET },
    port: hookPort,
    logFile: join(workDir, `receiver-${channel}-${db}.log`),
  });
  cleanups.add(() => receiver.stop());

  const operatorEnv = {
    MERCHANT_WEBHOOK_URL: `${receiver.baseUrl}/hooks/service`,
    ALIPAY_NOTIFY_ALLOW_IPS: '127.0.0.1/32',
    WECHAT_NOTIFY_ALLOW_IPS: '127.0.0.1/32',
  };
  const baselineEnv: Record<string, string> = {
    BENCH_BASE_CHANNEL: channel,
    BENCH_BASE_DATA_DIR: dataDir,
    BENCH_BASE_DB_TYPE: db,
    BENCH_BASE_WEBHOOK_URL: `${receiver.baseUrl}/hooks/baseline`,
    BENCH_BASE_WEBHOOK_SECRET: SERVICE_KEYS.WEBHOOK_SECRET,
  };
  const serviceOptions = {
    dataDir,
    logFile: join(workDir, `service-${channel}-${db}.log`),
    nodeArgs: profileArgs(workDir, `service-${channel}-${db}`),
    root: settings.serviceRoot,
    env: operatorEnv,
    stripped: settings.stripped,
  };

  progress(`${label}: starting the service on a fresh database (migrations run at boot)`);
  let service: Awaited<ReturnType<typeof startService>>;
  if (db === 'sqlite') {
    const servicePath = join(workDir, `service-${stamp}.sqlite`);
    const baselinePath = join(workDir, `baseline-${stamp}.sqlite`);
    service = await startService({
      ...serviceOptions,
      db: { type: 'sqlite', path: servicePath, synchronous: settings.sqliteSync },
    });
    cleanups.add(() => service.stop());
    serviceDb = openSqlite(servicePath);
    baselineDb = openSqlite(baselinePath);
    Object.assign(baselineEnv, {
      BENCH_BASE_DB_PATH: baselinePath,
      BENCH_BASE_SQLITE_SYNC: settings.sqliteSync,
    });
    durability = `SQLite journal_mode=WAL, synchronous=${settings.sqliteSync} (service: DB_SQLITE_SYNCHRONOUS=${settings.sqliteSync}; baseline: the same PRAGMAs)`;
  } else {
    const info = await mysqlServerInfo();
    const serviceName = `paygate_bench_svc_${stamp}`;
    const baselineName = `paygate_bench_base_${stamp}`;
    for (const name of [serviceName, baselineName]) {
      await createMysqlDatabase(name);
      cleanups.add(() => (settings.keep ? Promise.resolve() : dropMysqlDatabase(name)));
    }
    service = await startService({
      ...serviceOptions,
      db: { type: 'mysql', database: serviceName, poolSize: settings.mysqlPool },
    });
    cleanups.add(() => service.stop());
    serviceDb = await openMysql(serviceName);
    baselineDb = await openMysql(baselineName);
    const m = mysqlEnv();
    Object.assign(baselineEnv, {
      BENCH_BASE_DB_HOST: m.DB_HOST,
      BENCH_BASE_DB_PORT: m.DB_PORT,
      BENCH_BASE_DB_USER: m.DB_USER,
      BENCH_BASE_DB_PASSWORD: m.DB_PASSWORD,
      BENCH_BASE_DB_NAME: baselineName,
      BENCH_BASE_POOL_SIZE: String(settings.mysqlPool),
    });
    const v = info.variables;
    durability =
      `MariaDB ${info.version}: innodb_flush_log_at_trx_commit=${v.innodb_flush_log_at_trx_commit}, ` +
      `sync_binlog=${v.sync_binlog}, log_bin=${v.log_bin}, innodb_doublewrite=${v.innodb_doublewrite}, ` +
      `innodb_flush_method=${v.innodb_flush_method}, isolation=${v.transaction_isolation ?? v.tx_isolation}; ` +
      `pool of ${settings.mysqlPool} connections on both sides (service DB_POOL_SIZE, baseline connectionLimit)`;
  }
  const serviceSettings = describeServiceEnv(service.env);
  progress(`${label}: service settings: ${serviceSettings}`);
  cleanups.add(async () => {
    await serviceDb.close();
    await baselineDb.close();
  });

  progress(
    `${label}: copying the schema to the baseline database and inserting ${attempts.length} orders + attempts into both`,
  );
  await copySchema(serviceDb, baselineDb);
  await insertAttempts(serviceDb, attempts, channel);
  await insertAttempts(baselineDb, attempts, channel);
  const signer = Signer.for(channel, dataDir, attempts);
  const warm = buildStream(0, settings.warmup);
  const measured = buildStream(settings.warmup, attempts.length);

  const basePort = await freePort();
  const baseline = await startChild({
    name: 'baseline',
    args: [
      ...profileArgs(workDir, `baseline-${channel}-${db}`),
      '-r',
      'ts-node/register/transpile-only',
      join(REPO_ROOT, 'bench', 'notify-baseline.server.ts'),
    ],
    env: { ...baselineEnv, BENCH_BASE_PORT: String(basePort) },
    port: basePort,
    logFile: join(workDir, `baseline-${channel}-${db}.log`),
  });
  cleanups.add(() => baseline.stop());

  const dbPid = db === 'mysql' ? findDatabaseServerPid() : undefined;
  type Side = 'baseline' | 'service';
  const seen: Record<Side, Set<number>> = { baseline: new Set(), service: new Set() };
  const run = async (who: Side, server: BenchChild, indexes: number[]): Promise<Measured> => {
    const bodies = signer.bodies(indexes);
    for (const i of indexes) seen[who].add(i);
    const expected = seen[who].size;
    const before = (await receiverStats(receiver, who)).paidOrders;
    const meter = new CpuMeter({ client: process.pid, server: server.pid, database: dbPid });
    const startedAt = Date.now();
    const load = await postAll(server.baseUrl, channel, bodies);
    const answeredAt = Date.now();
    const cpu = meter.stop();
    const { stats, complete } = await waitForWebhooks(receiver, who, expected);
    if (!complete)
      progress(
        `${label}: ${who}: only ${stats.paidOrders} of ${expected} order.paid webhooks within ${settings.e2eTimeoutSeconds} s`,
      );
    const last = Math.max(stats.lastNewAt, answeredAt);
    return {
      load,
      cpu,
      newOrders: expected - before,
      e2eMs: last - startedAt,
      lagMs: last - answeredAt,
      complete,
    };
  };
  const say = (who: string, what: string, s: NotifyStream, f: PhaseFigures) =>
    progress(
      `${label}: ${who} ${what}: ${s.indexes.length} notifications (${s.duplicates} duplicates), ${settings.concurrency} in flight: ` +
        `${fixed(f.perSecond, 0)}/s, p50 ${fixed(f.p50)} ms, p99 ${fixed(f.p99)} ms, ${f.errors} errors, ` +
        `server CPU ${fixed(f.serverCpuMsPerRequest, 3)} ms/request, other load ${fixed(f.cpu.otherCores, 2)} cores, ` +
        `by quarter ${f.quarterRates.join('/')} per s; end to end ${fixed(f.e2ePerSecond, 0)} orders/s, ` +
        `last webhook ${fixed(max(f.lagsMs) / 1000, 2)} s after the last notification`,
    );
  const warmUp = async (who: Side, server: BenchChild) => {
    if (warm.indexes.length === 0) return undefined;
    const f = figures([await run(who, server, warm.indexes)]);
    say(who, 'warm-up', warm, f);
    return f;
  };
  const baselineWarmup = await warmUp('baseline', baseline);
  const serviceWarmup = await warmUp('service', service);
  const slices = sliceIndexes(measured.indexes, settings.slices);
  progress(
    `${label}: measured: ${measured.indexes.length} notifications in ${slices.length} slices, baseline and service in turn`,
  );
  const parts: Record<Side, Measured[]> = { baseline: [], service: [] };
  for (const [i, indexes] of slices.entries()) {
    const order: readonly Side[] = i % 2 === 0 ? ['baseline', 'service'] : ['service', 'baseline'];
    for (const who of order)
      parts[who].push(await run(who, who === 'baseline' ? baseline : service, indexes));
  }
  const commits = db === 'sqlite' ? await unitsPerCommit(service) : undefined;
  const receiverBaseline = await receiverStats(receiver, 'baseline');
  const receiverService = await receiverStats(receiver, 'service');
  await baseline.stop();
  await service.stop();
  await receiver.stop();
  const baselineFigures = figures(parts.baseline);
  const serviceFigures = figures(parts.service);
  say('baseline', 'measured', measured, baselineFigures);
  say('service', 'measured', measured, serviceFigures);

  const distinct = warm.distinct + measured.distinct;
  const duplicates = warm.duplicates + measured.duplicates;
  const baselineCheck = await checkDb(baselineDb, distinct, duplicates, receiverBaseline);
  const serviceCheck = await checkDb(serviceDb, distinct, duplicates, receiverService);
  return {
    channel,
    db,
    durability,
    serviceSettings,
    commits,
    setup: `${attempts.length} orders + PENDING ${channel}/qr payments inserted with SQL into each database`,
    baseline: baselineFigures,
    service: serviceFigures,
    baselineWarmup,
    serviceWarmup,
    ratio: serviceFigures.perSecond / baselineFigures.perSecond,
    e2eRatio: serviceFigures.e2ePerSecond / baselineFigures.e2ePerSecond,
    baselineCheck,
    serviceCheck,
  };
}

const pct = (x: number) => `${fixed(x * 100, 0)}%`;

function report(results: RunResult[], machine: ReturnType<typeof machineInfo>): string {
  const lines: string[] = [];
  const total = Math.round(settings.count * (1 + settings.dupRatio));
  lines.push(`bench/notify — ${machine.date}`);
  lines.push(machineLine(machine));
  lines.push(
    `stream per channel and database: ${settings.count} distinct signed payment notifications + ${Math.round(settings.count * settings.dupRatio)} exact duplicates ` +
      `(${total} requests), shuffled, ${settings.concurrency} in flight over keep-alive, in ${settings.slices} slices sent to the baseline and the service in turn, ` +
      `each slice's webhooks awaited before the next; warm-up of ${settings.warmup} distinct (+duplicates) first, not counted`,
  );
  lines.push(
    settings.stripped
      ? 'service configuration: STRIPPED (JOBS_ENABLED=false, LOG_LEVEL=warn) — for comparison only, not as paygate is run'
      : 'service configuration: as operators run it (defaults: jobs on, LOG_LEVEL info; webhooks to a live receiver; notify allowlists set)',
  );
  lines.push('');
  const rows: string[][] = [];
  for (const r of results) {
    for (const [who, f] of [
      ['baseline', r.baseline],
      ['service', r.service],
    ] as const) {
      rows.push([
        r.channel,
        r.db,
        who,
        String(f.requests),
        ...loadColumns(f),
        fixed(f.e2ePerSecond, 0),
        fixed(max(f.lagsMs) / 1000, 2),
        fixed(f.serverCpuMsPerRequest, 3),
        f.databaseCpuMsPerRequest === undefined ? '-' : fixed(f.databaseCpuMsPerRequest, 3),
        who === 'service' ? pct(r.ratio) : '',
        who === 'service' ? pct(r.e2eRatio) : '',
      ]);
    }
  }
  lines.push(
    markdownTable(
      [
        'channel',
        'db',
        'system',
        'requests',
        ...loadHeaders('notifications/s'),
        'end-to-end orders/s',
        'last webhook lag s',
        'server CPU ms/req',
        'mariadbd CPU ms/req',
        'notify ratio',
        'end-to-end ratio',
      ],
      rows,
    ),
  );
  lines.push('');
  for (const r of results) {
    const l = `${r.channel}/${r.db}`;
    lines.push(`${l}: ${r.durability}`);
    lines.push(`${l}: service settings: ${r.serviceSettings}`);
    if (r.commits)
      lines.push(
        `${l}: the service committed ${r.commits.units} units of work in ${r.commits.transactions} transactions ` +
          `(${fixed(r.commits.units / r.commits.transactions)} per durable commit; paygate_db_units_per_commit); the baseline commits each notification alone`,
      );
    lines.push(`${l}: setup: ${r.setup}`);
    for (const [who, c] of [
      ['baseline', r.baselineCheck],
      ['service', r.serviceCheck],
    ] as const) {
      lines.push(
        `${l}: ${who} check ${c.ok ? 'OK' : 'FAILED'}: ${c.paidOrders} PAID orders, ${c.succeededPayments} SUCCEEDED payments, ` +
          `${c.paidEvents} order.paid events on ${c.ordersWithEvent} orders, ${c.deliveredWebhooks} DELIVERED webhooks, ` +
          `receiver holds ${c.receiverOrders} (refused ${c.receiverInvalid}), inbox ${JSON.stringify(c.inbox)}` +
          (c.ok ? '' : `; ${c.problems.join('; ')}`),
      );
    }
    for (const [who, f] of [
      ['baseline', r.baseline],
      ['service', r.service],
    ] as const) {
      if (f.errors) lines.push(`${l}: ${who} errors, first ones: ${f.errorSamples.join(' | ')}`);
      lines.push(
        `${l}: ${who} webhook lag per slice (s): ${f.lagsMs.map((x) => fixed(x / 1000, 2)).join(' ')}`,
      );
    }
    const lag = max(r.service.lagsMs) / 1000;
    lines.push(
      `${l}: targets: notify >= 90% ${r.ratio >= 0.9 ? 'MET' : 'NOT MET'} (${pct(r.ratio)}); ` +
        `end to end >= 90% ${r.e2eRatio >= 0.9 ? 'MET' : 'NOT MET'} (${pct(r.e2eRatio)}); ` +
        `last webhook <= 5 s after the last notification ${lag <= 5 ? 'MET' : 'NOT MET'} (${fixed(lag, 2)} s)`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const machine = machineInfo(settings.serviceRoot);
  const workDir = mkdtempSync(join(tmpdir(), 'paygate-bench-notify-'));
  cleanups.removeAtEnd(workDir);
  const results: RunResult[] = [];
  for (const channel of settings.channels) {
    for (const db of settings.dbs) {
      results.push(
        await runOne(channel, db, workDir, makeAttempts(settings.warmup + settings.count)),
      );
      await cleanups.runAll();
    }
  }
  const text = report(results, machine);
  print(text);
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `notify-${machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine, settings, results }, null, 2)}\n`);
  progress(`results written to ${file}`);
  const failed = results.some(
    (r) =>
      !r.baselineCheck.ok ||
      !r.serviceCheck.ok ||
      r.service.errors ||
      r.baseline.errors ||
      !r.service.webhooksComplete ||
      !r.baseline.webhooksComplete,
  );
  process.exitCode = failed ? 1 : 0;
}

main()
  .catch((error: unknown) => {
    progress(`failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanups.runAll(true));
