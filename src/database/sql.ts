import type { EntityManager, EntityTarget, ObjectLiteral, QueryRunner } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata';
import { sqlTime } from './sql-time';

/**
 * Hand-written statements for the hot paths (notifications, checkout), where
 * TypeORM's query builder costs more CPU than the database does. Column names
 * and value transformers still come from the entities' metadata, so these
 * follow the schema the same way the rest of the code does. `?` placeholders
 * serve both better-sqlite3 and mysql2.
 */

/** A value as both drivers bind it: Dates as UTC DATETIME text, booleans as 0/1. */
function bind(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Date) return sqlTime(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

function runnerOf(tx: EntityManager): QueryRunner {
  // Inside UnitOfWork.run the manager is bound to the transaction's runner.
  if (!tx.queryRunner)
    throw new Error('sql helpers run inside a unit of work (tx.queryRunner is missing)');
  return tx.queryRunner;
}

/** What the hot path needs of a better-sqlite3 connection. */
interface SqliteConnection {
  prepare(sql: string): {
    run(...params: unknown[]): { changes: number };
    all(...params: unknown[]): unknown[];
  };
}

/** What the hot path needs of a mysql2 (callback API) connection. */
interface MysqlConnection {
  execute(
    sql: string,
    params: unknown[],
    callback: (error: Error | null, result: unknown) => void,
  ): void;
  query(
    sql: string,
    params: unknown[],
    callback: (error: Error | null, result: unknown) => void,
  ): void;
}

const statements = new WeakMap<
  SqliteConnection,
  Map<string, ReturnType<SqliteConnection['prepare']>>
>();

function prepared(db: SqliteConnection, sql: string): ReturnType<SqliteConnection['prepare']> {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) cache.set(sql, (statement = db.prepare(sql)));
  return statement;
}

/**
 * Runs one statement on the driver's connection behind the transaction's
 * runner. TypeORM's own `query` wraps each call in subscriber events, logging
 * hooks and a copied result, which the hot path does not use. Both drivers
 * prepare each statement once per connection: better-sqlite3 here, mysql2's
 * `execute` on the server (binary protocol, no SQL parsing per call; the hot
 * path has a few dozen statement texts, far below max_prepared_stmt_count);
 * `keep` false for a text used once (see executeOnce). Errors are the
 * driver's (with its `code`), as `database-errors.ts` expects.
 */
async function onDriver(
  runner: QueryRunner,
  sql: string,
  params: unknown[],
  write: boolean,
  keep = true,
): Promise<unknown> {
  const connection: unknown = await runner.connect();
  if (runner.connection.options.type === 'better-sqlite3') {
    const db = connection as SqliteConnection;
    const statement = keep ? prepared(db, sql) : db.prepare(sql);
    return write ? statement.run(...params).changes : statement.all(...params);
  }
  const mysql = connection as MysqlConnection;
  const run = keep ? mysql.execute.bind(mysql) : mysql.query.bind(mysql);
  return new Promise((resolve, reject) =>
    run(sql, params, (error, result) => {
      if (error) reject(error);
      else resolve(write ? (result as { affectedRows: number }).affectedRows : result);
    }),
  );
}

/** Runs a write; resolves to the number of rows it changed. */
export async function execute(tx: EntityManager, sql: string, params: unknown[]): Promise<number> {
  return (await onDriver(runnerOf(tx), sql, params.map(bind), true)) as number;
}

/**
 * Runs a write whose text follows its data (a multi-row INSERT of as many rows
 * as a batch has, an IN list of as many keys), without keeping it prepared. A
 * statement mysql2 prepares stays on its connection (and counts towards the
 * server's max_prepared_stmt_count) with an object for each placeholder: one
 * 999-row insert of bill keys on each of ten connections kept 30,000 of them,
 * and every other row count would have added its own. On MySQL it is sent as
 * a plain query (values escaped by the driver); SQLite prepares it for the call.
 */
export async function executeOnce(
  tx: EntityManager,
  sql: string,
  params: unknown[],
): Promise<number> {
  return (await onDriver(runnerOf(tx), sql, params.map(bind), true, false)) as number;
}

/** Runs a read; rows come back as the driver gives them (BIGINT as text on MySQL). */
export async function select<T>(tx: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  // Outside a unit of work (a plain read), TypeORM picks the connection.
  if (!tx.queryRunner) return tx.query(sql, params.map(bind));
  return (await onDriver(tx.queryRunner, sql, params.map(bind), false)) as T[];
}

function columnValue(column: ColumnMetadata, entity: ObjectLiteral): unknown {
  const value: unknown = column.getEntityValue(entity);
  const transformer = column.transformer;
  if (!transformer || Array.isArray(transformer)) return value;
  return transformer.to(value);
}

