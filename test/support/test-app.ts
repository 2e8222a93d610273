import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';

export const MERCHANT_KEY = 'mk_test_merchant_key_0123456789';
export const MERCHANT_KEY_2 = 'mk_test_rotated_key_9876543210';
export const ADMIN_KEY = 'ak_test_admin_key_0123456789ab';
export const WEBHOOK_SECRET = 'whsec_test_secret_0123456789abcdef';

export interface TestApp {
  app: NestExpressApplication;
  url: string;
  port: number;
  dataSource: DataSource;
  dataDir: string;
  http: ReturnType<typeof request>;
  merchant: { Authorization: string };
  admin: { Authorization: string };
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Boots the whole service on 127.0.0.1 with a private data directory; on
 * SQLite a private database file too, on MySQL the suite's shared database.
 */
export async function startApp(
  env: Record<string, string> = {},
  /** dataDir: start on this data directory (a "restart"); the caller removes it. */
  options: { dataDir?: string } = {},
): Promise<TestApp> {
  const saved = { ...process.env };
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'paygate-test-'));
  const port = env.PORT ? Number(env.PORT) : await freePort();
  Object.assign(process.env, {
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    DB_PATH: join(dataDir, 'paygate.sqlite'),
    DB_SQLITE_SYNCHRONOUS: 'NORMAL',
    MERCHANT_API_KEY: `${MERCHANT_KEY},${MERCHANT_KEY_2}`,
    ADMIN_API_KEY: ADMIN_KEY,
    WEBHOOK_SECRET,
    JOBS_ENABLED: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    ...env,
  });
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register()] }).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false });
    configureApp(app);
    await app.listen(port, '127.0.0.1');
    const url = `http://127.0.0.1:${port}`;
    return {
      app,
      url,
      port,
      dataDir,
      dataSource: app.get<DataSource>(getDataSourceToken()),
      http: request(url),
      merchant: { Authorization: `Bearer ${MERCHANT_KEY}` },
      admin: { Authorization: `Bearer ${ADMIN_KEY}` },
      close: async () => {
        await app.close();
        process.env = saved;
        if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    process.env = saved;
    throw error;
  }
}

/** A merchantOrderNo unique across test runs sharing one MySQL database. */
export function uniqueNo(prefix = 'T'): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export const orderInput = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  merchantOrderNo: uniqueNo(),
  amount: 8880,
  subject: 'Blue mug',
  ...overrides,
});

/** The webhook event types written for an order, in the order they were written. */
export const eventTypes = async (t: TestApp, orderId: string): Promise<string[]> =>
  (
    (await t.dataSource.query(
      'SELECT type FROM webhook_events WHERE order_id = ? ORDER BY created_at, id',
      [orderId],
    )) as { type: string }[]
  ).map((e) => e.type);
