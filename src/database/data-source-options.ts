import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/database.config';

/**
 * The one place connection settings are written: the app, the TypeORM CLI
 * (ormconfig.ts) and the tests all build their DataSource from here.
 */
export function buildDataSourceOptions(db: DatabaseConfig): DataSourceOptions {
  const common = {
    entities: [join(__dirname, '..', '**', '*.entity.{ts,js}')],
    migrations: [join(__dirname, 'migrations', '*.{ts,js}')],
    migrationsTableName: 'migrations',
    // The schema changes only through migrations.
    synchronize: false,
    migrationsRun: false,
    // Failed queries surface as exceptions and are logged, redacted, where they are
    // handled; TypeORM's own logger would print parameters (and expected unique
    // violations) straight to the console.
    logging: false,
  };
  if (db.type === 'sqlite') {
    mkdirSync(dirname(db.path), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database: db.path,
      prepareDatabase: (conn: { pragma(sql: string): unknown }) => {
        conn.pragma('journal_mode = WAL');
        // FULL: a commit survives power loss before we answer the channel.
        conn.pragma(`synchronous = ${db.synchronous}`);
        conn.pragma('busy_timeout = 10000');
        conn.pragma('foreign_keys = ON');
      },
    };
  }
  return {
    ...common,
    type: 'mysql',
    host: db.host,
    port: db.port,
    username: db.user,
    password: db.password,
    database: db.database,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: false,
    poolSize: db.poolSize,
    extra: { connectTimeout: 10_000 },
  };
}
