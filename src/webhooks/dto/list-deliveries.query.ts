import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsEnum, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { DeliveryStatus } from '../entities/webhook-delivery.entity';

export const DEFAULT_PAGE_SIZE = 50;

export class ListDeliveriesQuery {
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

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
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
