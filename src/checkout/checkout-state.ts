import { OrderStatus, isPayable } from '../orders/order-state';

/**
 * What the checkout page tells the buyer about an order: it can be paid, it is
 * paid (refunds later change nothing for the buyer here), or it is over because
 * its time ran out or the merchant closed it.
 */
export type CheckoutState = 'pending' | 'paid' | 'expired' | 'closed';

export function checkoutState(
  order: { status: OrderStatus; expiresAt: Date; closedAt: Date | null },
  now = new Date(),
): CheckoutState {
  switch (order.status) {
    case OrderStatus.PENDING:
      // Past its time but not yet closed by the close-expired-orders job.
      return isPayable(order, now) ? 'pending' : 'expired';
    case OrderStatus.CLOSED:
      return order.closedAt && order.closedAt.getTime() >= order.expiresAt.getTime()
        ? 'expired'
        : 'closed';
    case OrderStatus.PAID:
    case OrderStatus.PARTIALLY_REFUNDED:
    case OrderStatus.REFUNDED:
      return 'paid';
  }
}
