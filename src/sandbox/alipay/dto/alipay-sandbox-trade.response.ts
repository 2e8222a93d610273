import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { fenToYuan } from '../../../common/money/money';
import { NOTIFY_MODES, NOTIFY_TAMPERS } from '../alipay-sandbox.types';
import type {
  NotificationAttempt,
  SandboxNotification,
  SandboxRefund,
  SandboxTrade,
} from '../alipay-sandbox.types';

const TRADE_STATUSES = ['WAIT_BUYER_PAY', 'TRADE_SUCCESS', 'TRADE_FINISHED', 'TRADE_CLOSED'];

export class SandboxNotificationAttemptResponse {
  @ApiProperty({ example: '2024-01-01T04:00:00.000Z' })
  at!: string;

  @ApiProperty({ type: Number, nullable: true, example: 200, description: 'null: no answer' })
  httpStatus!: number | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'success',
    description: 'first 1000 characters',
  })
  body!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'network error' })
  error!: string | null;

  @ApiProperty({ description: 'the answer was exactly `success`' })
  acknowledged!: boolean;

  static from(a: NotificationAttempt): SandboxNotificationAttemptResponse {
    return {
      at: a.at.toISOString(),
      httpStatus: a.httpStatus,
      body: a.body,
      error: a.error,
      acknowledged: a.acknowledged,
    };
  }
}

export class SandboxNotificationResponse {
  @ApiProperty({ example: '2024010112345678901234567890123456' })
  notifyId!: string;

  @ApiProperty({ enum: ['payment', 'close', 'refund', 'resend'] })
  event!: string;

  @ApiProperty({ enum: TRADE_STATUSES })
  tradeStatus!: string;

  @ApiProperty({ enum: NOTIFY_MODES })
  mode!: string;

  @ApiProperty({ enum: NOTIFY_TAMPERS, nullable: true, type: String })
  tamper!: string | null;

  @ApiProperty({ example: 'http://localhost:3000/notify/alipay' })
  url!: string;

  @ApiProperty()
  acknowledged!: boolean;

  @ApiProperty({ description: 'the retry schedule ran out without `success`' })
  gaveUp!: boolean;

  @ApiProperty({ type: String, nullable: true })
  nextAttemptAt!: string | null;

  @ApiProperty({ type: [SandboxNotificationAttemptResponse] })
  attempts!: SandboxNotificationAttemptResponse[];

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'the form fields as posted, sign included',
  })
  fields!: Record<string, string>;

  static from(n: SandboxNotification): SandboxNotificationResponse {
    return {
      notifyId: n.notifyId,
      event: n.event,
      tradeStatus: n.tradeStatus,
      mode: n.mode,
      tamper: n.tamper,
      url: n.url,
      acknowledged: n.acknowledged,
      gaveUp: n.gaveUp,
      nextAttemptAt: n.nextAttemptAt?.toISOString() ?? null,
      attempts: n.attempts.map((a) => SandboxNotificationAttemptResponse.from(a)),
      fields: { ...n.fields },
    };
  }
}

export class SandboxRefundResponse {
  @ApiProperty({ example: 'R20240101000001' })
  outRequestNo!: string;

  @ApiProperty({ example: '0.50', description: 'yuan, as Alipay writes it' })
  refundAmount!: string;

  @ApiProperty({ example: 50, description: 'the same in fen' })
  refundAmountFen!: number;

  @ApiPropertyOptional()
  reason?: string;

  @ApiProperty()
  refundedAt!: string;

  static from(r: SandboxRefund): SandboxRefundResponse {
    return {
      outRequestNo: r.outRequestNo,
      refundAmount: fenToYuan(r.amountFen),
      refundAmountFen: r.amountFen,
      reason: r.reason,
      refundedAt: r.refundedAt.toISOString(),
    };
  }
}

export class SandboxTradeResponse {
  @ApiProperty({ example: '20240101120000AbCdEfGhIjKlMnOpQr' })
  outTradeNo!: string;

  @ApiProperty({ example: '2024010122001468450512505578' })
  tradeNo!: string;

  @ApiProperty({ enum: ['precreate', 'page', 'wap', 'app'] })
  product!: string;

  @ApiProperty({ enum: TRADE_STATUSES })
  status!: string;

  @ApiProperty({ example: 'Coffee' })
  subject!: string;

  @ApiProperty({ example: '88.80', description: 'yuan, as Alipay writes it' })
  totalAmount!: string;

  @ApiProperty({ example: 8880, description: 'the same in fen' })
  totalAmountFen!: number;

  @ApiProperty({ example: '0.00' })
  refundedAmount!: string;

  @ApiProperty({ example: 0 })
  refundedAmountFen!: number;

  @ApiProperty({ example: 'http://localhost:3000/sandbox/alipay/cashier/…' })
  cashierUrl!: string;

  @ApiPropertyOptional()
  notifyUrl?: string;

  @ApiPropertyOptional()
  returnUrl?: string;

  @ApiProperty()
  createdAt!: string;

  @ApiProperty()
  expiresAt!: string;

  @ApiPropertyOptional()
  paidAt?: string;

  @ApiPropertyOptional()
  closedAt?: string;

  @ApiProperty({
    example: 0,
    description: 'how many close calls the gateway answered for this trade, whatever their outcome',
  })
  closeCalls!: number;

  @ApiPropertyOptional({ example: '2088102177846875' })
  buyerId?: string;

  @ApiProperty({ type: [SandboxRefundResponse] })
  refunds!: SandboxRefundResponse[];

  @ApiProperty({ type: [SandboxNotificationResponse] })
  notifications!: SandboxNotificationResponse[];

  static from(t: SandboxTrade, cashierUrl: string): SandboxTradeResponse {
    return {
      outTradeNo: t.outTradeNo,
      tradeNo: t.tradeNo,
      product: t.product,
      status: t.status,
      subject: t.subject,
      totalAmount: fenToYuan(t.totalFen),
      totalAmountFen: t.totalFen,
      refundedAmount: fenToYuan(t.refundedFen),
      refundedAmountFen: t.refundedFen,
      cashierUrl,
      notifyUrl: t.notifyUrl,
      returnUrl: t.returnUrl,
      createdAt: t.createdAt.toISOString(),
      expiresAt: t.expiresAt.toISOString(),
      paidAt: t.paidAt?.toISOString(),
      closedAt: t.closedAt?.toISOString(),
      closeCalls: t.closeCalls ?? 0,
      buyerId: t.buyerId,
      refunds: t.refunds.map((r) => SandboxRefundResponse.from(r)),
      notifications: t.notifications.map((n) => SandboxNotificationResponse.from(n)),
    };
  }
}

export class OpenAppPaymentResponse {
  @ApiProperty({ example: '20240101120000AbCdEfGhIjKlMnOpQr' })
  outTradeNo!: string;

  @ApiProperty({
    example: 'http://localhost:3000/sandbox/alipay/cashier/20240101120000AbCdEfGhIjKlMnOpQr',
  })
  cashierUrl!: string;
}
