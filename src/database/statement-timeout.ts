import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource } from 'typeorm';
import { databaseConfig } from '../config/database.config';

/**
 * A bound on how long paygate waits for MySQL/MariaDB to answer one statement.
 *
 * A server that stops refuses or resets its connections, and mysql2 reports
 * that at once. Behind a network partition the server says nothing: TCP keeps
 * the connection open and a statement, with the request or job waiting on it,
 * waits for hours. Past the bound the statement fails with
 * PROTOCOL_SEQUENCE_TIMEOUT (mysql2's own code for a statement past its
 * timeout; a 503 to the caller) and its connection is destroyed: it is never
 * used again, and its transaction is rolled back by the server, which holds
 * its locks until it sees the connection go. A COMMIT past the bound may have
 * committed, as with any answer lost on the way; a merchant repeating the call
 * gets what exists (merchantOrderNo, merchantRefundNo).
 *
 * Not mysql2's `timeout` option: in mysql2 3.x a command past it is called back
 * but stays at the head of its connection's queue, so the next statement on
 * that connection (TypeORM's ROLLBACK, or the next request's, once the pool
 * hands it out again) waits behind it for as long as the partition lasts; and
 * `execute` starts its timer only after the statement is prepared.
 *
 * The default bound (DB_STATEMENT_TIMEOUT_MS, 10 s) is far above any statement
 * of the hot paths, which take milliseconds, and also bounds the wait for a
 * connection from the pool (boundConnectionWaits); a new connection has
 * `connectTimeout` (data-source-options.ts). A statement waiting for a row lock
 * counts too: past the bound it is given up (a 503) instead of waiting for
 * innodb_lock_wait_timeout (50 s by default) to fail it and UnitOfWork to run
 * it again. Work whose statements are large by design runs inside
 * `withStatementTimeout` with a longer bound. SQLite runs in this process, with
 * nothing to partition: no bound there.
 */
const bound = new AsyncLocalStorage<number>();

/** Runs `work` with statements bounded by `ms` instead of the default. */
export function withStatementTimeout<T>(ms: number, work: () => Promise<T>): Promise<T> {
  return bound.run(ms, work);
}

/** The error a statement past its bound fails with. */
export function statementTimeoutError(ms: number): Error {
  return Object.assign(
    new Error(`the database did not answer within ${ms} ms; its connection was closed`),
    { code: 'PROTOCOL_SEQUENCE_TIMEOUT', fatal: true },
  );
}

type Callback = (error: unknown, ...result: unknown[]) => void;

/** What this needs of a mysql2 pool connection (callback API). */
export interface BoundableConnection {
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  destroy(): void;
  stream?: { destroy(): void };
}

const boundConnections = new WeakSet<BoundableConnection>();

/**
 * Bounds every statement sent on `connection` with a callback (TypeORM's and
 * sql.ts's all are); a streamed query has no callback and is left alone.
 */
export function boundStatements(connection: BoundableConnection, defaultMs: number): void {
  if (boundConnections.has(connection)) return;
  boundConnections.add(connection);
  for (const method of ['query', 'execute'] as const) {
    const send = connection[method].bind(connection);
    connection[method] = (...args: unknown[]): unknown => {
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback !== 'function') return send(...args);
      const ms = bound.getStore() ?? defaultMs;
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        // Closed before the caller hears of it, so that what it sends next on
        // this connection (a ROLLBACK) fails at once rather than queueing behind.
        connection.destroy();
        connection.stream?.destroy();
        (callback as Callback)(statementTimeoutError(ms));
      }, ms);
      timer.unref();
      args[last] = (...answer: unknown[]) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        (callback as Callback)(...(answer as [unknown, ...unknown[]]));
      };
      try {
        return send(...args);
      } catch (error) {
        // Refused before it was sent (a bad parameter): nothing to wait for.
        settled = true;
        clearTimeout(timer);
        throw error;
      }
    };
  }
}

/** The error a borrower fails with when the pool has no connection for it within the bound. */
export function connectionWaitTimeoutError(ms: number): Error {
  return Object.assign(new Error(`no database connection could be had within ${ms} ms`), {
    code: 'POOL_ACQUIRE_TIMEOUT',
  });
}

/** What this needs of mysql2's pool (callback API). */
export interface BoundablePool {
  getConnection(callback: (error: unknown, connection?: { release(): void }) => void): void;
  on(event: 'acquire', listener: (connection: BoundableConnection) => void): unknown;
}

/**
 * Bounds the wait for a connection too. mysql2 queues borrowers without limit
 * while every connection is busy: during a partition each is busy until its
 * statement's bound, and a new one until its connect timeout, so under load the
 * queue, and the wait of whoever is last in it, would grow for as long as the
 * partition lasts. A connection that comes after its borrower gave up goes
 * back to the pool.
 */
export function boundConnectionWaits(pool: BoundablePool, defaultMs: number): void {
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = (callback) => {
    const ms = bound.getStore() ?? defaultMs;
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      callback(connectionWaitTimeoutError(ms));
    }, ms);
    timer.unref();
    getConnection((error, connection) => {
      if (settled) {
        if (!error) connection?.release();
        return;
      }
      settled = true;
      clearTimeout(timer);
      callback(error, connection);
    });
  };
}

/**
 * Bounds the statements of the app's MySQL pool, from the first connection it
 * hands out after boot (the migrations run at boot are not bounded), and the
 * wait for one of its connections.
 */
@Injectable()
export class StatementTimeout implements OnModuleInit {
  private readonly logger = new Logger(StatementTimeout.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) private readonly db: ConfigType<typeof databaseConfig>,
  ) {}

  onModuleInit(): void {
    if (this.db.type !== 'mysql') return;
    const pool = (this.dataSource.driver as unknown as { pool?: BoundablePool }).pool;
    if (!pool) throw new Error('the MySQL driver has no pool to bound statements on');
    const ms = this.db.statementTimeoutMs;
    pool.on('acquire', (connection) => boundStatements(connection, ms));
    boundConnectionWaits(pool, ms);
    this.logger.log(`database statements bounded at ${ms} ms`);
  }
}
