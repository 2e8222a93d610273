/**
 * bench/reconcile: one reconciliation run of a large bill, as an operator
 * starts it (POST /admin/reconciliations) on the service in its default
 * configuration (jobs on, webhooks configured), against a channel simulated by
 * bench/bill-gateway.server.ts in a process of its own. The bill (default
 * 1,000,000 rows: 90 % payments, 10 % refunds) is written by the bench in the
 * channel's layout, with our matching records seeded straight into the
 * database and 0.1 % of each discrepancy type: rows we do not know
 * (MISSING_LOCAL), altered amounts (AMOUNT_MISMATCH), payments we hold unpaid
 * (STATUS_MISMATCH, healed by a query), and payments of ours the bill lacks
 * (MISSING_REMOTE). Beside it, in the same run, the bare loop
 * (bench/reconcile-bare.ts) only unzips, decodes and parses the same file.
 * Reports wall time, rows/s and the peak RSS of the paygate process, and
 * checks every count.
 *
 *   npm run bench:reconcile -- [--channel alipay|wechat|both] [--db sqlite|mysql|both]
 *     [--rows 1000000] [--keep] [--profile] [--node-options '--max-semi-space-size=2']
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchArgs, BenchDb, print, progress } from './support/bench-args';
import {
  BenchDatabase,
  createMysqlDatabase,
  dropMysqlDatabase,
  mysqlServerInfo,
  openMysql,
  openSqlite,
} from './support/bench-db';
import { BenchBillRow, writeAlipayBillZip, writeWechatBillGz } from './support/bill-files';
import {
  REPO_ROOT,
  SERVICE_KEYS,
  describeServiceEnv,
  freePort,
  startChild,
  startService,
} from './support/child-process';
import { Cleanups } from './support/cleanups';
import { alnum, sqlTime } from './support/fixtures';
import { machineInfo, machineLine } from './support/machine-info';

type Channel = 'alipay' | 'wechat';

const args = new BenchArgs(process.argv.slice(2), [
  'channel',
  'db',
  'rows',
  'keep',
  'profile',
  'node-options',
]);
const settings = {
  channels: ((c) => (c === 'both' ? ['alipay', 'wechat'] : [c]) as Channel[])(
    args.oneOf('channel', ['alipay', 'wechat', 'both'] as const, 'both'),
  ),
  dbs: args.dbs(),
  rows: args.int('rows', 1_000_000, 10_000, 10_000_000),
  keep: args.flag('keep'),
  /** --cpu-prof for the service; the profiles stay in the kept work directory. */
  profile: args.flag('profile'),
  /** Extra node options for the service (experiments only; the headline runs without). */
  nodeOptions: args.string('node-options', '').split(' ').filter(Boolean),
};
const cleanups = new Cleanups(() => settings.keep || settings.profile);

const DAY_MS = 24 * 3600_000;
/** A day the daily job does not reconcile by itself (it takes the day before today). */
const BILL_DATE = new Date(Date.now() + 8 * 3600_000 - 3 * DAY_MS).toISOString().slice(0, 10);
const DAY_START = Date.parse(`${BILL_DATE}T00:00:00Z`) - 8 * 3600_000;
const STAMP = BILL_DATE.replace(/-/g, '');

/**
 * Row i of the bill, and what we hold for it. Every 10th row is a refund of the
 * payment nine rows before; per 1,000 rows, #0 is unknown to us, #1 has its
 * amount altered on the bill and #2 is a payment we hold as unpaid.
 */
