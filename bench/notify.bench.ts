/**
 * bench/notify: signed Alipay TRADE_SUCCESS notifications (plus exact
 * duplicates) posted with N in flight to the running service, and the same
 * stream to a bare node:http baseline (notify-baseline.server.ts, a child
 * process like the service) doing the same signature check and the same SQL
 * through the driver, with the same durability settings, on its own copy of
 * the same schema and data. SQLite and/or MariaDB. See BENCHMARKS.md.
 *
 *   npm run bench:notify -- [--db sqlite|mysql|both] [--count 20000] [--dup-ratio 0.2]
 *     [--concurrency 64] [--warmup 1000] [--sqlite-sync FULL|NORMAL] [--mysql-pool 10]
 *     [--slices 8] [--max-seconds 600] [--keep] [--profile] [--service-root DIR]
 *
 * The measured stream is cut into --slices parts, sent to the baseline and the
 * service in turn (B S, S B, B S, …) so that the machine's drift over a run
 * (this one is shared) weighs on both alike; each side's figures add up its
 * slices. --keep keeps the work directory and the MariaDB databases; --profile writes V8
 * CPU profiles of both servers into the work directory (kept); --service-root
 * measures the dist/ of another checkout (A/B runs of a change to src/).
 * Exit code 1 when any answer was not `success` or a database check failed.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SandboxKeys,
  formEncode,
  readSandboxKeys,
  signedPaidNotification,
} from './support/alipay-bench';
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
  freePort,
  mysqlEnv,
  startChild,
  startService,
} from './support/child-process';
import { AttemptFixture, insertAttempts, makeAttempts } from './support/fixtures';
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

const args = new BenchArgs(process.argv.slice(2), [
  'db',
  'count',
  'dup-ratio',
  'concurrency',
  'warmup',
  'sqlite-sync',
  'mysql-pool',
  'slices',
  'max-seconds',
  'keep',
  'profile',
  'service-root',
]);
const settings = {
  dbs: args.dbs(),
  count: args.int('count', 20_000, 1, 1_000_000),
  dupRatio: args.number('dup-ratio', 0.2, 0, 1),
  concurrency: args.int('concurrency', 64, 1, 1024),
  warmup: args.int('warmup', 1000, 0, 100_000),
  sqliteSync: args.oneOf('sqlite-sync', ['FULL', 'NORMAL'] as const, 'FULL'),
  mysqlPool: args.int('mysql-pool', 10, 1, 200),
  slices: args.int('slices', 8, 1, 1000),
  maxSeconds: args.int('max-seconds', 600, 1, 3600),
  keep: args.flag('keep'),
  /** Writes V8 CPU profiles of the service and the baseline into the (kept) work directory. */
  profile: args.flag('profile'),
  /** Another checkout whose built service to measure (A/B runs of a change to src/). */
  serviceRoot: args.string('service-root', REPO_ROOT),
};

const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
const REQUEST_TIMEOUT_MS = 30_000;

