import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { PageQuery } from '../../common/pagination/keyset';
import { REFUND_KINDS, RefundKind, RefundStatus } from '../refund-state';

export class ListRefundsQuery extends PageQuery {
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
}