const plan = {
  isRefund: (i: number) => i % 10 === 9,
  missingLocal: (i: number) => i % 1000 === 0,
  amountAltered: (i: number) => i % 1000 === 1,
  unpaidHere: (i: number) => i % 1000 === 2,
  outTradeNo: (i: number) => `RB${STAMP}${String(plan.isRefund(i) ? i - 9 : i).padStart(22, '0')}`,
  outRefundNo: (i: number) => `RF${STAMP}${String(i).padStart(22, '0')}`,
  channelTradeNo: (i: number) =>
    `2026${STAMP}${String(plan.isRefund(i) ? i - 9 : i).padStart(16, '0')}`,
  amount: (i: number) => 100 + ((i * 7919) % 99_900),
  at: (i: number, n: number) =>
    new Date(DAY_START + Math.floor((i / n) * (DAY_MS - 60_000)) + 1000),
  /** Payments of ours the bill lacks: keys outside the bill's. */
  missingRemote: (k: number) => `RM${STAMP}${String(k).padStart(22, '0')}`,
};

function* billRows(n: number): Generator<BenchBillRow> {
  for (let i = 0; i < n; i++) {
    const refund = plan.isRefund(i);
    yield {
      kind: refund ? 'refund' : 'payment',
      outTradeNo: plan.outTradeNo(i),
      channelTradeNo: plan.channelTradeNo(i),
      ...(refund ? { outRefundNo: plan.outRefundNo(i) } : {}),
      amount: plan.amount(i) + (!refund && plan.amountAltered(i) ? 1 : 0),
      at: plan.at(i, n),
    };
  }
}

interface Expected {
  channelRows: number;
  localRows: number;
  matched: number;
  byType: Record<string, number>;
  healed: number;
}

/** What a correct run must count, from the plan. */
function expected(n: number): Expected {
  let missingLocal = 0;
  let altered = 0;
  let unpaid = 0;
  let localPayments = 0;
  let refunds = 0;
  for (let i = 0; i < n; i++) {
    if (plan.isRefund(i)) {
      refunds++;
      continue;
    }
    if (plan.missingLocal(i)) missingLocal++;
    else if (plan.unpaidHere(i)) unpaid++;
    else {
      localPayments++;
      if (plan.amountAltered(i)) altered++;
    }
  }
  const missingRemote = Math.floor(n / 1000);
  return {
    channelRows: n,
    // Succeeded payments of the day (the healed ones are paid before the day is read:
    // they were paid "now", outside the bill's day), plus refunds.
    localRows: localPayments + missingRemote + refunds,
    matched: n - missingLocal - altered - unpaid,
    byType: {
      MISSING_LOCAL: missingLocal,
      AMOUNT_MISMATCH: altered,
      STATUS_MISMATCH: unpaid,
      MISSING_REMOTE: missingRemote,
    },
    healed: unpaid,
  };
}

const PAYMENT_COLUMNS = [
  'id',
  'order_id',
  'out_trade_no',
  'channel',
  'method',
  'amount',
  'status',
  'anomaly',
  'channel_trade_no',
  'action',
  'client_ip',
  'return_url',
  'openid',
  'expires_at',
  'paid_at',
  'closed_at',
  'next_query_at',
  'query_attempts',
  'created_at',
  'updated_at',
];
const ORDER_COLUMNS = [
  'id',
  'merchant_order_no',
  'amount',
  'currency',
  'subject',
  'status',
  'paid_amount',
  'refunded_amount',
  'client_secret',
  'metadata',
  'expires_at',
  'created_at',
  'updated_at',
];
const REFUND_COLUMNS = [
  'id',
  'order_id',
  'payment_id',
  'channel',
  'out_trade_no',
  'kind',
  'merchant_refund_no',
  'out_refund_no',
  'amount',
  'total_amount',
  'status',
  'query_attempts',
  'created_at',
  'succeeded_at',
  'updated_at',
];

/**
 * Our side, straight into the tables (setup only): a succeeded payment per bill
 * payment we know, the unpaid ones PENDING with their PENDING orders (healing
 * pays them), the refunds, and the payments the bill lacks. Payments that
 * reconciliation only reads carry no order row: nothing on that path reads one.
 */
