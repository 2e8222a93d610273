import {
  eventually,
  orderStatus,
  orderWithAlipayAttempt,
  sandboxPay,
} from './support/alipay-sandbox';
import { TestApp, startApp } from './support/test-app';

describe('alipay smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ SANDBOX_TIME_SCALE: '0.001' });
  });
  afterAll(async () => t.close());

  it('qr payment, paid in the sandbox, makes the order PAID', async () => {
    const { order, payment } = await orderWithAlipayAttempt(t, 'qr');
    expect(payment.action.type).toBe('qr');
    await sandboxPay(t, payment.outTradeNo).expect((r) => expect(r.status).toBeLessThan(300));
    await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
  });
});
