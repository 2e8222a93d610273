/**
 * The contract every channel implements (design.md, "The provider strategy").
 * Everything channel-specific — field names, status words, time formats, yuan
 * strings — stays behind it; what comes out is in paygate's own terms.
 */
export type Channel = 'alipay' | 'wechat';
export const CHANNELS: readonly Channel[] = ['alipay', 'wechat'];

export type PaymentMethod = 'qr' | 'page' | 'wap' | 'app' | 'jsapi' | 'h5';
export const PAYMENT_METHODS: readonly PaymentMethod[] = [
  'qr',
  'page',
  'wap',
  'app',
  'jsapi',
  'h5',
];

export type PaymentAction =
  | { type: 'qr'; qrCode: string }
  | { type: 'redirect'; url: string }
  | { type: 'form'; html: string }
  | { type: 'app'; orderString: string }
  | { type: 'app'; params: Record<string, string> }
  | { type: 'jsapi'; params: Record<string, string> };

export interface CreatePaymentInput {
  outTradeNo: string;
  /** fen */
  amount: number;
  subject: string;
  description?: string | null;
  method: PaymentMethod;
  expiresAt: Date;
  returnUrl?: string;
  clientIp?: string;
  openid?: string;
}

export interface CreatedPayment {
  action: PaymentAction;
}

/** A trade as the channel sees it, normalised. */
export type ChannelTradeStatus = 'PENDING' | 'PAID' | 'CLOSED' | 'NOT_FOUND';

export interface ChannelPaymentState {
  outTradeNo: string;
  status: ChannelTradeStatus;
  /** fen, as the channel reports the trade's total */
  amount?: number;
  channelTradeNo?: string;
  paidAt?: Date;
}

export type CloseOutcome = 'closed' | 'already_paid' | 'not_found';

export interface ChannelRefundInput {
  outTradeNo: string;
  outRefundNo: string;
  /** fen */
  amount: number;
  /** fen: the whole payment, WeChat needs it */
  totalAmount: number;
  reason?: string;
}

export type ChannelRefundRef = Pick<ChannelRefundInput, 'outTradeNo' | 'outRefundNo'>;

/**
 * A refund as the channel sees it. PENDING: not settled yet, or the answer was
 * unsure. FAILED: certainly not refunded, the amount may be refunded again.
 * NOT_FOUND (queries only): the channel has no refund under this number; sending
 * it again with the same number is safe.
 */
export interface ChannelRefundState {
  outRefundNo: string;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'NOT_FOUND';
  /** fen: this refund's amount as the channel reports it; a caller compares it with its own. */
  amount?: number;
  channelRefundNo?: string;
  failureReason?: string;
}

/** A callback as it arrived, before anything trusts it. */
export interface RawNotification {
  headers: Record<string, string | string[] | undefined>;
  /** Parsed form or JSON body. */
  body: unknown;
  rawBody?: Buffer;
  sourceIp: string;
  /** Which of a channel's callback paths it came on (WeChat: `v3`, `v2`, `v2/refund`). */
  path?: string;
}

export interface VerifiedNotification {
  kind: 'payment' | 'refund' | 'other';
  /** Same for every redelivery of the same notification, different for different ones. */
  dedupeKey: string;
  state: ChannelPaymentState;
  /**
   * kind 'refund': which refund it is about. `state` is given when the channel
   * states that refund's outcome (WeChat Pay); without it the notification only
   * says something happened to the refund, and a query must tell what (Alipay).
   */
  refund?: { outRefundNo?: string; state?: ChannelRefundState };
  /** What is kept in the inbox for audit: the notification's fields, secrets never included. */
  auditBody: Record<string, unknown>;
}

export interface RawReply {
  status: number;
  contentType: string;
  body: string;
}

/**
 * One row of a channel's daily bill, in paygate's terms (reconciliation). A
 * provider yields a row per payment it booked that day and a row per refund.
 */
export interface BillRow {
  kind: 'payment' | 'refund';
  outTradeNo: string;
  /** Refunds: paygate's out_refund_no (Alipay's 退款批次号/请求号, WeChat's 商户退款单号). */
  outRefundNo?: string;
  channelTradeNo?: string;
  channelRefundNo?: string;
  /** fen, positive: the trade's total for a payment, this refund's amount for a refund. */
  amount: number;
  /** The channel's fee for the row, yuan as the bill writes it (WeChat: five decimals); recorded, never compared. */
  fee?: string;
  /** The channel's own word for the row ('交易', '退款', 'SUCCESS', 'REFUND', …), kept for the report. */
  channelStatus: string;
  /** When the channel completed it. */
  at?: Date;
}

