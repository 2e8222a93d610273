import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAppConfig } from './app.config';
import { loadDatabaseConfig } from './database.config';
import { ConfigError, isCidr } from './env';
import { loadSecretsConfig } from './secrets.config';
import { loadWebhooksConfig } from './webhooks.config';

const expectConfigError = (fn: () => unknown, variable: string): void => {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).variable).toBe(variable);
  expect((caught as Error).message.startsWith(`${variable}:`)).toBe(true);
};

describe('app config', () => {
  it('has working defaults', () => {
    const c = loadAppConfig({});
    expect(c).toMatchObject({
      port: 3000,
      publicBaseUrl: 'http://localhost:3000',
      trustProxy: false,
      orderExpireSeconds: 900,
      latePaymentPolicy: 'accept',
    });
  });

  it('derives the public URL from PORT and strips a trailing slash when given', () => {
    expect(loadAppConfig({ PORT: '8080' }).publicBaseUrl).toBe('http://localhost:8080');
    expect(loadAppConfig({ PUBLIC_BASE_URL: 'https://pay.example.com/' }).publicBaseUrl).toBe(
      'https://pay.example.com',
    );
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PUBLIC_BASE_URL', { PUBLIC_BASE_URL: 'pay.example.com' }],
    ['PUBLIC_BASE_URL', { PUBLIC_BASE_URL: 'ftp://pay.example.com' }],
    ['ORDER_EXPIRE_SECONDS', { ORDER_EXPIRE_SECONDS: '10' }],
    ['ORDER_EXPIRE_SECONDS', { ORDER_EXPIRE_SECONDS: '1.5' }],
    ['LATE_PAYMENT_POLICY', { LATE_PAYMENT_POLICY: 'ignore' }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/33' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'proxy.local' }],
  ])('a bad %s stops boot naming it', (variable, env) => {
    expectConfigError(() => loadAppConfig(env), variable);
  });

  it('parses TRUST_PROXY forms', () => {
    expect(loadAppConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadAppConfig({ TRUST_PROXY: 'loopback' }).trustProxy).toBe('loopback');
    expect(loadAppConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.1' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '192.168.1.1',
    ]);
  });

  it('recognises CIDR blocks', () => {
    expect(isCidr('127.0.0.1/32')).toBe(true);
    expect(isCidr('::1')).toBe(true);
    expect(isCidr('2001:db8::/32')).toBe(true);
    expect(isCidr('127.0.0.1/33')).toBe(false);
    expect(isCidr('1.2.3/8')).toBe(false);
    expect(isCidr('1.2.3.4/8/9')).toBe(false);
  });
});

describe('database config', () => {
  it('defaults to SQLite at ./data/paygate.sqlite', () => {
    const c = loadDatabaseConfig({});
    expect(c.type).toBe('sqlite');
    expect(c.type === 'sqlite' && c.path.endsWith(join('data', 'paygate.sqlite'))).toBe(true);
  });

  it('keeps the default SQLite file in DATA_DIR; DB_PATH still wins', () => {
    expect(loadDatabaseConfig({ DATA_DIR: '/srv/a' })).toMatchObject({
      path: join('/srv/a', 'paygate.sqlite'),
    });
    expect(loadDatabaseConfig({ DATA_DIR: '/srv/a', DB_PATH: '/srv/db.sqlite' })).toMatchObject({
      path: '/srv/db.sqlite',
    });
  });

  it('reads the MySQL settings', () => {
    expect(
      loadDatabaseConfig({ DB_TYPE: 'mysql', DB_PORT: '3307', DB_NAME: 'shop' }),
    ).toMatchObject({
      type: 'mysql',
      host: '127.0.0.1',
      port: 3307,
      user: 'root',
      password: '',
      database: 'shop',
      statementTimeoutMs: 10_000,
    });
    expect(
      loadDatabaseConfig({ DB_TYPE: 'mysql', DB_STATEMENT_TIMEOUT_MS: '30000' }),
    ).toMatchObject({ statementTimeoutMs: 30_000 });
  });

  it.each([
    ['DB_TYPE', { DB_TYPE: 'postgres' }],
    ['DB_PORT', { DB_TYPE: 'mysql', DB_PORT: 'x' }],
    ['DB_NAME', { DB_TYPE: 'mysql', DB_NAME: 'a;drop' }],
    ['DB_STATEMENT_TIMEOUT_MS', { DB_TYPE: 'mysql', DB_STATEMENT_TIMEOUT_MS: '500' }],
    ['DB_STATEMENT_TIMEOUT_MS', { DB_TYPE: 'mysql', DB_STATEMENT_TIMEOUT_MS: '10s' }],
  ])('a bad %s stops boot naming it', (variable, env) => {
    expectConfigError(() => loadDatabaseConfig(env), variable);
  });
});

