/** The in-memory model of the simulated Alipay gateway. */

export type TradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_FINISHED' | 'TRADE_CLOSED';

/** Which Alipay product created the trade. */
export type TradeProduct = 'precreate' | 'page' | 'wap' | 'app';

export const NOTIFY_MODES = ['normal', 'duplicate', 'drop', 'delay'] as const;
export type NotifyMode = (typeof NOTIFY_MODES)[number];

export const NOTIFY_TAMPERS = ['signature', 'amount', 'app_id'] as const;
export type NotifyTamper = (typeof NOTIFY_TAMPERS)[number];

export const PAID_STATUSES = ['TRADE_SUCCESS', 'TRADE_FINISHED'] as const;
export type PaidStatus = (typeof PAID_STATUSES)[number];

export const REFUND_FAULTS = ['fail', 'system_error', 'delay'] as const;
/**
 * What the next refund call(s) of a trade meet: fail — refused for certain
 * (ACQ.SELLER_BALANCE_NOT_ENOUGH), nothing refunded; system_error — an unsure
 * ACQ.SYSTEM_ERROR, nothing refunded; delay — refunded at once, answered only
 * after delayMs (past the merchant's client timeout: the answer is lost).
 */
export type RefundFaultKind = (typeof REFUND_FAULTS)[number];

export interface RefundFault {
  outcome: RefundFaultKind;
  delayMs: number;
  /** How many more refund calls of the trade meet it. */
  remaining: number;
}

export interface SandboxRefund {
  outRequestNo: string;
  amountFen: number;
  reason?: string;
  refundedAt: Date;
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

export type NotificationEvent = 'payment' | 'close' | 'refund' | 'resend';

export interface SandboxNotification {
  notifyId: string;
  event: NotificationEvent;
  tradeStatus: TradeStatus;
  mode: NotifyMode;
  tamper: NotifyTamper | null;
  url: string;
  /** The form fields exactly as posted, sign included. */
  fields: Record<string, string>;
  createdAt: Date;
  acknowledged: boolean;
  /** True once the whole retry schedule ran out without a `success`. */
  gaveUp: boolean;
  nextAttemptAt: Date | null;
  attempts: NotificationAttempt[];
}

export interface SandboxTrade {
  outTradeNo: string;
  /** 28 digits, like `2024010122001468450512505578`. */
  tradeNo: string;
  product: TradeProduct;
  subject: string;
  body?: string;
  totalFen: number;
  status: TradeStatus;
  notifyUrl?: string;
  returnUrl?: string;
  quitUrl?: string;
  passbackParams?: string;
  createdAt: Date;
  expiresAt: Date;
  paidAt?: Date;
  closedAt?: Date;
  /** Close calls received for this trade (books of an earlier version have none). */
  closeCalls?: number;
  buyerId?: string;
  buyerLogonId?: string;
  refunds: SandboxRefund[];
  refundedFen: number;
  notifications: SandboxNotification[];
}
