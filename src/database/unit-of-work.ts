import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { MetricsService } from '../metrics/metrics.service';
import { isRetryableTransactionError } from './database-errors';

/** The transaction handle services pass to each other within one unit of work. */
export type Tx = EntityManager;

/** Units of work committed together on SQLite, at most. */
const MAX_GROUP = 64;

interface Queued {
  work: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** The SQLite transaction a unit was run in was rolled back by a later unit's failure. */
export class GroupRolledBackError extends Error {
  constructor(cause: unknown) {
    super(
      `the transaction this work ran in was rolled back: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
}

/**
 * Runs a unit of work in one transaction. Every write in paygate goes through
 * here: state change, inbox row and outbox event commit together or not at all,
 * and the promise settles only after the commit (so a channel is acknowledged
 * only for what is durable).
 *
 * MySQL: one pooled connection and transaction per unit. A deadlock victim is
 * run again, a bounded number of times: the work is a series of conditional
 * updates, so running it again is safe. InnoDB itself commits concurrent
 * transactions with one log flush (group commit).
 *
 * SQLite (better-sqlite3) has one connection per process, so units are queued.
 * The units queued in one turn of the event loop, or while the previous
 * transaction ran, are committed together, each in its own savepoint: a unit that fails is undone alone and
 * its caller gets the error, the others commit with one durable write instead
 * of one each. With no concurrency that is one unit per transaction. (Reads
 * share that one connection, so on SQLite a read can see a group's writes just
 * before its commit; on MySQL reads see only what is committed.)
 */
@Injectable()
export class UnitOfWork {
  private readonly logger = new Logger(UnitOfWork.name);
  private readonly serial: boolean;
  private readonly queued: Queued[] = [];
  private draining = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {
    this.serial = dataSource.options.type === 'better-sqlite3';
  }

  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (!this.serial) return this.withRetry(work);
    return new Promise<T>((resolve, reject) => {
      this.queued.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.draining) return;
      // Start on the next turn of the event loop, so that the requests read in
      // this turn queue their units first and share the transaction.
      this.draining = true;
      setImmediate(() => void this.drain());
    });
  }

  private async withRetry<T>(work: (tx: Tx) => Promise<T>, maxAttempts = 4): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        // The default isolation: every decision is a conditional update, which
        // reads the latest committed row whatever the snapshot (and naming a
        // level would cost a SET statement per transaction).
        return await this.dataSource.transaction(work);
      } catch (error) {
        if (attempt >= maxAttempts || !isRetryableTransactionError(error)) throw error;
        this.logger.warn(
          `transaction retried after ${(error as Error).message} (attempt ${attempt})`,
        );
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
      }
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const group = this.queued.splice(0, MAX_GROUP);
        await this.commitGroup(group).catch((error: unknown) => {
          // commitGroup settles every unit itself; this only guards against a bug
          // leaving callers waiting forever (settling twice is a no-op).
          this.logger.error(`unit of work group failed: ${(error as Error).message}`);
          for (const unit of group) unit.reject(error);
        });
      }
    } finally {
      this.draining = false;
    }
  }

  /** Runs a group of queued units in one SQLite transaction; settles each after the commit. */
  private async commitGroup(group: Queued[]): Promise<void> {
    const runner = this.dataSource.createQueryRunner();
    const done: { unit: Queued; value: unknown }[] = [];
    try {
      await runner.startTransaction();
    } catch (error) {
      await this.abandon(runner);
      for (const unit of group) unit.reject(error);
      return;
    }
    for (let i = 0; i < group.length; i++) {
      const unit = group[i];
      try {
        await runner.query('SAVEPOINT unit_of_work');
        const value = await unit.work(runner.manager);
        await runner.query('RELEASE unit_of_work');
        done.push({ unit, value });
      } catch (error) {
        unit.reject(error);
        const lost = await this.undoUnit(runner, error);
        if (lost) {
          // Everything since BEGIN is gone: the units before this one were not
          // committed after all, and the ones after it run in the next group.
          this.queued.unshift(...group.slice(i + 1));
          for (const d of done) d.unit.reject(new GroupRolledBackError(lost));
          return;
        }
      }
    }
    try {
      await runner.commitTransaction();
    } catch (error) {
      await this.abandon(runner);
      this.logger.error(
        `commit of ${done.length} unit(s) of work failed, all rolled back: ${(error as Error).message}`,
      );
      for (const d of done) d.unit.reject(error);
      return;
    }
    this.metrics.transactionUnits.observe(done.length);
    for (const d of done) d.unit.resolve(d.value);
  }

  /**
   * Undoes the failed unit's writes. Resolves to the cause when the whole
   * transaction is gone instead: SQLite rolls it back by itself on some errors
   * (a full disk, an I/O error).
   */
  private async undoUnit(runner: QueryRunner, cause: unknown): Promise<unknown> {
    if (!(await inTransaction(runner))) {
      await this.abandon(runner);
      return cause;
    }
    try {
      await runner.query('ROLLBACK TO unit_of_work');
      await runner.query('RELEASE unit_of_work');
      return undefined;
    } catch (error) {
      this.logger.error(
        `could not undo a failed unit of work, rolling back its group: ${(error as Error).message}`,
      );
      await this.abandon(runner);
      return error;
    }
  }

  /** Ends the transaction, whether SQLite still has it or already ended it itself. */
  private async abandon(runner: QueryRunner): Promise<void> {
    if (await inTransaction(runner)) {
      await runner.rollbackTransaction().catch((error: Error) => {
        this.logger.error(`rollback failed: ${error.message}`);
      });
    }
    if (runner.isTransactionActive) {
      // TypeORM's bookkeeping still says "in a transaction": reset it, or its
      // next BEGIN would be sent as a SAVEPOINT.
      Object.assign(runner, { isTransactionActive: false, transactionDepth: 0 });
    }
  }
}

/** Whether better-sqlite3's connection is inside a transaction. */
async function inTransaction(runner: QueryRunner): Promise<boolean> {
  const db = (await runner.connect()) as { inTransaction?: boolean };
  return db.inTransaction === true;
}
