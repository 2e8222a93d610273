/**
 * bench/chaos: paygate's promise — no money lost or doubled — under the
 * failures production brings, on the multi-instance setup (RELIABILITY.md).
 *
 * Three paygate instances (the built service, as operators run it) on one fresh
 * database of a MariaDB server this script starts itself (and SIGKILLs and
 * restarts mid-run), behind a round-robin proxy; the channels are one shared
 * simulator process (bench/chaos/simulator.ts); the merchant is
 * webhook-receiver.server.ts answering 500 or timing out 30 % of the time.
 * During the run: orders paid on Alipay and WeChat Pay v3 in random order, their
 * notifications duplicated (30 %), dropped (only the sync job finds those),
 * delayed, each to whichever instance the proxy picks; orders that expire while
 * their payment lands late; partial refunds racing each other on different
 * instances; mariadbd SIGKILLed and restarted; one instance SIGKILLed and
 * started again; hostile requests over every endpoint (bench/chaos/hostile.ts).
 * Then, after a bounded wait, it checks the database and the receiver against
 * the simulator's own records (bench/chaos/checks.ts), and runs the closing at
 * scale: expired PENDING orders, half with an open attempt, closed by two
 * instances, against the rate at which the simulator answers signed close calls
 * alone.
 *
 *   npm run chaos                      (the full run: 10,000 orders, 10,000 hostile, 100,000 to close)
 *   npm run chaos:short                (the CI version: a few minutes)
 *   … -- [--orders N] [--hostile N] [--close-orders N] [--db-outage S] [--settle S] [--keep]
 *
 * Exits 1 and prints every violation when a check fails.
 */
import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { checkRun, type RunRecord } from './chaos/checks';
import { runClosing } from './chaos/closing';
import { HostileTraffic, type Target } from './chaos/hostile';
import { ChaosMariadb } from './chaos/mariadb-server';
import { RoundRobinProxy } from './chaos/round-robin-proxy';
import { SimulatorControl, channelEnv, startSimulator, type Channel } from './chaos/simulator';
import { BenchArgs, print, progress } from './support/bench-args';
import { BenchChild, REPO_ROOT, SERVICE_KEYS, freePort, startChild } from './support/child-process';
import { Cleanups } from './support/cleanups';
import { alnum } from './support/fixtures';
import { machineInfo, machineLine } from './support/machine-info';

const args = new BenchArgs(process.argv.slice(2), [
  'short',
  'orders',
  'hostile',
  'close-orders',
  'db-outage',
  'settle',
  'pay-seconds',
  'keep',
]);
const short = args.flag('short');
const settings = {
  short,
  orders: args.int('orders', short ? 500 : 10_000, 20, 100_000),
  hostile: args.int('hostile', short ? 1000 : 10_000, 0, 100_000),
  closeOrders: args.int('close-orders', short ? 4000 : 100_000, 0, 1_000_000),
  /** How long mariadbd stays down. */
  dbOutageSeconds: args.int('db-outage', short ? 8 : 15, 1, 120),
  /** The bounded wait for everything to converge after the last payment. */
  settleSeconds: args.int('settle', short ? 150 : 300, 10, 3600),
  /** Payments are spread over this long, so that the failures land in the middle of them. */
  paySeconds: args.int('pay-seconds', short ? 80 : 240, 10, 3600),
  keep: args.flag('keep'),
};

const INSTANCES = 3;
const EXPIRING_SHARE = 0.05;
const DECOY_SHARE = 0.02;
const REFUND_RACE_SHARE = 0.1;
const DUPLICATE_SHARE = 0.3;
const DROP_SHARE = 0.1;
const DELAY_SHARE = 0.1;
const MERCHANT = SERVICE_KEYS.MERCHANT_API_KEY;

export interface Answer {
  status: number;
  text: string;
}

/** Every request the script made and what came back, for the no-5xx check. */
export interface Sent {
  at: number;
  what: string;
  status: number | string;
}

export class Instances {
  readonly children: (BenchChild | undefined)[] = [];
  constructor(
    private readonly start: (i: number) => Promise<BenchChild>,
    readonly ports: number[],
  ) {}

