import { ORDER_TRANSITIONS, OrderStatus, canTransition, isPayable } from './order-state';

describe('order state rules', () => {
  const all = Object.values(OrderStatus);

  it('only a pending order can be paid or closed', () => {
    for (const s of all) {
      expect(canTransition(s, 'pay')).toBe(s === OrderStatus.PENDING);
      expect(canTransition(s, 'close')).toBe(s === OrderStatus.PENDING);
    }
  });

  it('a late payment reopens only a closed order', () => {
    for (const s of all) expect(canTransition(s, 'payAfterClose')).toBe(s === OrderStatus.CLOSED);
  });

  it('refunds apply to paid orders only', () => {
    for (const s of all) {
      const paid = s === OrderStatus.PAID || s === OrderStatus.PARTIALLY_REFUNDED;
      expect(canTransition(s, 'refundPartially')).toBe(paid);
      expect(canTransition(s, 'refundFully')).toBe(paid);
    }
  });

  it('no transition leaves a refunded order', () => {
    for (const t of Object.values(ORDER_TRANSITIONS))
      expect(t.from).not.toContain(OrderStatus.REFUNDED);
  });

  it('payable means pending and unexpired', () => {
    const now = new Date('2024-01-01T00:00:00Z');
    const later = new Date(now.getTime() + 1000);
    const earlier = new Date(now.getTime() - 1000);
    expect(isPayable({ status: OrderStatus.PENDING, expiresAt: later }, now)).toBe(true);
    expect(isPayable({ status: OrderStatus.PENDING, expiresAt: earlier }, now)).toBe(false);
    expect(isPayable({ status: OrderStatus.PENDING, expiresAt: now }, now)).toBe(false);
    expect(isPayable({ status: OrderStatus.PAID, expiresAt: later }, now)).toBe(false);
  });
});