const insertSql = new WeakMap<EntityMetadata, string>();

/** Inserts a fully built entity with one prepared statement. */
export async function insertRow<T extends ObjectLiteral>(
  tx: EntityManager,
  target: EntityTarget<T>,
  row: T,
): Promise<void> {
  const metadata = tx.connection.getMetadata(target);
  let sql = insertSql.get(metadata);
  if (!sql) {
    const names = metadata.columns.map((c) => c.databaseName);
    sql = `INSERT INTO ${metadata.tableName} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
    insertSql.set(metadata, sql);
  }
  await execute(
    tx,
    sql,
    metadata.columns.map((c) => columnValue(c, row)),
  );
}

/**
 * The conditional update every state change is made of:
 * `UPDATE t SET … WHERE id = ? AND status IN (…)`. Resolves to true when this
 * call made the change, false when the row was no longer in a `from` state.
 */
export async function updateIfStatus<T extends ObjectLiteral>(
  tx: EntityManager,
  target: EntityTarget<T>,
  id: string,
  from: readonly string[],
  set: Partial<T>,
): Promise<boolean> {
  const metadata = tx.connection.getMetadata(target);
  const properties = Object.keys(set);
  const { sql, columns } = updateStatement(metadata, properties, from.length);
  const changed = await execute(tx, sql, [...columns.map((c) => columnValue(c, set)), id, ...from]);
  return changed === 1;
}

const updateStatements = new WeakMap<
  EntityMetadata,
  Map<string, { sql: string; columns: ColumnMetadata[] }>
>();

/** `UPDATE … SET` these properties `WHERE id = ? AND status IN (n placeholders)`, built once. */
function updateStatement(
  metadata: EntityMetadata,
  properties: string[],
  fromCount: number,
): { sql: string; columns: ColumnMetadata[] } {
  let cache = updateStatements.get(metadata);
  if (!cache) updateStatements.set(metadata, (cache = new Map()));
  const key = `${properties.join(',')}/${fromCount}`;
  let statement = cache.get(key);
  if (!statement) {
    const columns = properties.map((property) => {
      const column = metadata.findColumnWithPropertyName(property);
      if (!column) throw new Error(`${metadata.name} has no column for ${property}`);
      return column;
    });
    const sql =
      `UPDATE ${metadata.tableName} SET ${columns.map((c) => `${c.databaseName} = ?`).join(', ')} ` +
      `WHERE id = ? AND status IN (${Array.from({ length: fromCount }, () => '?').join(', ')})`;
    cache.set(key, (statement = { sql, columns }));
  }
  return statement;
}

/**
 * `alias.column AS prefixcolumn, …` for every column of an entity, so that a
 * statement can read it joined with another table; `hydrate` turns the row back.
 */
export function columnList(metadata: EntityMetadata, alias: string, prefix: string): string {
  return metadata.columns
    .map((c) => `${alias}.${c.databaseName} AS ${prefix}${c.databaseName}`)
    .join(', ');
}

/** A column value as the entity holds it: DATETIME text (SQLite) becomes a Date, 0/1 a boolean. */
function hydrateValue(column: ColumnMetadata, raw: unknown): unknown {
  let value = raw;
  if (value !== null && value !== undefined) {
    if (column.type === 'datetime' && typeof value === 'string')
      value = new Date(`${value.replace(' ', 'T')}Z`);
    else if (column.type === 'boolean') value = Boolean(value);
  }
  const transformer = column.transformer;
  return transformer && !Array.isArray(transformer) ? transformer.from(value) : value;
}

/** The entity in a row as the driver returned it; `prefix` as given to `columnList`. */
export function hydrate<T extends ObjectLiteral>(
  metadata: EntityMetadata,
  row: Record<string, unknown>,
  prefix = '',
): T {
  const entity = metadata.create() as T;
  for (const column of metadata.columns)
    column.setEntityValue(entity, hydrateValue(column, row[prefix + column.databaseName]));
  return entity;
}

const selectSql = new WeakMap<EntityMetadata, string>();

/** One entity by primary key `id`, with one prepared statement. */
export async function findById<T extends ObjectLiteral>(
  manager: EntityManager,
  target: EntityTarget<T>,
  id: string,
): Promise<T | null> {
  const metadata = manager.connection.getMetadata(target);
  let sql = selectSql.get(metadata);
  if (!sql) {
    sql = `SELECT ${metadata.columns.map((c) => c.databaseName).join(', ')} FROM ${metadata.tableName} WHERE id = ?`;
    selectSql.set(metadata, sql);
  }
  const [row] = await select<Record<string, unknown>>(manager, sql, [id]);
  return row ? hydrate<T>(metadata, row) : null;
}
