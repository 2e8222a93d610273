/** The in-memory model of the simulated WeChat Pay APIv3 (protocols.md C4). */

/** The order's own state; REFUND is derived from its refunds (see tradeState). */
export type TradeStatus = 'NOTPAY' | 'SUCCESS' | 'CLOSED';
/** What a query answers as trade_state. */
export type TradeState = TradeStatus | 'REFUND';

/** Which placement API created the trade: /v3/pay/transactions/{product}. */
export const PRODUCTS = ['native', 'jsapi', 'h5', 'app'] as const;
export type TradeProduct = (typeof PRODUCTS)[number];

export const TRADE_TYPES: Readonly<Record<TradeProduct, string>> = {
  native: 'NATIVE',
  jsapi: 'JSAPI',
  h5: 'MWEB',
  app: 'APP',
};

export const NOTIFY_MODES = ['normal', 'duplicate', 'drop', 'delay'] as const;
export type NotifyMode = (typeof NOTIFY_MODES)[number];

export const NOTIFY_TAMPERS = ['signature', 'amount', 'mchid'] as const;
export type NotifyTamper = (typeof NOTIFY_TAMPERS)[number];

export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
export const REFUND_END_STATES = ['CLOSED', 'ABNORMAL'] as const;
export type RefundFailure = (typeof REFUND_END_STATES)[number];

export const REFUND_FAULTS = ['fail', 'not_enough', 'system_error', 'delay'] as const;
/**
 * What the next refund call(s) of a trade meet: fail — accepted (PROCESSING),
 * then ends CLOSED or ABNORMAL; not_enough — refused at once (403 NOT_ENOUGH),
 * nothing created; system_error — an unsure 500 SYSTEM_ERROR, nothing created;
 * delay — accepted at once, answered only after delayMs (past the merchant's
 * client timeout: the answer is lost).
 */
export type RefundFaultKind = (typeof REFUND_FAULTS)[number];

export interface RefundFault {
  outcome: RefundFaultKind;
  delayMs: number;
  /** With outcome `fail`: how the refund ends. */
  endsAs: RefundFailure;
  /** How many more refund calls of the trade meet it. */
  remaining: number;
}

export interface SandboxRefund {
  outRefundNo: string;
  /** 29 digits, like `50000000382019052709732678859`. */
  refundId: string;
  amountFen: number;
  reason?: string;
  notifyUrl?: string;
  status: RefundStatus;
  /** Where a PROCESSING refund ends, at settleAt. */
  endsAs: 'SUCCESS' | RefundFailure;
  createdAt: Date;
  settleAt: Date;
  successAt?: Date;
}

export interface NotificationAttempt {
  at: Date;
  /** null when the request did not get an answer (connection refused, timeout). */
  httpStatus: number | null;
  /** The answer's body, cut to 1000 characters. */
  body: string | null;
  error: string | null;
  acknowledged: boolean;
}

export type NotificationEventType =
  'TRANSACTION.SUCCESS' | 'REFUND.SUCCESS' | 'REFUND.CLOSED' | 'REFUND.ABNORMAL';

export type NotificationEvent = 'payment' | 'refund' | 'resend';

export interface SandboxNotification {
  /** The notification's `id` (a UUID), the same on every retry. */
  id: string;
  eventType: NotificationEventType;
  event: NotificationEvent;
  /** Set on refund notifications. */
  outRefundNo?: string;
  mode: NotifyMode;
  tamper: NotifyTamper | null;
  url: string;
  /** The JSON body exactly as posted (headers are signed afresh on every try). */
  body: string;
  /** The decrypted resource, for the control API (it holds no secret). */
  resource: Record<string, unknown>;
  createdAt: Date;
  acknowledged: boolean;
  /** True once the whole retry schedule ran out without a 200/204. */
  gaveUp: boolean;
  nextAttemptAt: Date | null;
  attempts: NotificationAttempt[];
}

export interface SandboxTrade {
  outTradeNo: string;
  /** v2: the sign_type of the unifiedorder; answers and notifications are signed the same way. */
  signType?: 'MD5' | 'HMAC-SHA256';
  product: TradeProduct;
  appId: string;
  description: string;
  attach?: string;
  goodsTag?: string;
  notifyUrl: string;
  totalFen: number;
  /** The placement's business fields, to tell a retry from a conflicting reuse. */
  fingerprint: string;
  /** Every product gets one; jsapi/app answer it, h5_url carries it. */
  prepayId: string;
  /** jsapi: from payer.openid; others: made up when the buyer pays. */
  payerOpenid?: string;
  payerClientIp?: string;
  h5Type?: string;
  status: TradeStatus;
  /** 28 digits, assigned when paid (an unpaid trade has none). */
  transactionId?: string;
  createdAt: Date;
  expiresAt: Date;
  paidAt?: Date;
  closedAt?: Date;
  /** Close calls received for this trade (books of an earlier version have none). */
  closeCalls?: number;
  refunds: SandboxRefund[];
  notifications: SandboxNotification[];
}

/** REFUND once a refund was accepted and did not close, as WeChat reports it. */
export function tradeState(trade: SandboxTrade): TradeState {
  if (trade.status === 'SUCCESS' && trade.refunds.some((r) => r.status !== 'CLOSED')) {
    return 'REFUND';
  }
  return trade.status;
}

/** Refunds that closed gave their amount back; every other one counts. */
export function refundedFen(trade: SandboxTrade): number {
  return trade.refunds.filter((r) => r.status !== 'CLOSED').reduce((s, r) => s + r.amountFen, 0);
}
