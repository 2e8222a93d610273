import Database from 'better-sqlite3';
import { createConnection, createPool } from 'mysql2';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryFailedError } from 'typeorm';
import {
  databaseErrorCode,
  isDatabaseUnavailable,
  isRetryableTransactionError,
  isUniqueViolation,
} from './database-errors';
import { GroupRolledBackError } from './unit-of-work';

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What mysql2 calls back with when the server cannot be reached, and then on that connection. */
async function mysqlRefused(): Promise<{ connect: Error; afterwards: Error }> {
  const connection = createConnection({ host: '127.0.0.1', port: await closedPort() });
  const connect = await new Promise<Error>((resolve) =>
    connection.connect((error) => resolve(error as Error)),
  );
  const afterwards = await new Promise<Error>((resolve) =>
    connection.query('SELECT 1', (error) => resolve(error as Error)),
  );
  return { connect, afterwards };
}

/** An error answered by the server to one statement, as mysql2 builds it from the error packet. */
const serverAnswer = (code: string, errno: number): Error =>
  Object.assign(new Error(`${code} answered`), { code, errno, sqlState: 'HY000', sqlMessage: '' });

const wrapped = (driverError: Error): QueryFailedError =>
  new QueryFailedError('UPDATE orders SET status = ? WHERE id = ?', ['PAID', 'ord_1'], driverError);

describe('database errors', () => {
  describe('isDatabaseUnavailable', () => {
    it('recognises mysql2 failing to reach the server, raw and wrapped by TypeORM', async () => {
      const { connect, afterwards } = await mysqlRefused();
      expect(databaseErrorCode(connect)).toBe('ECONNREFUSED');
      expect(isDatabaseUnavailable(connect)).toBe(true);
      expect(isDatabaseUnavailable(wrapped(connect))).toBe(true);
      // A command on the connection mysql2 closed after that: fatal, no code.
      expect(afterwards.message).toMatch(/closed state/);
      expect(isDatabaseUnavailable(afterwards)).toBe(true);
      expect(isDatabaseUnavailable(wrapped(afterwards))).toBe(true);
    });

    it("recognises a closed pool's refusal", async () => {
      const pool = createPool({ host: '127.0.0.1', port: await closedPort() });
      await new Promise<void>((resolve) => pool.end(() => resolve()));
      const closed = await new Promise<Error>((resolve) =>
        pool.getConnection((error) => resolve(error as Error)),
      );
      expect(closed.message).toMatch(/^Pool is closed/);
      expect(isDatabaseUnavailable(closed)).toBe(true);
    });

    it.each([
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'EHOSTUNREACH',
      'PROTOCOL_CONNECTION_LOST',
      'PROTOCOL_SEQUENCE_TIMEOUT',
    ])('recognises mysql2 losing its connection: %s', (code) => {
      const lost = Object.assign(new Error(`connection: ${code}`), { code, fatal: true });
      expect(isDatabaseUnavailable(lost)).toBe(true);
      // The code alone says so too, should an error reach us without the flag.
      expect(isDatabaseUnavailable(wrapped(Object.assign(new Error(code), { code })))).toBe(true);
    });

    it('recognises the server refusing sessions while it stops or is full', () => {
      expect(isDatabaseUnavailable(wrapped(serverAnswer('ER_SERVER_SHUTDOWN', 1053)))).toBe(true);
      expect(isDatabaseUnavailable(serverAnswer('ER_CON_COUNT_ERROR', 1040))).toBe(true);
    });

    it('does not take an answer to one statement for an outage', () => {
      for (const [code, errno] of [
        ['ER_DUP_ENTRY', 1062],
        ['ER_PARSE_ERROR', 1064],
        ['ER_LOCK_DEADLOCK', 1213],
        ['ER_LOCK_WAIT_TIMEOUT', 1205],
        ['ER_NO_SUCH_TABLE', 1146],
      ] as const) {
        expect({
          code,
          unavailable: isDatabaseUnavailable(wrapped(serverAnswer(code, errno))),
        }).toEqual({ code, unavailable: false });
      }
      expect(isDatabaseUnavailable(new Error('Pool is not closed, this is a bug'))).toBe(false);
      expect(isDatabaseUnavailable(new TypeError('Cannot read properties of undefined'))).toBe(
        false,
      );
      expect(isDatabaseUnavailable(undefined)).toBe(false);
      expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
    });

    describe('on SQLite', () => {
      let dir: string;
      beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), 'paygate-db-errors-'));
      });
      afterAll(() => rmSync(dir, { recursive: true, force: true }));

      it('recognises a file that cannot be opened, and not a constraint or a syntax error', () => {
        let cantOpen: unknown;
        try {
          new Database(join(dir, 'missing.sqlite'), { fileMustExist: true });
        } catch (error) {
          cantOpen = error;
        }
        expect(databaseErrorCode(cantOpen)).toBe('SQLITE_CANTOPEN');
        expect(isDatabaseUnavailable(cantOpen)).toBe(true);

        const db = new Database(join(dir, 'db.sqlite'));
        db.exec('CREATE TABLE t (id TEXT PRIMARY KEY)');
        db.prepare('INSERT INTO t (id) VALUES (?)').run('a');
        const caught = (run: () => unknown): unknown => {
          try {
            run();
          } catch (error) {
            return error;
          }
          throw new Error('expected a failure');
        };
        const duplicate = caught(() => db.prepare('INSERT INTO t (id) VALUES (?)').run('a'));
        const syntax = caught(() => db.prepare('SELEC id FROM t'));
        db.close();
        expect(isUniqueViolation(duplicate)).toBe(true);
        expect(isDatabaseUnavailable(duplicate)).toBe(false);
        expect(databaseErrorCode(syntax)).toBe('SQLITE_ERROR');
        expect(isDatabaseUnavailable(syntax)).toBe(false);
      });

      it.each([
        'SQLITE_BUSY',
        'SQLITE_BUSY_SNAPSHOT',
        'SQLITE_IOERR',
        'SQLITE_IOERR_WRITE',
        'SQLITE_FULL',
      ])('recognises %s', (code) => {
        const error = Object.assign(new Error(code), { code });
        expect(isDatabaseUnavailable(wrapped(error))).toBe(true);
      });

      it('does not take a look-alike code for an outage', () => {
        for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_IOERRX', 'SQLITE_READONLY']) {
          expect(isDatabaseUnavailable(Object.assign(new Error(code), { code }))).toBe(false);
        }
      });
    });

    it("follows work undone because of another unit's failure to its cause", () => {
      const ioError = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
      expect(isDatabaseUnavailable(new GroupRolledBackError(ioError))).toBe(true);
      const duplicate = Object.assign(new Error('UNIQUE'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
      expect(isDatabaseUnavailable(new GroupRolledBackError(duplicate))).toBe(false);
    });
  });

  it('keeps telling deadlocks (retried) apart from outages (not retried)', () => {
    const deadlock = wrapped(serverAnswer('ER_LOCK_DEADLOCK', 1213));
    expect(isRetryableTransactionError(deadlock)).toBe(true);
    expect(isDatabaseUnavailable(deadlock)).toBe(false);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), {
      code: 'ECONNREFUSED',
      fatal: true,
    });
    expect(isRetryableTransactionError(refused)).toBe(false);
  });
});