async function seed(
  db: BenchDatabase,
  channel: Channel,
  n: number,
): Promise<Record<string, number>> {
  const unpaid: Record<string, number> = {};
  const created = sqlTime(new Date(DAY_START));
  const expires = sqlTime(new Date(Date.now() + DAY_MS));
  let payments: unknown[][] = [];
  let orders: unknown[][] = [];
  let refunds: unknown[][] = [];
  const flush = async (force = false) => {
    if (payments.length >= 5000 || (force && payments.length)) {
      await db.insertMany('payments', PAYMENT_COLUMNS, payments);
      payments = [];
    }
    if (orders.length >= 5000 || (force && orders.length)) {
      await db.insertMany('orders', ORDER_COLUMNS, orders);
      orders = [];
    }
    if (refunds.length >= 5000 || (force && refunds.length)) {
      await db.insertMany('refunds', REFUND_COLUMNS, refunds);
      refunds = [];
    }
  };
  const payment = (outTradeNo: string, amount: number, paidAt: Date | null, orderId: string) => [
    `pay_${alnum(24)}`,
    orderId,
    outTradeNo,
    channel,
    'qr',
    amount,
    paidAt ? 'SUCCEEDED' : 'PENDING',
    null,
    paidAt ? `T${outTradeNo.slice(-20)}` : null,
    null,
    null,
    null,
    null,
    expires,
    paidAt ? sqlTime(paidAt) : null,
    null,
    null,
    0,
    created,
    created,
  ];
  for (let i = 0; i < n; i++) {
    const at = plan.at(i, n);
    if (plan.isRefund(i)) {
      refunds.push([
        `ref_${alnum(24)}`,
        `ord_${alnum(24)}`,
        `pay_${alnum(24)}`,
        channel,
        plan.outTradeNo(i),
        'merchant',
        `RF-${i}`,
        plan.outRefundNo(i),
        plan.amount(i),
        plan.amount(i) * 2,
        'SUCCEEDED',
        0,
        sqlTime(at),
        sqlTime(at),
        sqlTime(at),
      ]);
    } else if (plan.unpaidHere(i)) {
      const orderId = `ord_${alnum(24)}`;
      unpaid[plan.outTradeNo(i)] = plan.amount(i);
      orders.push([
        orderId,
        `BENCH-REC-${i}-${alnum(6)}`,
        plan.amount(i),
        'CNY',
        'Bench item',
        'PENDING',
        0,
        0,
        `cs_${alnum(40)}`,
        null,
        expires,
        created,
        created,
      ]);
      payments.push(payment(plan.outTradeNo(i), plan.amount(i), null, orderId));
    } else if (!plan.missingLocal(i)) {
      payments.push(payment(plan.outTradeNo(i), plan.amount(i), at, `ord_${alnum(24)}`));
    }
    await flush();
  }
  for (let k = 0; k < Math.floor(n / 1000); k++)
    payments.push(payment(plan.missingRemote(k), 500 + k, plan.at(k * 997, n), `ord_${alnum(24)}`));
  await flush(true);
  return unpaid;
}

function pem(
  key: { export(o: { type: 'pkcs8' | 'spki'; format: 'pem' }): string | Buffer },
  type: 'pkcs8' | 'spki',
): string {
  return key.export({ type, format: 'pem' }).toString();
}

