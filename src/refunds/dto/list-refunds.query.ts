import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsEnum, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { REFUND_KINDS, RefundKind, RefundStatus } from '../refund-state';

export class ListRefundsQuery {
  @ApiPropertyOptional({ enum: RefundStatus })
  @IsOptional()
  @IsEnum(RefundStatus, { message: 'status must be one of PENDING, SUCCEEDED, FAILED' })
  status?: RefundStatus;

  @ApiPropertyOptional({ enum: REFUND_KINDS })
  @IsOptional()
  @IsIn(REFUND_KINDS, { message: `kind must be one of ${REFUND_KINDS.join(', ')}` })
  kind?: RefundKind;

  @ApiPropertyOptional({
    description: "only this order's refunds: an order id such as ord_7QbXk2MZf0N3rVt9Lw1sYcAa",
  })
  @IsOptional()
  @IsString()
  @Matches(/^ord_[0-9A-Za-z]{24}$/, { message: 'orderId must be an order id (ord_…)' })
  orderId?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer from 1 to 200' })
  @Min(1, { message: 'limit must be an integer from 1 to 200' })
  @Max(200, { message: 'limit must be an integer from 1 to 200' })
  limit?: number;

  @ApiPropertyOptional({
    description:
      "the previous page's nextCursor, for the next (older) page; leave empty for the first page",
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'cursor must be a nextCursor from this API' })
  cursor?: string;
}
