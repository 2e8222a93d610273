import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, QueryFailedError } from 'typeorm';
import { loadDatabaseConfig } from '../src/config/database.config';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { execute } from '../src/database/sql';
import { sqlTime } from '../src/database/sql-time';
import { UnitOfWork } from '../src/database/unit-of-work';
import {
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  sandboxPay,
} from './support/alipay-sandbox';
import { TcpProxy } from './support/tcp-proxy';
import {
  ADMIN_KEY,
  MERCHANT_KEY,
  TestApp,
  WEBHOOK_SECRET,
  freePort,
  orderInput,
  startApp,
} from './support/test-app';

const onMysql = (process.env.DB_TYPE ?? 'sqlite') === 'mysql';
/** The statement bound of the app behind the proxy (DB_STATEMENT_TIMEOUT_MS). */
const STATEMENT_TIMEOUT_MS = 3000;

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

/** A POST whose body arrives in two parts, `gapMs` apart: a request still in flight meanwhile. */
function slowPost(port: number, path: string, body: string, gapMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          authorization: `Bearer ${MERCHANT_KEY}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }),
        );
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, 10));
    setTimeout(() => req.end(body.slice(10)), gapMs);
  });
}

/** The status of GET path, or the error code when no connection could be made. */
function get(port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

describe('stopping and losing the database (e2e)', () => {
  describe('SIGTERM', () => {
    let dataDir: string;
    let child: ChildProcess | undefined;
    let db: DataSource;
    const instanceId = `lifecycle-${process.pid}`;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'paygate-lifecycle-'));
    });
    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await db?.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('stops taking requests, answers those in flight, hands back its leases and exits 0 within 10 s', async () => {
      const port = await freePort();
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        PORT: String(port),
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
        DATA_DIR: dataDir,
        DB_PATH: join(dataDir, 'paygate.sqlite'),
        MERCHANT_API_KEY: MERCHANT_KEY,
        ADMIN_API_KEY: ADMIN_KEY,
        WEBHOOK_SECRET,
        JOBS_ENABLED: 'true',
        JOBS_POLL_INTERVAL_MS: '100',
        INSTANCE_ID: instanceId,
        LOG_LEVEL: 'warn',
      };
      db = new DataSource(buildDataSourceOptions(loadDatabaseConfig(env)));
      child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
        cwd: join(__dirname, '..'),
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
        child!.once('exit', (code) => resolve({ code, at: Date.now() })),
      );
      await eventually(async () => expect(await get(port, '/health')).toBe(200), 60_000, 200);
      await db.initialize();
      // Leases other specs took on a shared MariaDB database would keep this instance from its own.
      await db.query('UPDATE job_leases SET lease_until = ? WHERE owner <> ?', [
        sqlTime(new Date(0)),
        instanceId,
      ]);
      const held = async () =>
        (await db.query('SELECT name FROM job_leases WHERE owner = ? AND lease_until > ?', [
          instanceId,
          sqlTime(new Date()),
        ])) as { name: string }[];
      await eventually(async () => expect((await held()).length).toBeGreaterThan(0), 10_000);

      const inFlight = slowPost(port, '/api/orders', JSON.stringify(orderInput()), 1500);
      await new Promise((r) => setTimeout(r, 200));
      const termAt = Date.now();
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      // No new connection is taken…
      expect(await get(port, '/health')).toBe('ECONNREFUSED');
      // …the one in flight is answered, and its connection is not kept.
      const answer = await inFlight;
      expect(answer.status).toBe(201);
      expect(answer.connection).toBe('close');
      const { code, at } = await exited;
      expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(at - termAt).toBeLessThan(10_000);
      // The leases are handed back: another instance takes the jobs over at once.
      expect(await held()).toEqual([]);
      const created = (await db.query('SELECT status FROM orders WHERE merchant_order_no = ?', [
        (JSON.parse(answer.body) as { merchantOrderNo: string }).merchantOrderNo,
      ])) as { status: string }[];
      expect(created).toEqual([{ status: 'PENDING' }]);
    }, 90_000);
  });

  describe('a lost database connection', () => {
    if (!onMysql) {
      // SQLite is a file in the process: no connection to lose. What stands in for
      // it: /health follows the database's answers, 503 while it fails and 200 again
      // afterwards, without a restart.
      let t: TestApp;
      beforeAll(async () => {
        t = await startApp();
      });
      afterAll(async () => t.close());

      it('/health is 503 while the database fails and 200 once it answers again', async () => {
        await t.http.get('/health').expect(200);
        const failing = jest
          .spyOn(t.dataSource, 'query')
          .mockRejectedValue(new Error('SQLITE_IOERR: disk I/O error'));
        const down = await t.http.get('/health').expect(503);
        expect(down.body).toMatchObject({ status: 'error', database: 'down' });
        failing.mockRestore();
        await t.http.get('/health').expect(200);
      });

      it('answers a merchant call 503 SERVICE_UNAVAILABLE with Retry-After while the database fails', async () => {
        const created = await t.http
          .post('/api/orders')
          .set(t.merchant)
          .send(orderInput())
          .expect(201);
        const id = (created.body as { id: string }).id;
        const ioError = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_READ' });
        const failing = jest
          .spyOn(t.dataSource, 'query')
          .mockRejectedValue(
            new QueryFailedError('SELECT … FROM orders WHERE id = ?', [id], ioError),
          );
        const down = await t.http.get(`/api/orders/${id}`).set(t.merchant);
        failing.mockRestore();
        expect(down.status).toBe(503);
        expect(down.headers['retry-after']).toMatch(/^\d+$/);
        expect(down.body).toMatchObject({
          code: 'SERVICE_UNAVAILABLE',
          message: expect.stringContaining('database is unavailable'),
        });
        await t.http.get(`/api/orders/${id}`).set(t.merchant).expect(200);
      });
      return;
    }

    let proxy: TcpProxy;
    let t: TestApp;
    beforeAll(async () => {
      proxy = await TcpProxy.start(
        process.env.DB_HOST ?? '127.0.0.1',
        Number(process.env.DB_PORT ?? 3306),
      );
      t = await startApp({
        DB_HOST: '127.0.0.1',
        DB_PORT: String(proxy.port),
        SANDBOX_TIME_SCALE: '0.0005',
        // Shorter than the default 10 s, so that the partition below takes seconds.
        DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
        // Fewer connections than the calls made during the partition, so that some wait for one.
        DB_POOL_SIZE: '3',
      });
    });
    afterAll(async () => {
      proxy.restore();
      await t.close();
      await proxy.close();
    });

    it('recovers without a restart: /health 503 during the outage, a notification answered "retry" and applied later, 200 after', async () => {
      const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
      await t.http.get('/health').expect(200);

      proxy.cut();
      const down = await t.http.get('/health').expect(503);
      expect(down.body).toMatchObject({ status: 'error', database: 'down' });
      // The buyer pays during the outage: Alipay's notification is answered so that it comes again.
      await sandboxPay(t, payment.outTradeNo).expect(200);
      await eventually(async () => {
        const trade = await t.http
          .get(`/sandbox/alipay/control/trades/${payment.outTradeNo}`)
          .expect(200);
        const attempts = trade.body.notifications[0].attempts as { body: string | null }[];
        expect(attempts.length).toBeGreaterThan(0);
        expect(attempts.every((a) => a.body !== 'success')).toBe(true);
      });
      // The merchant API answers "unavailable, try again", never a made-up success.
      const refused = await t.http.post('/api/orders').set(t.merchant).send(orderInput());
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
      expect(refused.body).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });

      proxy.restore();
      await eventually(async () => expect((await t.http.get('/health')).status).toBe(200), 20_000);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'), 30_000);
      await t.http.post('/api/orders').set(t.merchant).send(orderInput()).expect(201);
    }, 60_000);

    it('answers while the database hangs (a partition): /health 503 in 2 s, merchant calls 503 in bounded time, nothing half-written, all well once it heals', async () => {
      const created = await t.http.post('/api/orders').set(t.merchant).send(orderInput());
      expect(created.status).toBe(201);
      const order = created.body as { id: string; subject: string };
      const paying = await orderWithAlipayAttempt(t, 'qr');
      const uow = t.app.get(UnitOfWork);
      // Connections open before the partition, as a busy instance has: the calls below take
      // these, whose statements go unanswered (a new connection fails on its connect timeout).
      const warm = Array.from({ length: 3 }, () => t.dataSource.createQueryRunner());
      await Promise.all(warm.map((r) => r.connect()));
      await Promise.all(warm.map((r) => r.release()));

      // A transaction caught half-way: its first write reaches the server, then the network hangs.
      let hung!: () => void;
      const hanging = new Promise<void>((resolve) => (hung = resolve));
      const halfWay = uow
        .run(async (tx) => {
          await execute(tx, 'UPDATE orders SET subject = ? WHERE id = ?', [
            'half-written',
            order.id,
          ]);
          proxy.hang();
          hung();
          await execute(tx, 'UPDATE orders SET description = ? WHERE id = ?', ['never', order.id]);
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      await hanging;
      const health = timed(t.http.get('/health').timeout(10_000));
      const refusedCreates = Array.from({ length: 4 }, () => orderInput());
      const calls = [
        ...refusedCreates.map((input) =>
          timed(t.http.post('/api/orders').set(t.merchant).send(input).timeout(15_000)),
        ),
        ...[1, 2].map(() =>
          timed(t.http.get(`/api/orders/${order.id}`).set(t.merchant).timeout(15_000)),
        ),
      ];
      // The buyer pays meanwhile: Alipay's notification must get an answer, not hang.
      await sandboxPay(t, paying.payment.outTradeNo).expect(200);
      const [healthAnswer, ...answers] = await Promise.all([health, ...calls]);
      expect(healthAnswer.value.status).toBe(503);
      expect(healthAnswer.value.body).toMatchObject({ database: 'down' });
      expect(healthAnswer.ms).toBeLessThan(5000);
      for (const { value } of answers) {
        expect({ status: value.status, body: value.text }).toMatchObject({ status: 503 });
        expect(value.headers['retry-after']).toMatch(/^\d+$/);
        expect(value.body).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      }
      expect(await halfWay).toMatchObject({ code: 'PROTOCOL_SEQUENCE_TIMEOUT' });
      await eventually(async () => {
        const trade = await t.http
          .get(`/sandbox/alipay/control/trades/${paying.payment.outTradeNo}`)
          .expect(200);
        const attempts = trade.body.notifications[0].attempts as { body: string | null }[];
        // Answered "retry" (`fail`), not left without an answer (null).
        expect(attempts[0]).toMatchObject({ body: 'fail' });
      }, 15_000);

      proxy.restore();
      await eventually(async () => expect((await t.http.get('/health')).status).toBe(200), 20_000);
      // The payment is applied by a later delivery of the notification…
      await eventually(
        async () => expect(await orderStatus(t, paying.order.id)).toBe('PAID'),
        30_000,
      );
      // …nothing of the transaction cut off half-way, nor of the refused creates, was kept…
      const after = await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200);
      expect(after.body).toMatchObject({ subject: order.subject });
      for (const input of refusedCreates)
        await t.http
          .get('/api/orders')
          .query({ merchantOrderNo: input.merchantOrderNo as string })
          .set(t.merchant)
          .expect(404);
      // …the row it had locked can be written again (the server let the session go)…
      const closed = await t.http
        .post(`/api/orders/${order.id}/close`)
        .set(t.merchant)
        .timeout(15_000);
      expect(closed.status).toBe(200);
      expect(closed.body).toMatchObject({ status: 'CLOSED' });
      // …and the merchant's repeats of the refused creates are served, without a restart.
      for (const input of refusedCreates)
        await t.http.post('/api/orders').set(t.merchant).send(input).expect(201);
    }, 90_000);
  });
});

/** A promise's outcome with the milliseconds it took to settle (rejected ones rethrown). */
async function timed<T>(work: PromiseLike<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}
