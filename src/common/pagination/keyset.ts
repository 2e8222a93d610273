import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Brackets, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { sqlTime } from '../../database/sql-time';
import { DomainError } from '../errors/domain-error';

/**
 * Every list in the merchant and admin APIs is `{items, nextCursor}`, newest
 * first, paged by keyset on (time, id): pages stay stable while rows are added,
 * and a page costs the same however deep it is. The cursor is opaque to callers.
 */
export const DEFAULT_PAGE_SIZE = 50;

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next (older) page; null on the last one. */
  nextCursor: string | null;
}

export class PageQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer from 1 to 200' })
  @Min(1, { message: 'limit must be an integer from 1 to 200' })
  @Max(200, { message: 'limit must be an integer from 1 to 200' })
  limit?: number;

  @ApiPropertyOptional({
    type: String,
    description: "the previous page's nextCursor, for the next (older) page",
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'cursor must be a nextCursor from this API' })
  cursor?: string;
}

interface Keyset {
  at: Date;
  id: string;
}

function encode(k: Keyset): string {
  return Buffer.from(`${k.at.getTime()}.${k.id}`, 'utf8').toString('base64url');
}

function decode(cursor: string): Keyset {
  const match = /^(\d{1,15})\.([a-z]{3}_[0-9A-Za-z]{24})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  if (!match) {
    throw new DomainError('VALIDATION_FAILED', 'cursor must be a nextCursor from this API', {
      fields: ['cursor'],
    });
  }
  return { at: new Date(Number(match[1])), id: match[2] };
}

/**
 * One page of `qb` (filters already applied), newest first by `alias.timeProperty`
 * then `alias.id`, starting after `query.cursor`.
 */
export async function keysetPage<T extends ObjectLiteral & { id: string }>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  timeProperty: keyof T & string,
  query: PageQuery,
): Promise<Page<T>> {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const time = `${alias}.${timeProperty}`;
  if (query.cursor) {
    const after = decode(query.cursor);
    qb.andWhere(
      new Brackets((w) =>
        w
          .where(`${time} < :keysetAt`, { keysetAt: sqlTime(after.at) })
          .orWhere(`(${time} = :keysetAt AND ${alias}.id < :keysetId)`, { keysetId: after.id }),
      ),
    );
  }
  const rows = await qb
    .orderBy(time, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    .limit(limit + 1)
    .getMany();
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor:
      rows.length > limit && last ? encode({ at: last[timeProperty], id: last.id }) : null,
  };
}

/** The same page with its items turned into their public shape. */
export function mapPage<T, U>(page: Page<T>, to: (item: T) => U): Page<U> {
  return { items: page.items.map(to), nextCursor: page.nextCursor };
}
