import { MigrationInterface, QueryRunner, Table } from 'typeorm';
import { col } from '../schema-columns';

export class InitialSchema1763780000000 implements MigrationInterface {
  name = 'InitialSchema1763780000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'orders',
        columns: [
          col.id(),
          col.str('merchant_order_no', 64),
          col.fen('amount'),
          col.str('currency', 3),
          col.str('subject', 128),
          col.str('description', 512, true),
          col.str('status', 24),
          col.fen('paid_amount', 0),
          col.fen('refunded_amount', 0),
          col.str('channel', 16, true),
          col.str('channel_trade_no', 64, true),
          col.ref('paid_payment_id', true),
          col.str('client_secret', 64),
          col.str('notify_url', 1024, true),
          col.text('metadata'),
          col.time('expires_at'),
          col.time('paid_at', true),
          col.time('closed_at', true),
          col.time('created_at'),
          col.time('updated_at'),
        ],
        uniques: [
          { name: 'uq_orders_merchant_order_no', columnNames: ['merchant_order_no'] },
          { name: 'uq_orders_client_secret', columnNames: ['client_secret'] },
        ],
        indices: [
          { name: 'ix_orders_status_expires', columnNames: ['status', 'expires_at'] },
          { name: 'ix_orders_created', columnNames: ['created_at'] },
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'payments',
        columns: [
          col.id(),
          col.ref('order_id'),
          col.str('out_trade_no', 32),
          col.str('channel', 16),
          col.str('method', 16),
          col.fen('amount'),
          col.str('status', 16),
          // Why a paid attempt is not the order's payment: DUPLICATE or LATE; null otherwise.
          col.str('anomaly', 16, true),
          col.str('channel_trade_no', 64, true),
          col.text('action'),
          col.str('client_ip', 64, true),
          col.str('return_url', 1024, true),
          col.str('openid', 128, true),
          col.time('expires_at'),
          col.time('paid_at', true),
          col.time('closed_at', true),
          col.time('next_query_at', true),
          col.int('query_attempts', 0),
          col.time('created_at'),
          col.time('updated_at'),
        ],
        uniques: [{ name: 'uq_payments_out_trade_no', columnNames: ['out_trade_no'] }],
        indices: [
          { name: 'ix_payments_order', columnNames: ['order_id'] },
          { name: 'ix_payments_status_next_query', columnNames: ['status', 'next_query_at'] },
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'channel_notifications',
        columns: [
          col.id(),
          col.str('channel', 16),
          col.str('dedupe_key', 191),
          col.str('kind', 32),
          col.str('out_trade_no', 64, true),
          col.str('source_ip', 64),
          col.bool('verified', false),
          col.str('outcome', 128),
          col.text('body'),
          col.time('received_at'),
        ],
        uniques: [{ name: 'uq_notifications_dedupe', columnNames: ['channel', 'dedupe_key'] }],
        indices: [
          { name: 'ix_notifications_out_trade_no', columnNames: ['out_trade_no'] },
          { name: 'ix_notifications_received', columnNames: ['received_at'] },
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'webhook_events',
        columns: [
          col.id(),
          col.str('type', 32),
          col.ref('order_id'),
          col.ref('refund_id', true),
          col.text('payload', false),
          col.time('created_at'),
        ],
        indices: [{ name: 'ix_webhook_events_order', columnNames: ['order_id'] }],
      }),
    );

    await q.createTable(
      new Table({
        name: 'webhook_deliveries',
        columns: [
          col.id(),
          col.ref('event_id'),
          col.ref('order_id'),
          col.str('url', 1024),
          col.str('status', 16),
          col.int('attempts', 0),
          col.time('next_attempt_at'),
          col.str('claimed_by', 64, true),
          col.time('claimed_until', true),
          col.int('last_status', undefined, true),
          col.str('last_error', 512, true),
          col.time('delivered_at', true),
          col.time('created_at'),
          col.time('updated_at'),
        ],
        indices: [
          { name: 'ix_webhook_deliveries_due', columnNames: ['status', 'next_attempt_at'] },
          { name: 'ix_webhook_deliveries_event', columnNames: ['event_id'] },
          { name: 'ix_webhook_deliveries_order', columnNames: ['order_id'] },
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'webhook_attempts',
        columns: [
          col.id(),
          col.ref('delivery_id'),
          col.int('attempt_no'),
          col.int('status_code', undefined, true),
          col.str('error', 512, true),
          col.int('latency_ms'),
          col.time('attempted_at'),
        ],
        indices: [{ name: 'ix_webhook_attempts_delivery', columnNames: ['delivery_id'] }],
      }),
    );

    await q.createTable(
      new Table({
        name: 'job_leases',
        columns: [
          { name: 'name', type: 'varchar', length: '64', isPrimary: true },
          col.str('owner', 64),
          col.time('lease_until'),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'job_leases',
      'webhook_attempts',
      'webhook_deliveries',
      'webhook_events',
      'channel_notifications',
      'payments',
      'orders',
    ]) {
      await q.dropTable(table);
    }
  }
}
