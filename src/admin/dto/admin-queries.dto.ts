import { Type } from 'class-transformer';
import { IsDate, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { OrderStatus } from '../../orders/order-state';

class Page {
  /** 1-200, default 50 */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  offset?: number;
}

export class SearchOrdersQuery extends Page {
  @IsOptional()
  @IsIn(Object.values(OrderStatus), {
    message: `status must be one of ${Object.values(OrderStatus).join(', ')}`,
  })
  status?: OrderStatus;

  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'merchantOrderNo must be 1-64 characters of A-Z a-z 0-9 _ -',
  })
  merchantOrderNo?: string;

  /** ISO 8601, inclusive */
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'createdFrom must be an ISO 8601 date' })
  createdFrom?: Date;

  /** ISO 8601, exclusive */
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'createdTo must be an ISO 8601 date' })
  createdTo?: Date;
}

export class NotificationsQuery extends Page {
  /** processed, duplicate, rejected (any reason) or one exact rejected:<reason> */
  @IsOptional()
  @Matches(/^(processed|duplicate|rejected|rejected:[a-z_]{1,40})$/, {
    message: 'outcome must be processed, duplicate, rejected or rejected:<reason>',
  })
  outcome?: string;

  @IsOptional()
  @IsIn(['alipay', 'wechat'])
  channel?: string;

  @IsOptional()
  @Matches(/^[0-9A-Za-z_]{1,64}$/, {
    message: 'outTradeNo must be 1-64 characters of A-Z a-z 0-9 _',
  })
  outTradeNo?: string;
}

export class PageQuery extends Page {}
