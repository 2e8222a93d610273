import { ApiProperty } from '@nestjs/swagger';
import { Order } from '../entities/order.entity';
import { OrderStatus } from '../order-state';

export class OrderResponse {
  @ApiProperty({ example: 'ord_7QbXk2MZf0N3rVt9Lw1sYcAa' })
  id!: string;
  @ApiProperty({ example: 'SO-20240101-0001' })
  merchantOrderNo!: string;
  @ApiProperty({ example: 8880, description: 'fen' })
  amount!: number;
  @ApiProperty({ example: 'CNY' })
  currency!: string;
  @ApiProperty({ example: 'Blue mug' })
  subject!: string;
  @ApiProperty({ nullable: true, type: String })
  description!: string | null;
  @ApiProperty({ enum: OrderStatus })
  status!: OrderStatus;
  @ApiProperty({ example: 0 })
  paidAmount!: number;
  @ApiProperty({ example: 0 })
  refundedAmount!: number;
  @ApiProperty({ nullable: true, type: String, example: 'alipay' })
  channel!: string | null;
  @ApiProperty({ nullable: true, type: String })
  channelTradeNo!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  paidAt!: string | null;
  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
  @ApiProperty({
    description:
      'Give this to the storefront frontend (X-Client-Secret) to read and pay this order only',
    example: 'cs_…',
  })
  clientSecret?: string;
  @ApiProperty({ nullable: true, type: String })
  notifyUrl!: string | null;
  @ApiProperty({ nullable: true, type: Object })
  metadata!: Record<string, unknown> | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  /** The public shape of an order; webhooks leave the client secret out. */
  static of(
    order: Order,
    options: { withClientSecret?: boolean } = { withClientSecret: true },
  ): OrderResponse {
    return {
      id: order.id,
      merchantOrderNo: order.merchantOrderNo,
      amount: order.amount,
      currency: order.currency,
      subject: order.subject,
      description: order.description,
      status: order.status,
      paidAmount: order.paidAmount,
      refundedAmount: order.refundedAmount,
      channel: order.channel,
      channelTradeNo: order.channelTradeNo,
      paidAt: order.paidAt?.toISOString() ?? null,
      expiresAt: order.expiresAt.toISOString(),
      ...(options.withClientSecret ? { clientSecret: order.clientSecret } : {}),
      notifyUrl: order.notifyUrl,
      metadata: order.metadata,
      createdAt: order.createdAt.toISOString(),
      updatedAt: order.updatedAt.toISOString(),
    };
  }
}

export class OrderPageResponse {
  @ApiProperty({ type: [OrderResponse] })
  items!: OrderResponse[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'pass as cursor for the next (older) page; null on the last page',
  })
  nextCursor!: string | null;
}