  async up(i: number): Promise<void> {
    this.children[i] = await this.start(i);
  }

  /** SIGKILL: no graceful stop, its leases run out by themselves. */
  kill(i: number): void {
    const child = this.children[i];
    if (child?.pid) process.kill(child.pid, 'SIGKILL');
    this.children[i] = undefined;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.children.filter((c) => c !== undefined).map((c) => c.stop()));
    this.children.length = 0;
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 128 });

export function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
  timeoutMs = 30_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

async function pool<T>(
  items: T[],
  concurrency: number,
  work: (item: T, i: number) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i], i);
      }
    }),
  );
}

export interface ChaosOrder extends Target {
  merchantOrderNo: string;
  role: 'paid' | 'expiring' | 'decoy';
  /** How the simulator is told to notify. */
  notify: 'normal' | 'duplicate' | 'drop' | 'delay';
  refundRace: boolean;
}

const cleanups = new Cleanups(() => settings.keep);

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineInfo(REPO_ROOT);
  const work = mkdtempSync(join(tmpdir(), 'paygate-chaos-'));
  cleanups.removeAtEnd(work);
  progress(`work directory ${work}; ${JSON.stringify(settings)}`);
  const record: RunRecord = {
    sent: [],
    outages: [],
    events: [],
    notes: {},
  };
  const sent = record.sent;
  const mark = (what: string) => {
    record.events.push({ at: Date.now(), what });
    progress(what);
  };

  // ---- the database, the channels, the merchant ------------------------------
  const db = new ChaosMariadb(join(work, 'mariadb'), await freePort());
  db.install();
  await db.start();
  cleanups.add(() => db.remove());
  const database = 'paygate_chaos';
  await db.createDatabase(database);
  mark(`mariadbd on 127.0.0.1:${db.port}, database ${database}`);

  const simPort = await freePort();
  const simDir = join(work, 'simulator');
  const sim = await startSimulator({
    port: simPort,
    dataDir: simDir,
    logFile: join(work, 'simulator.log'),
    // The channels' notification retry schedules, a hundred times faster.
    timeScale: 0.01,
  });
  cleanups.add(() => sim.stop());
  const control = new SimulatorControl(sim.baseUrl);

  const hookPort = await freePort();
  const receiver = await startChild({
    name: 'receiver',
    args: ['-r', 'ts-node/register/transpile-only', join(__dirname, 'webhook-receiver.server.ts')],
    port: hookPort,
    logFile: join(work, 'receiver.log'),
    env: {
      BENCH_HOOK_SECRET: SERVICE_KEYS.WEBHOOK_SECRET,
      BENCH_HOOK_PORT: String(hookPort),
      BENCH_HOOK_FAIL_RATIO: '0.3',
      BENCH_HOOK_HANG_MS: '3000',
    },
  });
  cleanups.add(() => receiver.stop());

  // ---- three instances behind the proxy --------------------------------------
  const proxyPort = await freePort();
  const ports = await Promise.all(Array.from({ length: INSTANCES }, () => freePort()));
  const channels = channelEnv(simDir, simPort);
  const instanceEnv = (i: number, extra: Record<string, string> = {}): Record<string, string> => ({
    NODE_ENV: 'production',
    PORT: String(ports[i]),
    // Channels and browsers reach paygate through the load balancer.
    PUBLIC_BASE_URL: `http://127.0.0.1:${proxyPort}`,
    TRUST_PROXY: 'loopback',
    ALIPAY_NOTIFY_ALLOW_IPS: '127.0.0.1/32',
    WECHAT_NOTIFY_ALLOW_IPS: '127.0.0.1/32',
    DATA_DIR: join(work, `instance-${i}`),
    DB_TYPE: 'mysql',
    DB_HOST: '127.0.0.1',
    DB_PORT: String(db.port),
    DB_USER: 'root',
    DB_PASSWORD: '',
    DB_NAME: database,
    INSTANCE_ID: `chaos-${i}`,
    JOBS_POLL_INTERVAL_MS: '1000',
    MERCHANT_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/hooks/chaos`,
    WEBHOOK_TIMEOUT_MS: '2000',
    // Retries a few seconds apart for a couple of minutes: the run's bounded wait.
    WEBHOOK_RETRY_SCHEDULE: '1,2,3,5,5,5,5,5,5,5,5,10,10,10,10,10,10,10,10,10',
    ...SERVICE_KEYS,
    ...channels,
    ...extra,
  });
  const instances = new Instances(
    (i) =>
      startChild({
        name: `instance ${i}`,
        args: [join(REPO_ROOT, 'dist', 'src', 'main.js')],
        port: ports[i],
        logFile: join(work, `instance-${i}.log`),
        env: instanceEnv(i),
      }),
    ports,
  );
  cleanups.add(() => instances.stopAll());
  await instances.up(0); // the first one applies the migrations
  await Promise.all([instances.up(1), instances.up(2)]);
  const proxy = new RoundRobinProxy(() => ports);
  await proxy.listen(proxyPort);
  cleanups.add(() => proxy.close());
  mark(
    `simulator :${simPort}, receiver :${hookPort}, instances :${ports.join(' :')}, proxy :${proxyPort}`,
  );

  /** A merchant call through the proxy, sent again while the answer is a 5xx or no answer. */
  const merchant = async (
    method: string,
    path: string,
    body?: unknown,
    port = proxyPort,
  ): Promise<Answer> => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const deadline = Date.now() + 120_000;
    for (let attempt = 0; ; attempt++) {
      const target = attempt === 0 ? port : proxyPort;
      let answer: Answer | undefined;
      try {
        answer = await send(
          target,
          method,
          path,
          { authorization: `Bearer ${MERCHANT}`, 'content-type': 'application/json' },
          payload,
        );
        sent.push({ at: Date.now(), what: `${method} ${path}`, status: answer.status });
      } catch (error) {
        sent.push({ at: Date.now(), what: `${method} ${path}`, status: (error as Error).message });
      }
      if (answer && answer.status < 500) return answer;
      if (Date.now() > deadline) throw new Error(`${method} ${path}: no answer below 500 in 120 s`);
      await sleep(500 + attempt * 250);
    }
  };

  // ---- orders ------------------------------------------------------------------
  const total = settings.orders;
  const decoys = Math.max(4, Math.round(total * DECOY_SHARE));
  const expiring = Math.max(4, Math.round(total * EXPIRING_SHARE));
  const orders: ChaosOrder[] = [];
  const roles: ChaosOrder['role'][] = [
    ...Array<ChaosOrder['role']>(expiring).fill('expiring'),
    ...Array<ChaosOrder['role']>(decoys).fill('decoy'),
    ...Array<ChaosOrder['role']>(total - expiring - decoys).fill('paid'),
  ];
  const runTag = alnum(6);
  mark(`creating ${total} orders (${expiring} expiring in 60 s, ${decoys} decoys never paid)`);
  const createdAt = Date.now();
  await pool(roles, 16, async (role, i) => {
    const channel: Channel = i % 2 === 0 ? 'alipay' : 'wechat';
    const merchantOrderNo = `CHAOS-${runTag}-${i}`;
    const amountFen = 100 + Math.floor(Math.random() * 99_900);
    const created = await merchant('POST', '/api/orders', {
      merchantOrderNo,
      amount: amountFen,
      subject: 'Chaos order',
      ...(role === 'expiring' ? { expireSeconds: 60 } : {}),
    });
    if (created.status !== 201 && created.status !== 200)
      throw new Error(`order ${merchantOrderNo}: ${created.status} ${created.text}`);
    const order = JSON.parse(created.text) as { id: string; clientSecret: string };
    const payment = await merchant('POST', `/api/orders/${order.id}/payments`, {
      channel,
      method: 'qr',
    });
    if (payment.status !== 201)
      throw new Error(`payment ${merchantOrderNo}: ${payment.status} ${payment.text}`);
    const r = Math.random();
    orders.push({
      orderId: order.id,
      clientSecret: order.clientSecret,
      merchantOrderNo,
      outTradeNo: (JSON.parse(payment.text) as { outTradeNo: string }).outTradeNo,
      amountFen,
      channel,
      role,
      notify:
        r < DUPLICATE_SHARE
          ? 'duplicate'
          : r < DUPLICATE_SHARE + DROP_SHARE
            ? 'drop'
            : r < DUPLICATE_SHARE + DROP_SHARE + DELAY_SHARE
              ? 'delay'
              : 'normal',
      refundRace: role === 'paid' && Math.random() < REFUND_RACE_SHARE,
    });
  });
  record.notes.createSeconds = (Date.now() - createdAt) / 1000;
  mark(`created in ${record.notes.createSeconds.toFixed(0)} s`);

  // ---- the run: payments, failures, hostile traffic, refund races -------------
  const paidTargets: Target[] = [];
  const hostile = new HostileTraffic(
    simDir,
    MERCHANT,
    SERVICE_KEYS.ADMIN_API_KEY,
    () => orders.filter((o) => o.role === 'decoy'),
    () => paidTargets,
  );
  const hostileAnswers: RunRecord['hostile'] = [];
  record.hostile = hostileAnswers;
  const payStart = Date.now();
  const toPay = shuffle(orders.filter((o) => o.role === 'paid'));
  const refundRaces: RunRecord['refundRaces'] = [];
  record.refundRaces = refundRaces;
  const raceTasks: Promise<void>[] = [];

  const refundRace = async (o: ChaosOrder) => {
    // Once the order is paid, three partial refunds of 40 % each at once on three
    // instances (at most two fit), and the first one's number again on another.
    const until = Date.now() + 60_000;
    for (;;) {
      const got = await merchant('GET', `/api/orders/${o.orderId}`);
      if (got.status === 200 && (JSON.parse(got.text) as { status: string }).status === 'PAID')
        break;
      if (Date.now() > until) return;
      await sleep(1000);
    }
    const part = Math.max(1, Math.floor(o.amountFen * 0.4));
    const nos = [0, 1, 2].map((k) => `R-${o.merchantOrderNo}-${k}`);
    const calls = [0, 1, 2, 0].map((k, j) =>
      merchant(
        'POST',
        `/api/orders/${o.orderId}/refunds`,
        { merchantRefundNo: nos[k], amount: part },
        ports[j % INSTANCES],
      ),
    );
    const answers = await Promise.all(calls);
    refundRaces.push({
      orderId: o.orderId,
      amountFen: o.amountFen,
      part,
      statuses: answers.map((a) => a.status),
    });
  };

  const payOne = async (o: ChaosOrder, i: number) => {
    const due = payStart + (i / toPay.length) * settings.paySeconds * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
    const body =
      o.notify === 'drop'
        ? undefined
        : o.notify === 'delay'
          ? { notify: 'delay', delayMs: 1000 + Math.floor(Math.random() * 4000) }
          : { notify: o.notify };
    const answer = await control.control(
      o.channel,
      o.outTradeNo,
      body ? 'pay' : 'mark-paid',
      body ?? {},
    );
    if (answer.status !== 200)
      throw new Error(
        `simulator pay ${o.outTradeNo}: ${answer.status} ${JSON.stringify(answer.json)}`,
      );
    paidTargets.push(o);
    // A notification sent once more later, with a fresh id, as channels do.
    if (o.notify === 'normal' && Math.random() < 0.1) {
      setTimeout(
        () => void control.control(o.channel, o.outTradeNo, 'notify', {}).catch(() => undefined),
        2000,
      );
    }
    if (o.refundRace) raceTasks.push(refundRace(o));
  };

  // Expiring orders: their buyers pay around the expiry, some before, some after the close.
  const lateTasks = orders
    .filter((o) => o.role === 'expiring')
    .map(async (o, k) => {
      const at =
        createdAt + 50_000 + (k % 2 === 0 ? Math.random() * 8000 : 12_000 + Math.random() * 15_000);
      await sleep(Math.max(0, at - Date.now()));
      const answer = await control.control(o.channel, o.outTradeNo, 'pay', {
        notify: 'normal',
        force: true,
      });
      record.notes[`late ${o.outTradeNo}`] = answer.status;
    });

  let hostileSent = 0;
  const hostileTask = (async () => {
    const n = settings.hostile;
    await pool(
      Array.from({ length: n }, (_, i) => i),
      4,
      async (i) => {
        const due = payStart + (i / n) * settings.paySeconds * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        const req = hostile.make(i);
        const port = req.direct ? ports[i % INSTANCES] : proxyPort;
        let status: number | string;
        let ok: boolean;
        try {
          const a = await send(port, req.method, req.path, req.headers, req.body, 30_000);
          status = a.status;
          ok = req.refused(a.status, a.text);
        } catch (error) {
          status = (error as Error).message;
          ok = true; // no answer (an instance being killed) changes nothing either
        }
        hostileSent += 1;
        hostileAnswers.push({
          at: Date.now(),
          kind: req.kind,
          path: req.path,
          status,
          refused: ok,
        });
      },
    );
  })();

  // The failures, in the middle of the payments.
  const failures = (async () => {
    await sleep(settings.paySeconds * 350);
    mark('SIGKILL mariadbd');
    const outage = { from: Date.now(), to: 0 };
    record.outages.push(outage);
    await db.kill();
    await sleep(settings.dbOutageSeconds * 1000);
    await db.start();
    outage.to = Date.now();
    mark(`mariadbd back after ${((outage.to - outage.from) / 1000).toFixed(1)} s`);
    await sleep(Math.max(0, payStart + settings.paySeconds * 650 - Date.now()));
    mark('SIGKILL instance 2');
    const killedAt = Date.now();
    instances.kill(2);
    await sleep(2000);
    await instances.up(2);
    record.notes.instanceDownSeconds = (Date.now() - killedAt) / 1000;
    mark(`instance 2 back after ${record.notes.instanceDownSeconds.toFixed(1)} s`);
  })();

  mark(
    `paying ${toPay.length} orders over ${settings.paySeconds} s; ${settings.hostile} hostile requests`,
  );
  await pool(toPay, 8, payOne);
  await Promise.all([failures, hostileTask, ...lateTasks]);
  await Promise.all(raceTasks);
  const runEnd = Date.now();
  mark(
    `payments done in ${((runEnd - payStart) / 1000).toFixed(0)} s; ${hostileSent} hostile sent; waiting to converge`,
  );

  // ---- the bounded wait, then the checks --------------------------------------
  const conn = await mysql.createConnection(db.connectionOptions(database));
  const result = await checkRun({
    conn,
    control,
    receiverUrl: receiver.baseUrl,
    orders,
    record,
    settleUntil: runEnd + settings.settleSeconds * 1000,
    runEnd,
    proxy: proxy.figures,
  });
  await conn.end();

  // The figures so far, before the closing (which can take long) starts.
  print(`# chaos run, ${new Date().toISOString().slice(0, 10)}`);
  print(machineLine(machine));
  print(`settings: ${JSON.stringify(settings)}`);
  for (const line of result.report) print(line);

  // ---- closing at scale ----------------------------------------------------------
  let closing: Awaited<ReturnType<typeof runClosing>> | undefined;
  if (settings.closeOrders > 0) {
    await instances.stopAll();
    closing = await runClosing({
      count: settings.closeOrders,
      db,
      database,
      control,
      simPort,
      simDir,
      work,
      instanceEnv,
      ports,
      cleanups,
    });
    result.violations.push(...closing.violations);
  }

  // ---- the report ------------------------------------------------------------------
  if (closing) for (const line of closing.report) print(line);
  print(`wall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (result.violations.length > 0) {
    print(`\n${result.violations.length} VIOLATION(S):`);
    for (const v of result.violations.slice(0, 200)) print(`  - ${v}`);
    if (result.violations.length > 200) print(`  … and ${result.violations.length - 200} more`);
  } else {
    print('\nno violation');
  }
  await cleanups.runAll(true);
  process.exit(result.violations.length > 0 ? 1 : 0);
}

if (require.main === module) {
  main().catch(async (error: Error) => {
    process.stderr.write(`chaos: ${error.stack ?? error.message}\n`);
    await cleanups.runAll(true);
    process.exit(2);
  });
}