interface NotifyStream {
  bodies: Buffer[];
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

/** One signed notification per attempt, plus exact copies of a random dupRatio of them, shuffled. */
function buildStream(attempts: AttemptFixture[], keys: SandboxKeys, now: Date): NotifyStream {
  const distinct = attempts.map((a) =>
    Buffer.from(formEncode(signedPaidNotification(a, keys, now))),
  );
  const copies = shuffle([...distinct]).slice(0, Math.round(distinct.length * settings.dupRatio));
  return {
    bodies: shuffle([...distinct, ...copies]),
    distinct: distinct.length,
    duplicates: copies.length,
  };
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
}

interface Measured {
  load: LoadResult;
  cpu: CpuUsage;
}

/** The stream cut into `n` consecutive parts of (nearly) equal size. */
function sliceBodies(bodies: Buffer[], n: number): Buffer[][] {
  const parts = Math.min(n, bodies.length);
  return Array.from({ length: parts }, (_, i) =>
    bodies.slice(
      Math.floor((i * bodies.length) / parts),
      Math.floor(((i + 1) * bodies.length) / parts),
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
  };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

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

async function postAll(baseUrl: string, bodies: Buffer[]): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: settings.concurrency });
  const url = new URL('/notify/alipay', baseUrl);
  try {
    return await runTasks({
      count: bodies.length,
      concurrency: settings.concurrency,
      maxMs: settings.maxSeconds * 1000,
      task: async (i) => {
        const a = await httpRequest(agent, url, 'POST', FORM, bodies[i], REQUEST_TIMEOUT_MS);
        return a.status === 200 && a.text === 'success'
          ? null
          : `HTTP ${a.status}: ${a.text.slice(0, 200)}`;
      },
    });
  } finally {
    agent.destroy();
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
  inbox: Record<string, number>;
  ok: boolean;
  problems: string[];
}

/** Exactly one PAID order and one order.paid event per distinct notification; every copy recorded as such. */
async function checkDb(db: BenchDatabase, distinct: number, duplicates: number): Promise<DbCheck> {
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
  expect('inbox rows "processed"', inbox.processed ?? 0, distinct);
  expect('inbox rows "duplicate"', inbox.duplicate ?? 0, duplicates);
  const total = Object.values(inbox).reduce((s, n) => s + n, 0);
  expect('inbox rows in all', total, distinct + duplicates);
  return {
    paidOrders,
    succeededPayments,
    paidEvents,
    ordersWithEvent,
    inbox,
    ok: problems.length === 0,
    problems,
  };
}

interface DbResult {
  db: BenchDb;
  durability: string;
  /** SQLite: the service's transactions and the units of work they carried (warm-up included). */
  commits?: { transactions: number; units: number };
  setup: string;
  baseline: PhaseFigures;
  service: PhaseFigures;
  baselineWarmup?: PhaseFigures;
  serviceWarmup?: PhaseFigures;
  ratio: number;
  baselineCheck: DbCheck;
  serviceCheck: DbCheck;
}

// Profiles stay in the work directory; the databases go unless --keep.
const cleanups = new Cleanups(() => settings.keep || settings.profile);

async function runOnDb(
  db: BenchDb,
  workDir: string,
  dataDir: string,
  attempts: AttemptFixture[],
  streams: { get: (keys: SandboxKeys) => { warm: NotifyStream; measured: NotifyStream } },
): Promise<DbResult> {
  const stamp = `${Date.now()}_${process.pid}`;
  let serviceDb: BenchDatabase;
  let baselineDb: BenchDatabase;
  let durability: string;
  let service: BenchChild;
  const baselineEnv: Record<string, string> = {
    BENCH_BASE_DATA_DIR: dataDir,
    BENCH_BASE_DB_TYPE: db,
  };

  progress(`${db}: starting the service on a fresh database (migrations run at boot)`);
  if (db === 'sqlite') {
    const servicePath = join(workDir, `service-${stamp}.sqlite`);
    const baselinePath = join(workDir, `baseline-${stamp}.sqlite`);
    service = await startService({
      dataDir,
      db: { type: 'sqlite', path: servicePath, synchronous: settings.sqliteSync },
      logFile: join(workDir, `service-${db}.log`),
      nodeArgs: profileArgs(workDir, `service-${db}`),
      root: settings.serviceRoot,
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
      dataDir,
      db: { type: 'mysql', database: serviceName, poolSize: settings.mysqlPool },
      logFile: join(workDir, `service-${db}.log`),
      nodeArgs: profileArgs(workDir, `service-${db}`),
      root: settings.serviceRoot,
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
  cleanups.add(async () => {
    await serviceDb.close();
    await baselineDb.close();
  });

  const { warm, measured } = streams.get(readSandboxKeys(dataDir));
  progress(
    `${db}: copying the schema to the baseline database and inserting ${attempts.length} orders + attempts into both`,
  );
  await copySchema(serviceDb, baselineDb);
  await insertAttempts(serviceDb, attempts);
  await insertAttempts(baselineDb, attempts);

  const basePort = await freePort();
  const baseline = await startChild({
    name: 'baseline',
    args: [
      ...profileArgs(workDir, `baseline-${db}`),
      '-r',
      'ts-node/register/transpile-only',
      join(REPO_ROOT, 'bench', 'notify-baseline.server.ts'),
    ],
    env: { ...baselineEnv, BENCH_BASE_PORT: String(basePort) },
    port: basePort,
    logFile: join(workDir, `baseline-${db}.log`),
  });
  cleanups.add(() => baseline.stop());

  const dbPid = db === 'mysql' ? findDatabaseServerPid() : undefined;
  const run = async (server: BenchChild, bodies: Buffer[]): Promise<Measured> => {
    const meter = new CpuMeter({ client: process.pid, server: server.pid, database: dbPid });
    const load = await postAll(server.baseUrl, bodies);
    return { load, cpu: meter.stop() };
  };
  const say = (who: string, label: string, s: NotifyStream, f: PhaseFigures) =>
    progress(
      `${db}: ${who} ${label}: ${s.bodies.length} notifications (${s.duplicates} duplicates), ${settings.concurrency} in flight: ` +
        `${fixed(f.perSecond, 0)}/s, p50 ${fixed(f.p50)} ms, p99 ${fixed(f.p99)} ms, ${f.errors} errors, ` +
        `server CPU ${fixed(f.serverCpuMsPerRequest, 3)} ms/request, other load ${fixed(f.cpu.otherCores, 2)} cores, ` +
        `by quarter ${f.quarterRates.join('/')} per s`,
    );
  const warmUp = async (who: string, server: BenchChild) => {
    if (warm.bodies.length === 0) return undefined;
    const f = figures([await run(server, warm.bodies)]);
    say(who, 'warm-up', warm, f);
    return f;
  };
  const baselineWarmup = await warmUp('baseline', baseline);
  const serviceWarmup = await warmUp('service', service);
  const slices = sliceBodies(measured.bodies, settings.slices);
  progress(
    `${db}: measured: ${measured.bodies.length} notifications in ${slices.length} slices, baseline and service in turn`,
  );
  const parts: Record<'baseline' | 'service', Measured[]> = { baseline: [], service: [] };
  for (const [i, bodies] of slices.entries()) {
    const order =
      i % 2 === 0 ? (['baseline', 'service'] as const) : (['service', 'baseline'] as const);
    for (const who of order)
      parts[who].push(await run(who === 'baseline' ? baseline : service, bodies));
  }
  const commits = db === 'sqlite' ? await unitsPerCommit(service) : undefined;
  await baseline.stop();
  await service.stop();
  const baselineFigures = figures(parts.baseline);
  const serviceFigures = figures(parts.service);
  say('baseline', 'measured', measured, baselineFigures);
  say('service', 'measured', measured, serviceFigures);

  const distinct = warm.distinct + measured.distinct;
  const duplicates = warm.duplicates + measured.duplicates;
  const baselineCheck = await checkDb(baselineDb, distinct, duplicates);
  const serviceCheck = await checkDb(serviceDb, distinct, duplicates);
  return {
    db,
    durability,
    commits,
    setup: `${attempts.length} orders + PENDING alipay/qr payments inserted with SQL into each database`,
    baseline: baselineFigures,
    service: serviceFigures,
    baselineWarmup,
    serviceWarmup,
    ratio: serviceFigures.perSecond / baselineFigures.perSecond,
    baselineCheck,
    serviceCheck,
  };
}

function report(
  results: DbResult[],
  machine: ReturnType<typeof machineInfo>,
  total: number,
): string {
  const lines: string[] = [];
  lines.push(`bench/notify — ${machine.date}`);
  lines.push(machineLine(machine));
  lines.push(
    `stream: ${settings.count} distinct signed TRADE_SUCCESS notifications + ${Math.round(settings.count * settings.dupRatio)} exact duplicates ` +
      `(${total} requests), shuffled, ${settings.concurrency} in flight over keep-alive, in ${settings.slices} slices sent to the baseline and the service in turn; ` +
      `warm-up of ${settings.warmup} distinct (+duplicates) first, not counted`,
  );
  lines.push('');
  const rows: string[][] = [];
  for (const r of results) {
    for (const [who, f] of [
      ['baseline', r.baseline],
      ['service', r.service],
    ] as const) {
      rows.push([
        r.db,
        who,
        String(f.requests),
        ...loadColumns(f),
        fixed(f.serverCpuMsPerRequest, 3),
        f.databaseCpuMsPerRequest === undefined ? '-' : fixed(f.databaseCpuMsPerRequest, 3),
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
        'requests',
        ...loadHeaders('notifications/s'),
        'server CPU ms/req',
        'mariadbd CPU ms/req',
        'other load (cores)',
        'service/baseline',
      ],
      rows,
    ),
  );
  lines.push('');
  for (const r of results) {
    lines.push(`${r.db}: ${r.durability}`);
    if (r.commits)
      lines.push(
        `${r.db}: the service committed ${r.commits.units} units of work in ${r.commits.transactions} transactions ` +
          `(${fixed(r.commits.units / r.commits.transactions)} per durable commit; paygate_db_units_per_commit); the baseline commits each notification alone`,
      );
    lines.push(`${r.db}: setup: ${r.setup}`);
    for (const [who, c] of [
      ['baseline', r.baselineCheck],
      ['service', r.serviceCheck],
    ] as const) {
      lines.push(
        `${r.db}: ${who} database check ${c.ok ? 'OK' : 'FAILED'}: ${c.paidOrders} PAID orders, ${c.succeededPayments} SUCCEEDED payments, ` +
          `${c.paidEvents} order.paid events on ${c.ordersWithEvent} orders, inbox ${JSON.stringify(c.inbox)}` +
          (c.ok ? '' : `; ${c.problems.join('; ')}`),
      );
    }
    for (const [who, f] of [
      ['baseline', r.baseline],
      ['service', r.service],
    ] as const) {
      if (f.errors) lines.push(`${r.db}: ${who} errors, first ones: ${f.errorSamples.join(' | ')}`);
    }
    lines.push(
      `${r.db}: target (service >= 60% of baseline): ${r.ratio >= 0.6 ? 'MET' : 'NOT MET'} (${fixed(r.ratio * 100, 0)}%)`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const machine = machineInfo(settings.serviceRoot);
  const workDir = mkdtempSync(join(tmpdir(), 'paygate-bench-notify-'));
  cleanups.removeAtEnd(workDir);
  const dataDir = join(workDir, 'data');
  mkdirSync(dataDir);
  const attempts = makeAttempts(settings.warmup + settings.count);
  let streams: { warm: NotifyStream; measured: NotifyStream } | undefined;
  const getStreams = (keys: SandboxKeys) => {
    if (!streams) {
      progress(`signing ${attempts.length} notifications with the sandbox gateway key`);
      const now = new Date();
      streams = {
        warm: buildStream(attempts.slice(0, settings.warmup), keys, now),
        measured: buildStream(attempts.slice(settings.warmup), keys, now),
      };
    }
    return streams;
  };
  const results: DbResult[] = [];
  for (const db of settings.dbs) {
    results.push(await runOnDb(db, workDir, dataDir, attempts, { get: getStreams }));
    await cleanups.runAll();
  }
  const text = report(results, machine, streams!.measured.bodies.length);
  print(text);
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `notify-${machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine, settings, results }, null, 2)}\n`);
  progress(`results written to ${file}`);
  const failed = results.some(
    (r) => !r.baselineCheck.ok || !r.serviceCheck.ok || r.service.errors || r.baseline.errors,
  );
  process.exitCode = failed ? 1 : 0;
}

main()
  .catch((error: unknown) => {
    progress(`failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanups.runAll(true));
