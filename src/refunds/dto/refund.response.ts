import { ApiProperty } from '@nestjs/swagger';
import { Refund } from '../entities/refund.entity';
import { REFUND_KINDS, RefundStatus } from '../refund-state';

export class RefundResponse {
  @ApiProperty({ example: 'ref_9Lm2QxT0bV4kZp7sN1cW8rYa' })
  id!: string;
  @ApiProperty({ example: 'ord_7QbXk2MZf0N3rVt9Lw1sYcAa' })
  orderId!: string;
  @ApiProperty({ example: 'pay_Xb2k9QmZ0aT4cV7nL1sE8rYw', description: 'the refunded attempt' })
  paymentId!: string;
  @ApiProperty({
    enum: REFUND_KINDS,
    description: 'merchant: asked for through the API; the others paygate started by itself',
  })
  kind!: string;
  @ApiProperty({ nullable: true, type: String, example: 'RF-20240101-0001' })
  merchantRefundNo!: string | null;
  @ApiProperty({
    example: '20240101120500Qm3dE5fG7hJ9kL1mN2',
    description: 'the number the channel knows this refund by',
  })
  outRefundNo!: string;
  @ApiProperty({ example: 1000, description: 'fen' })
  amount!: number;
  @ApiProperty({ enum: RefundStatus })
  status!: RefundStatus;
  @ApiProperty({ nullable: true, type: String, example: 'damaged on arrival' })
  reason!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: "FAILED only: the channel's reason",
    example: null,
  })
  failureReason!: string | null;
  @ApiProperty({ nullable: true, type: String })
  channelRefundNo!: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  succeededAt!: string | null;

  static of(r: Refund): RefundResponse {
    return {
      id: r.id,
      orderId: r.orderId,
      paymentId: r.paymentId,
      kind: r.kind,
      merchantRefundNo: r.merchantRefundNo,
      outRefundNo: r.outRefundNo,
      amount: r.amount,
      status: r.status,
      reason: r.reason,
      failureReason: r.failureReason,
      channelRefundNo: r.channelRefundNo,
      createdAt: r.createdAt.toISOString(),
      succeededAt: r.succeededAt?.toISOString() ?? null,
    };
  }
}

export class RefundListResponse {
  @ApiProperty({ type: [RefundResponse] })
  items!: RefundResponse[];
}

export class RefundPageResponse extends RefundListResponse {
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'pass as cursor for the next page; null on the last page',
  })
  nextCursor!: string | null;
}
