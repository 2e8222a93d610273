import { createConnection } from 'mysql2/promise';

/**
 * With DB_TYPE=mysql the suite needs a reachable server: this fails the run
 * loudly instead of letting it pass on SQLite by accident.
 */
export default async function globalSetup(): Promise<void> {
  if ((process.env.DB_TYPE ?? 'sqlite') !== 'mysql') return;
  const database = process.env.DB_NAME ?? 'paygate_test';
  process.env.DB_NAME = database;
  const connection = await createConnection({
    host: process.env.DB_HOST ?? '127.0.0.1',
    port: Number(process.env.DB_PORT ?? 3306),
    user: process.env.DB_USER ?? 'root',
    password: process.env.DB_PASSWORD ?? '',
    connectTimeout: 5000,
  }).catch((error: Error) => {
    throw new Error(`DB_TYPE=mysql but MySQL/MariaDB is not reachable: ${error.message}`);
  });
  try {
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await connection.end();
  }
}