/** Credentials for the service and the gateway: the service trusts the gateway's key. */
function channelSetup(
  channel: Channel,
  workDir: string,
  gatewayUrl: string,
): { service: Record<string, string>; gateway: Record<string, string> } {
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const gateway = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = (name: string, text: string) => {
    const path = join(workDir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const gatewayKey = file(`${channel}-gateway-key.pem`, pem(gateway.privateKey, 'pkcs8'));
  if (channel === 'alipay') {
    return {
      service: {
        ALIPAY_APP_ID: '2021000000000001',
        ALIPAY_PRIVATE_KEY_FILE: file('alipay-app-key.pem', pem(merchant.privateKey, 'pkcs8')),
        ALIPAY_PUBLIC_KEY_FILE: file('alipay-public.pem', pem(gateway.publicKey, 'spki')),
        ALIPAY_GATEWAY: `${gatewayUrl}/gateway.do`,
      },
      gateway: { BENCH_GW_ALIPAY_KEY_FILE: gatewayKey },
    };
  }
  const keyId = `PUB_KEY_ID_0119${'0'.repeat(20)}`;
  return {
    service: {
      WECHAT_APP_ID: 'wx1234567890abcdef',
      WECHAT_MCH_ID: '1900000109',
      WECHAT_APIV3_KEY: randomBytes(16).toString('hex'),
      WECHAT_PRIVATE_KEY_FILE: file('wechat-merchant-key.pem', pem(merchant.privateKey, 'pkcs8')),
      WECHAT_CERT_SERIAL: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
      WECHAT_PLATFORM_PUBLIC_KEY_FILE: file(
        'wechat-platform-public.pem',
        pem(gateway.publicKey, 'spki'),
      ),
      WECHAT_PLATFORM_PUBLIC_KEY_ID: keyId,
      WECHAT_BASE_URL: gatewayUrl,
    },
    gateway: {
      BENCH_GW_WECHAT_KEY_FILE: gatewayKey,
      BENCH_GW_WECHAT_KEY_ID: keyId,
      BENCH_GW_WECHAT_APPID: 'wx1234567890abcdef',
      BENCH_GW_WECHAT_MCHID: '1900000109',
    },
  };
}

/**
 * A GET that tries again on a connection error: a poll may meet a keep-alive
 * socket the service is closing, which is no failure of the run.
 */
async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { headers });
      if (res.status !== 200)
        throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
      return await res.json();
    } catch (error) {
      if (attempt >= 5 || !(error instanceof TypeError)) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(kb('VmRSS') / 1024), peakMiB: Math.round(kb('VmHWM') / 1024) };
}

interface Outcome {
  label: string;
  wallS: number;
  rowsPerS: number;
  peakMiB: number;
  rssBeforeMiB: number;
  bareS: number;
  barePeakMiB: number;
  violations: string[];
}

