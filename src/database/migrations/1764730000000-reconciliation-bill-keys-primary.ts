import { MigrationInterface, QueryRunner, Table } from 'typeorm';
import { col } from '../schema-columns';

/**
 * A run's bill keys keyed by (run_id, kind, out_key) instead of a plain index
 * on a table without a key. On MariaDB each key was written twice (the hidden
 * row id's clustered index and the secondary index), and a lookup of many keys
 * was planned from index statistics that could be stale while a run filled the
 * table; a key that is unique is written once and looked up one point per key,
 * with no estimate. The keys are copied over (without repeats: a bill may list
 * a trade twice), so the runs of the days just before keep theirs.
 */
export class ReconciliationBillKeysPrimary1764730000000 implements MigrationInterface {
  name = 'ReconciliationBillKeysPrimary1764730000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'reconciliation_bill_keys',
        columns: [
          { ...col.ref('run_id'), isPrimary: true },
          { ...col.str('kind', 1), isPrimary: true },
          { ...col.str('out_key', 64), isPrimary: true },
        ],
      }),
    );
    await q.query(
      'INSERT INTO reconciliation_bill_keys (run_id, kind, out_key) SELECT DISTINCT run_id, kind, out_key FROM reconciliation_bill_rows',
    );
    await q.dropTable('reconciliation_bill_rows');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'reconciliation_bill_rows',
        columns: [col.ref('run_id'), col.str('kind', 1), col.str('out_key', 64)],
        indices: [
          { name: 'ix_reconciliation_bill_rows_key', columnNames: ['run_id', 'kind', 'out_key'] },
        ],
      }),
    );
    await q.query(
      'INSERT INTO reconciliation_bill_rows (run_id, kind, out_key) SELECT run_id, kind, out_key FROM reconciliation_bill_keys',
    );
    await q.dropTable('reconciliation_bill_keys');
  }
}
