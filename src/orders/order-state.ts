/**
 * The order's life, in one place. Every change is a conditional update
 * `… SET status = to WHERE id = ? AND status IN (from)`, so two racing writers
 * (a notification and a close, two instances, a retry) cannot both win.
 */
export enum OrderStatus {
  PENDING = 'PENDING',
  PAID = 'PAID',
  PARTIALLY_REFUNDED = 'PARTIALLY_REFUNDED',
  REFUNDED = 'REFUNDED',
  CLOSED = 'CLOSED',
}

export type OrderEvent = 'pay' | 'close' | 'payAfterClose' | 'refundPartially' | 'refundFully';

export const ORDER_TRANSITIONS: Record<
  OrderEvent,
  { from: readonly OrderStatus[]; to: OrderStatus }
> = {
  pay: { from: [OrderStatus.PENDING], to: OrderStatus.PAID },
  close: { from: [OrderStatus.PENDING], to: OrderStatus.CLOSED },
  // LATE_PAYMENT_POLICY=accept: money that arrived after the close reopens the order as paid.
  payAfterClose: { from: [OrderStatus.CLOSED], to: OrderStatus.PAID },
  refundPartially: {
    from: [OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED],
    to: OrderStatus.PARTIALLY_REFUNDED,
  },
  refundFully: {
    from: [OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED],
    to: OrderStatus.REFUNDED,
  },
};

export function canTransition(from: OrderStatus, event: OrderEvent): boolean {
  return ORDER_TRANSITIONS[event].from.includes(from);
}

/** Payable: pending and not yet expired. */
export function isPayable(
  order: { status: OrderStatus; expiresAt: Date },
  now = new Date(),
): boolean {
  return order.status === OrderStatus.PENDING && order.expiresAt.getTime() > now.getTime();
}

/** Where merchant refunds may be asked for: the order holds money that is not yet all refunded. */
export const REFUNDABLE_STATUSES: readonly OrderStatus[] = ORDER_TRANSITIONS.refundPartially.from;
