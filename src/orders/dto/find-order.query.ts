import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { ListOrdersQuery } from './list-orders.query';

/**
 * `GET /api/orders`: with merchantOrderNo, that one order (or 404); without it,
 * a page of orders filtered by status and creation time.
 */
export class FindOrderQuery extends ListOrdersQuery {
  @ApiPropertyOptional({
    description:
      'your own order number, as given when creating the order (e.g. SO-1001): answers that one order, not a list',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'merchantOrderNo must be 1-64 characters of A-Z a-z 0-9 _ -',
  })
  merchantOrderNo?: string;
}
