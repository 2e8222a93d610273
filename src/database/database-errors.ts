import { QueryFailedError } from 'typeorm';

/** The error as the driver threw it, whether raw or wrapped by TypeORM. */
function driverError(error: unknown): { code?: unknown; fatal?: unknown; message?: unknown } {
  const driver = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  return driver && typeof driver === 'object' ? driver : {};
}

/** The driver's error code (`ER_DUP_ENTRY`, `ECONNREFUSED`, `SQLITE_IOERR_WRITE`), if it gave one. */
export function databaseErrorCode(error: unknown): string | undefined {
  const code = driverError(error).code;
  return typeof code === 'string' ? code : undefined;
}

/** A UNIQUE constraint refused the write (better-sqlite3 or mysql2). */
export function isUniqueViolation(error: unknown): boolean {
  const code = databaseErrorCode(error);
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === 'ER_DUP_ENTRY'
  );
}

/** The database gave up on a transaction that may succeed if simply run again. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = databaseErrorCode(error);
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'SQLITE_BUSY';
}

/**
 * What mysql2 reports when it cannot talk to the server at all: the socket's
 * own errors, its protocol-level ones (connection lost, no answer in time), and
 * the server refusing sessions while it stops or is full; and paygate's own
 * "no connection within the bound".
 */
const MYSQL_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_CONNECTION_KILLED',
  // paygate's own: no pooled connection within the bound (statement-timeout.ts)
  'POOL_ACQUIRE_TIMEOUT',
]);

/** better-sqlite3: the file is locked past busy_timeout, unreadable, full or gone. */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|IOERR|FULL|CANTOPEN)(_|$)/;

/**
 * The database could not be reached or could not do any work, so the request
 * may succeed unchanged a little later: a 503 with Retry-After, not a 500.
 * mysql2 sets `fatal` on every error that ends its connection (socket errors,
 * protocol errors, a command on a closed connection); an error the server
 * answered to a statement (a constraint, a syntax error, a deadlock) is not
 * fatal and not an outage. A closed pool's error has neither code nor flag.
 * Work undone because of another unit's failure (UnitOfWork's
 * GroupRolledBackError) names that failure as its `cause`.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current = error;
  for (let depth = 0; current !== undefined && depth < 4; depth++) {
    if (unavailableItself(current)) return true;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

function unavailableItself(error: unknown): boolean {
  const driver = driverError(error);
  if (driver.fatal === true) return true;
  const code = databaseErrorCode(error);
  if (code !== undefined) return MYSQL_UNAVAILABLE.has(code) || SQLITE_UNAVAILABLE.test(code);
  return typeof driver.message === 'string' && driver.message.startsWith('Pool is closed');
}