describe('secrets config', () => {
  const quiet = (): void => undefined;

  it('generates missing keys once, keeps them 0600 and announces them once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paygate-secrets-'));
    const announced: string[] = [];
    const first = loadSecretsConfig({ DATA_DIR: dir }, (t) => announced.push(t));
    const second = loadSecretsConfig({ DATA_DIR: dir }, (t) => announced.push(t));
    expect(second).toEqual(first);
    expect(announced).toHaveLength(1);
    expect(announced[0]).toContain(first.adminApiKey);
    const file = join(dir, 'secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).MERCHANT_API_KEY).toBe(first.merchantApiKeys[0]);
    expect(first.merchantApiKeys[0]).not.toBe(first.adminApiKey);
  });

  it('takes keys from the environment, several merchant keys for rotation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paygate-secrets-'));
    const c = loadSecretsConfig(
      {
        DATA_DIR: dir,
        MERCHANT_API_KEY: 'merchant-key-one-0000, merchant-key-two-0000',
        ADMIN_API_KEY: 'admin-key-000000000000',
        WEBHOOK_SECRET: 'webhook-secret-new-0000, webhook-secret-old-0000',
      },
      quiet,
    );
    expect(c.merchantApiKeys).toEqual(['merchant-key-one-0000', 'merchant-key-two-0000']);
    expect(c.webhookSecrets).toEqual(['webhook-secret-new-0000', 'webhook-secret-old-0000']);
  });

  it.each([
    ['MERCHANT_API_KEY', { MERCHANT_API_KEY: 'short' }],
    ['MERCHANT_API_KEY', { MERCHANT_API_KEY: ' , ' }],
    ['ADMIN_API_KEY', { ADMIN_API_KEY: 'has a space in it 0000' }],
    [
      'ADMIN_API_KEY',
      { MERCHANT_API_KEY: 'same-key-0000000000', ADMIN_API_KEY: 'same-key-0000000000' },
    ],
    ['WEBHOOK_SECRET_FILE', { WEBHOOK_SECRET_FILE: '/nonexistent/secret' }],
    ['WEBHOOK_SECRET', { WEBHOOK_SECRET: 'webhook-secret-00000000,short' }],
    ['WEBHOOK_SECRET', { WEBHOOK_SECRET: 'webhook-secret-00000000,webhook-secret-00000000' }],
    ['WEBHOOK_SECRET', { WEBHOOK_SECRET: ',' }],
  ])('a bad %s stops boot naming it, without echoing the value', (variable, env) => {
    const dir = mkdtempSync(join(tmpdir(), 'paygate-secrets-'));
    expectConfigError(() => loadSecretsConfig({ DATA_DIR: dir, ...env }, quiet), variable);
    try {
      loadSecretsConfig({ DATA_DIR: dir, ...env }, quiet);
    } catch (error) {
      expect((error as Error).message).not.toContain('same-key-0000000000');
      expect((error as Error).message).not.toContain('has a space');
    }
  });
});

describe('webhooks config', () => {
  it('defaults to a schedule of about a day', () => {
    const c = loadWebhooksConfig({});
    const total = c.retrySchedule.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(20 * 3600);
    expect(total).toBeLessThan(26 * 3600);
    expect(c.timeoutMs).toBe(10_000);
  });

  it.each([
    ['MERCHANT_WEBHOOK_URL', { MERCHANT_WEBHOOK_URL: 'not a url' }],
    ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '1,x' }],
    ['WEBHOOK_TIMEOUT_MS', { WEBHOOK_TIMEOUT_MS: '0' }],
  ])('a bad %s stops boot naming it', (variable, env) => {
    expectConfigError(() => loadWebhooksConfig(env), variable);
  });
});
