import { QueryFailedError } from 'typeorm';

function driverCode(error: unknown): string | undefined {
  const driver =
    error instanceof QueryFailedError
      ? (error.driverError as { code?: string })
      : (error as { code?: string });
  return driver?.code;
}

/** A UNIQUE constraint refused the write (better-sqlite3 or mysql2). */
export function isUniqueViolation(error: unknown): boolean {
  const code = driverCode(error);
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === 'ER_DUP_ENTRY'
  );
}

/** The database gave up on a transaction that may succeed if simply run again. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = driverCode(error);
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'SQLITE_BUSY';
}
