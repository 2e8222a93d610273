import { registerAs } from '@nestjs/config';
import { join, resolve } from 'node:path';
import { ConfigError, EnvReader } from './env';

export type DatabaseConfig =
  | { type: 'sqlite'; path: string; synchronous: 'FULL' | 'NORMAL' }
  | {
      type: 'mysql';
      host: string;
      port: number;
      user: string;
      password: string;
      database: string;
      poolSize: number;
      /** How long one statement may go unanswered before its connection is given up (see statement-timeout.ts). */
      statementTimeoutMs: number;
    };

export function loadDatabaseConfig(env: Record<string, string | undefined>): DatabaseConfig {
  const e = new EnvReader(env);
  const type = e.oneOf('DB_TYPE', ['sqlite', 'mysql'] as const, 'sqlite');
  if (type === 'sqlite') {
    return {
      type,
      // The default file lives in DATA_DIR with the keys and secrets made for it, so two
      // instances with different DATA_DIRs never share a database by accident.
      path: resolve(e.string('DB_PATH', join(e.string('DATA_DIR', './data'), 'paygate.sqlite'))),
      synchronous: e.oneOf('DB_SQLITE_SYNCHRONOUS', ['FULL', 'NORMAL'] as const, 'FULL'),
    };
  }
  const database = e.string('DB_NAME', 'paygate');
  if (!/^[A-Za-z0-9_$]{1,64}$/.test(database)) {
    throw new ConfigError('DB_NAME', 'must be 1-64 characters of letters, digits, _ or $');
  }
  return {
    type,
    host: e.string('DB_HOST', '127.0.0.1'),
    port: e.int('DB_PORT', 3306, 1, 65535),
    user: e.string('DB_USER', 'root'),
    password: e.string('DB_PASSWORD', ''),
    database,
    poolSize: e.int('DB_POOL_SIZE', 10, 1, 200),
    statementTimeoutMs: e.int('DB_STATEMENT_TIMEOUT_MS', 10_000, 1000, 300_000),
  };
}

export const databaseConfig = registerAs('database', () => loadDatabaseConfig(process.env));
