import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { isRetryableTransactionError } from './database-errors';

/** The transaction handle services pass to each other within one unit of work. */
export type Tx = EntityManager;

/**
 * Runs a unit of work in one transaction. Every write in paygate goes through
 * here: state change, inbox row and outbox event commit together or not at all.
 *
 * SQLite (better-sqlite3) has one connection per process, so two transactions
 * begun concurrently would nest on it; they are queued here instead. On MySQL,
 * a deadlock victim is run again, a bounded number of times: the work is a
 * series of conditional updates, so running it again is safe.
 */
@Injectable()
export class UnitOfWork {
  private readonly logger = new Logger(UnitOfWork.name);
  private queue: Promise<unknown> = Promise.resolve();
  private readonly serial: boolean;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.serial = dataSource.options.type === 'better-sqlite3';
  }

  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (!this.serial) return this.withRetry(work);
    const next = this.queue.then(() => this.dataSource.transaction(work));
    this.queue = next.catch(() => undefined);
    return next;
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
}