async function runOne(channel: Channel, db: BenchDb, workDir: string): Promise<Outcome> {
  const label = `${channel}/${db}`;
  const n = settings.rows;
  const dataDir = join(workDir, `data-${channel}-${db}`);
  mkdirSync(dataDir);
  const gatewayPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const creds = channelSetup(channel, workDir, gatewayUrl);

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
    logFile: join(workDir, `receiver-${label.replace('/', '-')}.log`),
  });
  cleanups.add(() => receiver.stop());

  const stamp = `${Date.now()}_${process.pid}`;
  const dbOption =
    db === 'sqlite'
      ? {
          type: 'sqlite' as const,
          path: join(workDir, `service-${stamp}.sqlite`),
          synchronous: 'FULL' as const,
        }
      : { type: 'mysql' as const, database: `paygate_bench_rec_${stamp}`, poolSize: 10 };
  if (dbOption.type === 'mysql') {
    await createMysqlDatabase(dbOption.database);
    cleanups.add(() => (settings.keep ? Promise.resolve() : dropMysqlDatabase(dbOption.database)));
  }
  const operatorEnv = {
    MERCHANT_WEBHOOK_URL: `${receiver.baseUrl}/hooks/service`,
    ALIPAY_NOTIFY_ALLOW_IPS: '127.0.0.1/32',
    WECHAT_NOTIFY_ALLOW_IPS: '127.0.0.1/32',
    ...creds.service,
  };
  // Gateway first (the service may call it at boot), on the bill the bench writes next.
  const billFile = join(workDir, channel === 'alipay' ? `bill-${STAMP}.zip` : `bill-${STAMP}.gz`);
  progress(`${label}: writing a ${n}-row bill of ${BILL_DATE}`);
  let sha1 = '';
  if (channel === 'alipay') await writeAlipayBillZip(billFile, BILL_DATE, billRows(n));
  else
    sha1 = (
      await writeWechatBillGz(
        billFile,
        { appId: 'wx1234567890abcdef', mchId: '1900000109' },
        billRows(n),
      )
    ).sha1;

  progress(`${label}: migrating a fresh database, then seeding our side`);
  const migrate = await startService({
    dataDir,
    db: dbOption,
    logFile: join(workDir, `migrate-${label.replace('/', '-')}.log`),
    env: { ...operatorEnv, JOBS_ENABLED: 'false' },
  });
  await migrate.stop();
  const direct =
    dbOption.type === 'sqlite' ? openSqlite(dbOption.path) : await openMysql(dbOption.database);
  const unpaid = await seed(direct, channel, n);
  const paidFile = join(workDir, `unpaid-${channel}.json`);
  writeFileSync(paidFile, JSON.stringify(unpaid));

  const gateway = await startChild({
    name: 'gateway',
    args: [
      '-r',
      'ts-node/register/transpile-only',
      join(REPO_ROOT, 'bench', 'bill-gateway.server.ts'),
    ],
    env: {
      BENCH_GW_PORT: String(gatewayPort),
      BENCH_GW_BILL_DATE: BILL_DATE,
      BENCH_GW_PAID_FILE: paidFile,
      ...(channel === 'alipay'
        ? { BENCH_GW_ALIPAY_BILL: billFile }
        : { BENCH_GW_WECHAT_BILL: billFile, BENCH_GW_WECHAT_SHA1: sha1 }),
      ...creds.gateway,
    },
    port: gatewayPort,
    logFile: join(workDir, `gateway-${label.replace('/', '-')}.log`),
  });
  cleanups.add(() => gateway.stop());

  progress(`${label}: bare loop (unzip/gunzip, decode, csv-parse) over the same file`);
  const bareOut = execFileSync(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      join(REPO_ROOT, 'bench', 'reconcile-bare.ts'),
      channel,
      billFile,
    ],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  const bare = JSON.parse(bareOut.trim().split('\n').pop()!) as {
    rows: number;
    ms: number;
    peakRssMiB: number;
  };

  const service = await startService({
    nodeArgs: [
      ...settings.nodeOptions,
      ...(settings.profile
        ? ['--cpu-prof', `--cpu-prof-dir=${join(workDir, 'profiles', label.replace('/', '-'))}`]
        : []),
    ],
    dataDir,
    db: dbOption,
    logFile: join(workDir, `service-${label.replace('/', '-')}.log`),
    env: operatorEnv,
  });
  cleanups.add(() => service.stop());
  progress(`${label}: service settings: ${describeServiceEnv(service.env)}`);
  const admin = {
    authorization: `Bearer ${SERVICE_KEYS.ADMIN_API_KEY}`,
    'content-type': 'application/json',
  };
  await new Promise((r) => setTimeout(r, 2000));
  const before = memory(service.pid!);
  progress(
    `${label}: reconciling (service RSS ${before.rssMiB} MiB, peak so far ${before.peakMiB} MiB)`,
  );
  const started = Date.now();
  const res = await fetch(`${service.baseUrl}/admin/reconciliations`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ channel, date: BILL_DATE }),
  });
  if (res.status !== 201)
    throw new Error(`POST /admin/reconciliations answered ${res.status}: ${await res.text()}`);
  const runId = ((await res.json()) as { id: string }).id;
  let run: { status: string; error: string | null; counts: Record<string, number> };
  let maxRss = before.rssMiB;
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    maxRss = Math.max(maxRss, memory(service.pid!).rssMiB);
    run = (await getJson(`${service.baseUrl}/admin/reconciliations/${runId}`, admin)) as typeof run;
    if (run.status !== 'RUNNING') break;
    if (Date.now() - started > 600_000) throw new Error('the run did not finish within 10 minutes');
  }
  const wallS = (Date.now() - started) / 1000;
  const after = memory(service.pid!);
  await service.stop();

  const want = expected(n);
  const violations: string[] = [];
  if (run.status !== 'COMPLETED') violations.push(`run ${runId} ended ${run.status}: ${run.error}`);
  for (const key of ['channelRows', 'localRows', 'matched', 'healed'] as const) {
    if (run.counts[key] !== want[key])
      violations.push(`counts.${key} = ${run.counts[key]}, expected ${want[key]}`);
  }
  const byType = await direct.all<{ type: string; c: number | string }>(
    'SELECT type, COUNT(*) AS c FROM reconciliation_discrepancies WHERE run_id = ? GROUP BY type',
    [runId],
  );
  for (const [type, count] of Object.entries(want.byType)) {
    const got = Number(byType.find((t) => t.type === type)?.c ?? 0);
    if (got !== count) violations.push(`${type}: ${got} discrepancies, expected ${count}`);
  }
  if (bare.rows !== n) violations.push(`the bare loop counted ${bare.rows} rows, expected ${n}`);
  await direct.close();
  await gateway.stop();
  await receiver.stop();
  const outcome: Outcome = {
    label,
    wallS,
    rowsPerS: n / wallS,
    peakMiB: after.peakMiB,
    rssBeforeMiB: before.rssMiB,
    bareS: bare.ms / 1000,
    barePeakMiB: bare.peakRssMiB,
    violations,
  };
  progress(
    `${label}: ${wallS.toFixed(1)} s (${Math.round(n / wallS)} rows/s), peak RSS ${after.peakMiB} MiB (max sampled ${maxRss}); bare loop ${outcome.bareS.toFixed(1)} s, ${bare.peakRssMiB} MiB; ${violations.length} violations`,
  );
  return outcome;
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'paygate-bench-reconcile-'));
  cleanups.removeAtEnd(workDir);
  const machine = machineInfo(REPO_ROOT);
  const results: Outcome[] = [];
  try {
    let durability = '';
    if (settings.dbs.includes('mysql')) {
      const info = await mysqlServerInfo();
      durability = `MariaDB ${info.version}, innodb_flush_log_at_trx_commit=${info.variables.innodb_flush_log_at_trx_commit}, buffer pool ${Math.round(Number(info.variables.innodb_buffer_pool_size) / 2 ** 20)} MiB`;
    }
    for (const channel of settings.channels) {
      for (const db of settings.dbs) results.push(await runOne(channel, db, workDir));
    }
    print(`## bench/reconcile (${new Date().toISOString().slice(0, 10)})`);
    print(machineLine(machine));
    print(
      `bill of ${BILL_DATE}: ${settings.rows} rows (90 % payments, 10 % refunds), 0.1 % of each discrepancy type; service in its default configuration (jobs on, webhooks configured), SQLite synchronous=FULL${durability ? `; ${durability}` : ''}`,
    );
    print();
    print(
      '| channel/db | run (s) | rows/s | peak RSS paygate (MiB) | RSS before (MiB) | bare loop (s) | bare peak RSS (MiB) | run / bare | checks |',
    );
    print('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const r of results) {
      print(
        `| ${r.label} | ${r.wallS.toFixed(1)} | ${Math.round(r.rowsPerS)} | ${r.peakMiB} | ${r.rssBeforeMiB} | ${r.bareS.toFixed(1)} | ${r.barePeakMiB} | ${(r.wallS / r.bareS).toFixed(2)}× | ${r.violations.length ? r.violations.join('; ') : 'all counts as planned'} |`,
      );
    }
  } finally {
    await cleanups.runAll(true);
  }
  if (results.some((r) => r.violations.length > 0)) process.exit(1);
}

main().catch(async (error: Error) => {
  progress(`failed: ${error.stack ?? error.message}`);
  await cleanups.runAll(true);
  process.exit(1);
});
