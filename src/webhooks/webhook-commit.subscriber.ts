import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  DataSource,
  EntitySubscriberInterface,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { Tx } from '../database/unit-of-work';

/** Set on a transaction's query runner once it has written a delivery row. */
const ENQUEUED = 'paygateWebhookEnqueued';

/**
 * Tells listeners, right after a commit, that a transaction of this process
 * wrote webhook deliveries, so that the delivery loop starts at once instead
 * of at its next poll. It hooks TypeORM's transaction events, which fire after
 * COMMIT itself on both drivers (on SQLite after the group's commit), so
 * nothing is announced that another connection could not read yet, and a
 * rolled-back transaction announces nothing.
 */
@Injectable()
export class WebhookCommitSubscriber implements EntitySubscriberInterface {
  private readonly logger = new Logger('Webhooks');
  private readonly listeners = new Set<() => void>();

  constructor(@InjectDataSource() dataSource: DataSource) {
    dataSource.subscribers.push(this);
  }

  /** Called by the outbox inside the transaction that wrote a delivery row. */
  noteEnqueued(tx: Tx): void {
    const runner = tx.queryRunner;
    if (runner?.isTransactionActive) {
      runner.data[ENQUEUED] = true;
      return;
    }
    // Written outside a transaction: already committed.
    setImmediate(() => this.announce());
  }

  /** `listener` is called after each commit that wrote deliveries; returns its removal. */
  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const runner = event.queryRunner;
    // Still active: a savepoint was released, the outer transaction is not committed yet.
    if (runner.isTransactionActive) return;
    const data = runner.data;
    if (!data[ENQUEUED]) return;
    // SQLite's one query runner serves every transaction: forget the mark.
    delete data[ENQUEUED];
    this.announce();
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive) delete event.queryRunner.data[ENQUEUED];
  }

  private announce(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error(`a commit listener failed: ${(error as Error).message}`);
      }
    }
  }
}