/**
 * Why a day's bill cannot be read: `not_ready` (asked too early, try again later),
 * `corrupt` (the download failed its integrity check, was truncated or does not
 * parse), `unavailable` (the channel could not be reached or refused the call).
 * A provider downloads the whole bill and checks its integrity before it
 * yields the first row (Alipay: the zip's directory and the detail entry's
 * CRC-32; WeChat v3: the SHA-1 against hash_value; v2: gzip's own CRC-32), so a
 * damaged download never yields part of itself. Rows are then parsed as they
 * are yielded: a row that does not read throws at its line, and the caller
 * (reconciliation) discards what it had taken from that bill. The message names
 * the channel, the day and, for a row, its line.
 */
export class BillError extends Error {
  constructor(
    readonly channel: Channel,
    readonly reason: 'not_ready' | 'corrupt' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'BillError';
  }
}

/**
 * How a notification was taken: processed (`ok`), not processed and to be sent
 * again (`retry`, a database failure), or refused (`rejected`: it failed its
 * signature or does not match our records). Channels that answer all failures
 * alike (Alipay's `fail`) map both to one reply.
 */
export type ReplyOutcome = 'ok' | 'retry' | 'rejected';

/** Fields of the payment request a method cannot do without. */
export type PaymentInputField = 'openid' | 'clientIp';

export interface PaymentProvider {
  readonly channel: Channel;
  readonly methods: readonly PaymentMethod[];
  /**
   * What the channel allows for refunds of one payment, checked (409) before it is
   * called: at most `maxPerPayment` refunds, within `withinDays` of the payment.
   */
  readonly refundLimits?: { maxPerPayment?: number; withinDays?: number };
  /** Per method, the request fields it needs (a 400 naming the field when one is missing). */
  readonly requires?: Partial<Record<PaymentMethod, readonly PaymentInputField[]>>;
  /** For /health: the channel's own state (`state` other than `ready` says why it is refused). */
  health?(): Record<string, unknown>;
  createPayment(p: CreatePaymentInput): Promise<CreatedPayment>;
  queryPayment(outTradeNo: string): Promise<ChannelPaymentState>;
  closePayment(outTradeNo: string): Promise<CloseOutcome>;
  refund(r: ChannelRefundInput): Promise<ChannelRefundState>;
  queryRefund(r: ChannelRefundRef): Promise<ChannelRefundState>;
  /** Throws NotificationRejected when the signature or the app/merchant identity does not check out. */
  verifyNotification(n: RawNotification): Promise<VerifiedNotification>;
  acknowledge(outcome: ReplyOutcome): RawReply;
  /**
   * The bill of one Beijing day (`YYYY-MM-DD`): every payment and refund the
   * channel booked that day. A day without trades yields nothing; failures are
   * BillError (a future day: `not_ready`); a date that is not a real
   * `YYYY-MM-DD` day is a RangeError. Stopping early (`break`) is fine: the
   * download is removed however the reading ends. Rows come in batches, in
   * bill order (none empty; up to a thousand rows each): a million-row bill
   * passed row by row through the reader's async generators made a few
   * promises per row, which cost the service more than comparing them.
   */
  downloadBill(date: string): AsyncIterable<BillRow[]>;
}

/** Injection token under which every channel provider is registered (multi-provider). */
export const PAYMENT_PROVIDERS = Symbol('PAYMENT_PROVIDERS');

/** Why a notification was refused before it touched any state. */
export class NotificationRejected extends Error {
  constructor(
    /** Short, stable reason recorded as the inbox outcome `rejected:<reason>`. */
    readonly reason: 'signature' | 'app_id' | 'seller_id' | 'mch_id' | 'malformed' | 'timestamp',
    message: string,
    /** What can be kept for audit even though the notification was not trusted. */
    readonly auditBody: Record<string, unknown> = {},
    readonly outTradeNo?: string,
  ) {
    super(message);
    this.name = 'NotificationRejected';
  }
}

/** A channel call whose outcome is unknown or failed at the transport level. */
export class ChannelCallError extends Error {
  constructor(
    readonly channel: Channel,
    readonly kind: 'unavailable' | 'error',
    message: string,
  ) {
    super(message);
    this.name = 'ChannelCallError';
  }
}
