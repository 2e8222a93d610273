import { ApiProperty } from '@nestjs/swagger';
import { Payment, PaymentStatus } from '../entities/payment.entity';
import type { PaymentAction } from '../payment-provider';

export class PaymentResponse {
  @ApiProperty({ example: 'pay_Xb2k9QmZ0aT4cV7nL1sE8rYw' })
  id!: string;
  @ApiProperty({ example: 'ord_7QbXk2MZf0N3rVt9Lw1sYcAa' })
  orderId!: string;
  @ApiProperty({
    example: '20240101120000Ab3dE5fG7hJ9kL1mN2',
    description: 'the number the channel knows this attempt by',
  })
  outTradeNo!: string;
  @ApiProperty({ enum: ['alipay', 'wechat'] })
  channel!: string;
  @ApiProperty({ enum: ['qr', 'page', 'wap', 'app', 'jsapi', 'h5'] })
  method!: string;
  @ApiProperty({ enum: PaymentStatus })
  status!: PaymentStatus;
  @ApiProperty({ example: 8880, description: 'fen' })
  amount!: number;
  @ApiProperty({
    description: 'what the client does next',
    example: { type: 'qr', qrCode: 'https://qr.alipay.com/bax03456' },
    nullable: true,
  })
  action!: PaymentAction | null;
  @ApiProperty({
    nullable: true,
    type: String,
    enum: ['DUPLICATE', 'LATE_ACCEPTED', 'LATE_REFUND'],
  })
  anomaly!: string | null;
  @ApiProperty({ nullable: true, type: String })
  channelTradeNo!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  paidAt!: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static of(p: Payment): PaymentResponse {
    return {
      id: p.id,
      orderId: p.orderId,
      outTradeNo: p.outTradeNo,
      channel: p.channel,
      method: p.method,
      status: p.status,
      amount: p.amount,
      action: p.action,
      anomaly: p.anomaly,
      channelTradeNo: p.channelTradeNo,
      paidAt: p.paidAt?.toISOString() ?? null,
      createdAt: p.createdAt.toISOString(),
    };
  }
}
