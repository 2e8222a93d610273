import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { col } from '../schema-columns';

/**
 * Reconciliation (contract.md "Reconciliation (admin)"): runs, their
 * discrepancies, and the keys of each run's bill rows, which is how a run finds
 * our payments and refunds that the bill lacks without holding the bill in
 * memory. Payments and refunds get an index by channel, status, success time
 * and key: a run reads the keys of a day's succeeded ones as ranges of it,
 * without touching the rows.
 */
export class Reconciliation1764700000000 implements MigrationInterface {
  name = 'Reconciliation1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'reconciliation_runs',
        columns: [
          col.id(),
          col.str('channel', 16),
          col.str('bill_date', 10),
          col.str('status', 16),
          // 'admin' runs are one per request; the daily job's run of a channel and day is
          // unique (schedule_key = 'daily'), which is what keeps two instances to one run.
          col.str('schedule_key', 16, true),
          col.str('error', 1024, true),
          col.str('error_reason', 16, true),
          col.int('attempts', 0),
          col.time('next_attempt_at', true),
          col.str('owner', 64, true),
          col.time('lease_until', true),
          col.fen('channel_rows', 0),
          col.fen('local_rows', 0),
          col.fen('matched', 0),
          col.fen('discrepancies', 0),
          col.fen('healed', 0),
          col.str('fee_total', 32, true),
          col.time('started_at'),
          col.time('finished_at', true),
        ],
        uniques: [
          {
            name: 'uq_reconciliation_runs_schedule',
            columnNames: ['channel', 'bill_date', 'schedule_key'],
          },
        ],
        indices: [
          { name: 'ix_reconciliation_runs_day', columnNames: ['channel', 'bill_date'] },
          { name: 'ix_reconciliation_runs_started', columnNames: ['started_at'] },
          { name: 'ix_reconciliation_runs_status', columnNames: ['status', 'lease_until'] },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'reconciliation_discrepancies',
        columns: [
          col.id(),
          col.ref('run_id'),
          col.str('channel', 16),
          col.str('type', 24),
          col.str('kind', 16),
          col.str('out_trade_no', 64, true),
          col.str('out_refund_no', 64, true),
          col.str('channel_trade_no', 64, true),
          { ...col.fen('channel_amount'), isNullable: true },
          { ...col.fen('local_amount'), isNullable: true },
          col.str('channel_status', 32, true),
          col.str('local_status', 16, true),
          col.bool('healed', false),
          col.time('resolved_at', true),
          col.str('note', 1024, true),
          col.time('created_at'),
        ],
        indices: [
          { name: 'ix_reconciliation_discrepancies_run', columnNames: ['run_id', 'created_at'] },
          { name: 'ix_reconciliation_discrepancies_trade', columnNames: ['out_trade_no'] },
          { name: 'ix_reconciliation_discrepancies_refund', columnNames: ['out_refund_no'] },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'reconciliation_bill_rows',
        columns: [col.ref('run_id'), col.str('kind', 1), col.str('out_key', 64)],
        indices: [
          { name: 'ix_reconciliation_bill_rows_key', columnNames: ['run_id', 'kind', 'out_key'] },
        ],
      }),
    );
    await q.createIndex(
      'payments',
      new TableIndex({
        name: 'ix_payments_channel_paid',
        columnNames: ['channel', 'status', 'paid_at', 'out_trade_no'],
      }),
    );
    await q.createIndex(
      'refunds',
      new TableIndex({
        name: 'ix_refunds_channel_succeeded',
        columnNames: ['channel', 'status', 'succeeded_at', 'out_refund_no'],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('refunds', 'ix_refunds_channel_succeeded');
    await q.dropIndex('payments', 'ix_payments_channel_paid');
    await q.dropTable('reconciliation_bill_rows');
    await q.dropTable('reconciliation_discrepancies');
    await q.dropTable('reconciliation_runs');
  }
}
