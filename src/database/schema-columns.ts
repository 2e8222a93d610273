import type { TableColumnOptions } from 'typeorm';

/**
 * Column shapes shared by every migration, written with the schema-builder API
 * so one migration set creates the same schema on SQLite and MySQL/MariaDB.
 */
export const col = {
  id: (name = 'id'): TableColumnOptions => ({
    name,
    type: 'varchar',
    length: '32',
    isPrimary: true,
  }),
  ref: (name: string, nullable = false): TableColumnOptions => ({
    name,
    type: 'varchar',
    length: '32',
    isNullable: nullable,
  }),
  str: (name: string, length: number, nullable = false): TableColumnOptions => ({
    name,
    type: 'varchar',
    length: String(length),
    isNullable: nullable,
  }),
  text: (name: string, nullable = true): TableColumnOptions => ({
    name,
    type: 'text',
    isNullable: nullable,
  }),
  /** Money in fen, and any other count that may pass 2^31. */
  fen: (name: string, defaultValue?: number): TableColumnOptions => ({
    name,
    type: 'bigint',
    isNullable: false,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  }),
  int: (name: string, defaultValue?: number, nullable = false): TableColumnOptions => ({
    name,
    type: 'integer',
    isNullable: nullable,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  }),
  bool: (name: string, defaultValue: boolean): TableColumnOptions => ({
    name,
    type: 'boolean',
    isNullable: false,
    default: defaultValue,
  }),
  /** UTC, millisecond precision. */
  time: (name: string, nullable = false): TableColumnOptions => ({
    name,
    type: 'datetime',
    precision: 3,
    isNullable: nullable,
  }),
};
