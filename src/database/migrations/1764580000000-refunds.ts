import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';
import { col } from '../schema-columns';

/**
 * Refunds: the refunds table, the amount an order holds for refunds in flight
 * (`refund_reserved`, design.md invariant 3) and the mark on a payment that
 * paygate must refund by itself (`refund_due_at`: duplicate and late payments).
 */
export class Refunds1764580000000 implements MigrationInterface {
  name = 'Refunds1764580000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('orders', new TableColumn(col.fen('refund_reserved', 0)));
    await q.addColumn('payments', new TableColumn(col.time('refund_due_at', true)));
    await q.createIndex(
      'payments',
      new TableIndex({ name: 'ix_payments_refund_due', columnNames: ['refund_due_at'] }),
    );
    await q.createTable(
      new Table({
        name: 'refunds',
        columns: [
          col.id(),
          col.ref('order_id'),
          col.ref('payment_id'),
          col.str('channel', 16),
          col.str('out_trade_no', 32),
          col.str('kind', 24),
          col.str('merchant_refund_no', 64, true),
          col.str('out_refund_no', 64),
          col.fen('amount'),
          // The refunded payment's whole amount: WeChat Pay wants it with every refund.
          col.fen('total_amount'),
          col.str('status', 16),
          col.str('reason', 256, true),
          col.str('failure_reason', 512, true),
          col.str('channel_refund_no', 64, true),
          col.time('next_query_at', true),
          col.int('query_attempts', 0),
          col.time('created_at'),
          col.time('succeeded_at', true),
          col.time('failed_at', true),
          col.time('updated_at'),
        ],
        uniques: [
          { name: 'uq_refunds_out_refund_no', columnNames: ['out_refund_no'] },
          { name: 'uq_refunds_merchant_no', columnNames: ['order_id', 'merchant_refund_no'] },
        ],
        indices: [
          { name: 'ix_refunds_status_next_query', columnNames: ['status', 'next_query_at'] },
          { name: 'ix_refunds_payment', columnNames: ['payment_id'] },
          { name: 'ix_refunds_created', columnNames: ['created_at'] },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('refunds');
    await q.dropIndex('payments', 'ix_payments_refund_due');
    await q.dropColumn('payments', 'refund_due_at');
    await q.dropColumn('orders', 'refund_reserved');
  }
}
