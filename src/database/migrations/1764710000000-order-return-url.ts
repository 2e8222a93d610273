import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';
import { col } from '../schema-columns';

/** Where the hosted checkout page sends the buyer once the order is paid. */
export class OrderReturnUrl1764710000000 implements MigrationInterface {
  name = 'OrderReturnUrl1764710000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('orders', new TableColumn(col.str('return_url', 1024, true)));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('orders', 'return_url');
  }
}
