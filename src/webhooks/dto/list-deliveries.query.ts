import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsOptional, IsString, Matches } from 'class-validator';
import { PageQuery } from '../../common/pagination/keyset';
import { DeliveryStatus } from '../entities/webhook-delivery.entity';

export class ListDeliveriesQuery extends PageQuery {
  @ApiPropertyOptional({
    enum: DeliveryStatus,
    description: 'only deliveries in this state, e.g. FAILED: those that used up their retries',
  })
  @IsOptional()
  @IsEnum(DeliveryStatus, { message: 'status must be one of PENDING, DELIVERED, FAILED' })
  status?: DeliveryStatus;

  @ApiPropertyOptional({
    description: "only this order's deliveries: an order id such as ord_7QbXk2MZf0N3rVt9Lw1sYcAa",
  })
  @IsOptional()
  @IsString()
  @Matches(/^ord_[0-9A-Za-z]{24}$/, { message: 'orderId must be an order id (ord_…)' })
  orderId?: string;

  @ApiPropertyOptional({
    description: "only this event's deliveries: an event id such as evt_Zp4Q0cB1mW8xYt3RkLs2NdHa",
  })
  @IsOptional()
  @IsString()
  @Matches(/^evt_[0-9A-Za-z]{24}$/, { message: 'eventId must be an event id (evt_…)' })
  eventId?: string;
}
