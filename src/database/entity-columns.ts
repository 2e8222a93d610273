import { Column, ColumnOptions, ValueTransformer } from 'typeorm';
import { fenFromColumn } from '../common/money/money';

/** BIGINT fen; mysql2 returns BIGINT as text, so every read goes through fenFromColumn. */
const fenTransformer: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: unknown) => fenFromColumn(value),
};

export const FenColumn = (name: string, options: ColumnOptions = {}): PropertyDecorator =>
  Column({ name, type: 'bigint', transformer: fenTransformer, ...options });

/** UTC datetime with milliseconds on both databases. */
export const TimeColumn = (name: string, options: ColumnOptions = {}): PropertyDecorator =>
  Column({ name, type: 'datetime', precision: 3, ...options });

const jsonTransformer: ValueTransformer = {
  to: (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value)),
  from: (value: unknown) => (typeof value === 'string' && value !== '' ? JSON.parse(value) : null),
};

/** A JSON document kept as TEXT (portable across SQLite and MySQL). */
export const JsonColumn = (name: string, options: ColumnOptions = {}): PropertyDecorator =>
  Column({ name, type: 'text', nullable: true, transformer: jsonTransformer, ...options });
