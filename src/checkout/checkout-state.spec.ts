import { OrderStatus } from '../orders/order-state';
import { checkoutState } from './checkout-state';

describe('checkoutState', () => {
  const now = new Date('2026-01-01T12:00:00Z');
  const later = new Date('2026-01-01T12:15:00Z');
  const earlier = new Date('2026-01-01T11:45:00Z');

  it.each([
    [OrderStatus.PENDING, later, null, 'pending'],
    [OrderStatus.PENDING, earlier, null, 'expired'],
    [OrderStatus.PENDING, now, null, 'expired'],
    [OrderStatus.CLOSED, later, now, 'closed'],
    [OrderStatus.CLOSED, earlier, now, 'expired'],
    [OrderStatus.PAID, earlier, null, 'paid'],
    [OrderStatus.PARTIALLY_REFUNDED, later, null, 'paid'],
    [OrderStatus.REFUNDED, later, null, 'paid'],
  ])('%s, expiring %s, closed %s → %s', (status, expiresAt, closedAt, state) => {
    expect(checkoutState({ status, expiresAt, closedAt }, now)).toBe(state);
  });
});
