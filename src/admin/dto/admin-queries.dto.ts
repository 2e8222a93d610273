import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { OrderStatus } from '../../orders/order-state';

class Page {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  offset?: number;
}

export class SearchOrdersQuery extends Page {
  @ApiPropertyOptional({ enum: OrderStatus, description: 'only orders in this state' })
  @IsOptional()
  @IsIn(Object.values(OrderStatus), {
    message: `status must be one of ${Object.values(OrderStatus).join(', ')}`,
  })
  status?: OrderStatus;

  @ApiPropertyOptional({ description: "the storefront's own order number, e.g. SO-1001" })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'merchantOrderNo must be 1-64 characters of A-Z a-z 0-9 _ -',
  })
  merchantOrderNo?: string;

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

export class NotificationsQuery extends Page {
  @ApiPropertyOptional({
    description:
      'processed, duplicate, rejected (any reason) or one exact rejected:<reason>, e.g. rejected:amount_mismatch',
  })
  @IsOptional()
  @Matches(/^(processed|duplicate|rejected|rejected:[a-z_]{1,40})$/, {
    message: 'outcome must be processed, duplicate, rejected or rejected:<reason>',
  })
  outcome?: string;

  @ApiPropertyOptional({ enum: ['alipay', 'wechat'] })
  @IsOptional()
  @IsIn(['alipay', 'wechat'])
  channel?: string;

  @ApiPropertyOptional({ description: 'the number the channel knows the attempt by' })
  @IsOptional()
  @Matches(/^[0-9A-Za-z_]{1,64}$/, {
    message: 'outTradeNo must be 1-64 characters of A-Z a-z 0-9 _',
  })
  outTradeNo?: string;
}

export class PageQuery extends Page {}
