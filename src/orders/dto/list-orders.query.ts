import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsIn, IsOptional } from 'class-validator';
import { PageQuery } from '../../common/pagination/keyset';
import { OrderStatus } from '../order-state';

/** The filters of every list of orders (merchant and admin), newest first. */
export class ListOrdersQuery extends PageQuery {
  @ApiPropertyOptional({ enum: OrderStatus, description: 'only orders in this state' })
  @IsOptional()
  @IsIn(Object.values(OrderStatus), {
    message: `status must be one of ${Object.values(OrderStatus).join(', ')}`,
  })
  status?: OrderStatus;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'created at or after (inclusive), ISO 8601, e.g. 2025-01-01T00:00:00Z',
  })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'createdFrom must be an ISO 8601 date' })
  createdFrom?: Date;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'created before (exclusive), ISO 8601, e.g. 2025-02-01T00:00:00Z',
  })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'createdTo must be an ISO 8601 date' })
  createdTo?: Date;
}
