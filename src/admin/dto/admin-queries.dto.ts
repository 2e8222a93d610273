import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { PageQuery } from '../../common/pagination/keyset';
import { ListOrdersQuery } from '../../orders/dto/list-orders.query';

export class SearchOrdersQuery extends ListOrdersQuery {
  @ApiPropertyOptional({ description: "the storefront's own order number, e.g. SO-1001" })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'merchantOrderNo must be 1-64 characters of A-Z a-z 0-9 _ -',
  })
  merchantOrderNo?: string;
}

export class NotificationsQuery extends PageQuery {
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
