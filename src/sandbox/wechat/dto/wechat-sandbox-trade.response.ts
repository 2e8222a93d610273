import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  NOTIFY_MODES,
  NOTIFY_TAMPERS,
  PRODUCTS,
  refundedFen,
  tradeState,
} from '../wechat-sandbox.types';
import type {
  NotificationAttempt,
  SandboxNotification,
  SandboxRefund,
  SandboxTrade,
} from '../wechat-sandbox.types';

const TRADE_STATES = ['NOTPAY', 'SUCCESS', 'CLOSED', 'REFUND'];
const REFUND_STATUSES = ['PROCESSING', 'SUCCESS', 'CLOSED', 'ABNORMAL'];
const EVENT_TYPES = ['TRANSACTION.SUCCESS', 'REFUND.SUCCESS', 'REFUND.CLOSED', 'REFUND.ABNORMAL'];

export class SandboxNotificationAttemptResponse {
  @ApiProperty({ example: '2024-01-01T04:00:00.000Z' })
  at!: string;

  @ApiProperty({ type: Number, nullable: true, example: 204, description: 'null: no answer' })
  httpStatus!: number | null;

  @ApiProperty({ type: String, nullable: true, example: '', description: 'first 1000 characters' })
  body!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'network error' })
  error!: string | null;

  @ApiProperty({ description: 'the answer was HTTP 200 or 204' })
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
  @ApiProperty({
    example: 'a3f1f0a5-4a5d-4a53-9d1a-3b3bbb7e9a11',
    description: 'the notification id',
  })
  id!: string;

  @ApiProperty({ enum: EVENT_TYPES })
  eventType!: string;

  @ApiProperty({ enum: ['payment', 'refund', 'resend'] })
  event!: string;

  @ApiPropertyOptional()
  outRefundNo?: string;

  @ApiProperty({ enum: NOTIFY_MODES })
  mode!: string;

  @ApiProperty({ enum: NOTIFY_TAMPERS, nullable: true, type: String })
  tamper!: string | null;

  @ApiProperty({ example: 'http://localhost:3000/notify/wechat/v3' })
  url!: string;

  @ApiProperty()
  acknowledged!: boolean;

  @ApiProperty({ description: 'the retry schedule ran out without a 200/204' })
  gaveUp!: boolean;

  @ApiProperty({ type: String, nullable: true })
  nextAttemptAt!: string | null;

  @ApiProperty({ type: [SandboxNotificationAttemptResponse] })
  attempts!: SandboxNotificationAttemptResponse[];

  @ApiProperty({ description: 'the JSON body exactly as posted (resource encrypted)' })
  body!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'the resource before encryption',
  })
  resource!: Record<string, unknown>;

  static from(n: SandboxNotification): SandboxNotificationResponse {
    return {
      id: n.id,
      eventType: n.eventType,
      event: n.event,
      outRefundNo: n.outRefundNo,
      mode: n.mode,
      tamper: n.tamper,
      url: n.url,
      acknowledged: n.acknowledged,
      gaveUp: n.gaveUp,
      nextAttemptAt: n.nextAttemptAt?.toISOString() ?? null,
      attempts: n.attempts.map((a) => SandboxNotificationAttemptResponse.from(a)),
      body: n.body,
      resource: structuredClone(n.resource),
    };
  }
}

export class SandboxRefundResponse {
  @ApiProperty({ example: 'R20240101000001' })
  outRefundNo!: string;

  @ApiProperty({ example: '50000000382019052709732678859' })
  refundId!: string;

  @ApiProperty({ example: 50, description: 'fen, as WeChat writes it' })
  amountFen!: number;

  @ApiProperty({ enum: REFUND_STATUSES })
  status!: string;

  @ApiPropertyOptional()
  reason?: string;

  @ApiPropertyOptional()
  notifyUrl?: string;

  @ApiProperty()
  createdAt!: string;

  @ApiProperty({ description: 'when a PROCESSING refund finishes' })
  settleAt!: string;

  @ApiPropertyOptional()
  successAt?: string;

  static from(r: SandboxRefund): SandboxRefundResponse {
    return {
      outRefundNo: r.outRefundNo,
      refundId: r.refundId,
      amountFen: r.amountFen,
      status: r.status,
      reason: r.reason,
      notifyUrl: r.notifyUrl,
      createdAt: r.createdAt.toISOString(),
      settleAt: r.settleAt.toISOString(),
      successAt: r.successAt?.toISOString(),
    };
  }
}

export class SandboxTradeResponse {
  @ApiProperty({ example: '20240101120000AbCdEfGhIjKlMnOpQr' })
  outTradeNo!: string;

  @ApiProperty({ enum: PRODUCTS })
  product!: string;

  @ApiProperty({ enum: TRADE_STATES, description: 'as a query answers trade_state' })
  tradeState!: string;

  @ApiProperty({ example: 'Coffee' })
  description!: string;

  @ApiProperty({ example: 8880, description: 'fen, as WeChat writes it' })
  totalFen!: number;

  @ApiProperty({ example: 0, description: 'fen refunded or being refunded' })
  refundedFen!: number;

  @ApiProperty({ example: 'http://localhost:3000/sandbox/wechat/cashier/…' })
  cashierUrl!: string;

  @ApiProperty({ example: 'wx20240101120000123456789012345678901234' })
  prepayId!: string;

  @ApiPropertyOptional({ example: '4200001234202401011234567890' })
  transactionId?: string;

  @ApiPropertyOptional({ example: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' })
  payerOpenid?: string;

  @ApiProperty()
  notifyUrl!: string;

  @ApiPropertyOptional()
  attach?: string;

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

  @ApiProperty({ type: [SandboxRefundResponse] })
  refunds!: SandboxRefundResponse[];

  @ApiProperty({ type: [SandboxNotificationResponse] })
  notifications!: SandboxNotificationResponse[];

  static from(t: SandboxTrade, cashierUrl: string): SandboxTradeResponse {
    return {
      outTradeNo: t.outTradeNo,
      product: t.product,
      tradeState: tradeState(t),
      description: t.description,
      totalFen: t.totalFen,
      refundedFen: refundedFen(t),
      cashierUrl,
      prepayId: t.prepayId,
      transactionId: t.transactionId,
      payerOpenid: t.payerOpenid,
      notifyUrl: t.notifyUrl,
      attach: t.attach,
      createdAt: t.createdAt.toISOString(),
      expiresAt: t.expiresAt.toISOString(),
      paidAt: t.paidAt?.toISOString(),
      closedAt: t.closedAt?.toISOString(),
      closeCalls: t.closeCalls ?? 0,
      refunds: t.refunds.map((r) => SandboxRefundResponse.from(r)),
      notifications: t.notifications.map((n) => SandboxNotificationResponse.from(n)),
    };
  }
}

export class ClientPayResponse {
  @ApiProperty({ example: '20240101120000AbCdEfGhIjKlMnOpQr' })
  outTradeNo!: string;

  @ApiProperty({
    example: 'http://localhost:3000/sandbox/wechat/cashier/20240101120000AbCdEfGhIjKlMnOpQr',
  })
  cashierUrl!: string;
}
