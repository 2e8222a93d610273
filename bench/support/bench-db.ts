/**
 * Direct database access for setting up, copying and checking bench databases
 * (never for what is measured on the service side).
 */
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import type { BenchDb } from './bench-args';
import { mysqlEnv } from './child-process';

export interface BenchDatabase {
  kind: BenchDb;
  /** File path (SQLite) or database name (MariaDB). */
  name: string;
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  /** Rows inserted in one transaction, in batches. */
  insertMany(table: string, columns: string[], rows: unknown[][]): Promise<void>;
  close(): Promise<void>;
}

export function openSqlite(path: string): BenchDatabase {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 10000');
  return {
    kind: 'sqlite',
    name: path,
    all: async <T>(sql: string, params: unknown[] = []) => db.prepare(sql).all(...params) as T[],
    run: async (sql: string, params: unknown[] = []) => {
      db.prepare(sql).run(...params);
    },
    insertMany: async (table, columns, rows) => {
      const stmt = db.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      );
      db.transaction(() => {
        for (const row of rows) stmt.run(...row);
      })();
    },
    close: async () => {
      db.close();
    },
  };
}

function mysqlOptions(database?: string): mysql.ConnectionOptions {
  const env = mysqlEnv();
  return {
    host: env.DB_HOST,
    port: Number(env.DB_PORT),
    user: env.DB_USER,
    password: env.DB_PASSWORD,
    database,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  };
}

export async function openMysql(database: string): Promise<BenchDatabase> {
  const conn = await mysql.createConnection(mysqlOptions(database));
  return {
    kind: 'mysql',
    name: database,
    all: async <T>(sql: string, params: unknown[] = []) => {
      const [rows] = await conn.query(sql, params);
      return rows as T[];
    },
    run: async (sql: string, params: unknown[] = []) => {
      await conn.query(sql, params);
    },
    insertMany: async (table, columns, rows) => {
      await conn.beginTransaction();
      for (let i = 0; i < rows.length; i += 500) {
        await conn.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ?`, [
          rows.slice(i, i + 500),
        ]);
      }
      await conn.commit();
    },
    close: () => conn.end(),
  };
}

async function withAdmin<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection(mysqlOptions());
  try {
    return await work(conn);
  } finally {
    await conn.end();
  }
}

export function createMysqlDatabase(name: string): Promise<void> {
  return withAdmin(async (c) => {
    await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  });
}

export function dropMysqlDatabase(name: string): Promise<void> {
  return withAdmin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
  });
}

export interface MysqlServerInfo {
  version: string;
  variables: Record<string, string>;
}

/** The server's durability settings, as both the service and the baseline get them. */
export function mysqlServerInfo(): Promise<MysqlServerInfo> {
  return withAdmin(async (c) => {
    const [[{ v }]] = (await c.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
    const [rows] = (await c.query(
      `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('innodb_flush_log_at_trx_commit', 'sync_binlog',
       'log_bin', 'innodb_doublewrite', 'innodb_flush_method', 'transaction_isolation', 'tx_isolation',
       'innodb_buffer_pool_size')`,
    )) as unknown as [{ Variable_name: string; Value: string }[]];
    return {
      version: v,
      variables: Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value])),
    };
  });
}

/**
 * The baseline gets exactly the schema the service's migrations made: SQLite's
 * stored CREATE statements, MariaDB's CREATE TABLE … LIKE.
 */
export async function copySchema(from: BenchDatabase, to: BenchDatabase): Promise<void> {
  if (from.kind === 'sqlite') {
    const objects = await from.all<{ type: string; sql: string }>(
      `SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
       ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END`,
    );
    for (const o of objects) await to.run(o.sql);
    return;
  }
  const tables = await from.all<Record<string, string>>('SHOW TABLES');
  for (const row of tables) {
    const table = Object.values(row)[0];
    await to.run(`CREATE TABLE \`${to.name}\`.\`${table}\` LIKE \`${from.name}\`.\`${table}\``);
  }
}
