import { AlipayProvider } from '../src/payments/channels/alipay/alipay.provider';
import { ChannelCallError } from '../src/payments/payment-provider';
import { orderWithAlipayAttempt, sandboxPay } from './support/alipay-sandbox';
import { TestApp, startApp } from './support/test-app';

/**
 * The provider's channel calls that the API does not reach yet (refunds, refund
 * queries, bill URLs), pinned against the sandbox over real HTTP.
 */
describe('AlipayProvider against the sandbox gateway (e2e)', () => {
  let t: TestApp;
  let alipay: AlipayProvider;
  beforeAll(async () => {
    t = await startApp({ SANDBOX_TIME_SCALE: '0.0005' });
    alipay = t.app.get(AlipayProvider);
  });
  afterAll(async () => t.close());

  const paidTrade = async () => {
    const { payment } = await orderWithAlipayAttempt(t, 'qr');
    await sandboxPay(t, payment.outTradeNo, { notify: 'drop' }).expect(200);
    return payment.outTradeNo;
  };

  it('queryPayment: pending, then paid with amount and trade number; unknown → NOT_FOUND', async () => {
    const { payment } = await orderWithAlipayAttempt(t, 'qr');
    expect(await alipay.queryPayment(payment.outTradeNo)).toMatchObject({
      status: 'PENDING',
      amount: 8880,
    });
    await sandboxPay(t, payment.outTradeNo, { notify: 'drop' }).expect(200);
    const paid = await alipay.queryPayment(payment.outTradeNo);
    expect(paid).toMatchObject({
      outTradeNo: payment.outTradeNo,
      status: 'PAID',
      amount: 8880,
      channelTradeNo: expect.any(String),
    });
    expect(paid.paidAt).toBeInstanceOf(Date);
    expect(await alipay.queryPayment('NOSUCHTRADE0000000000000000000')).toEqual({
      outTradeNo: 'NOSUCHTRADE0000000000000000000',
      status: 'NOT_FOUND',
    });
  });

  it('closePayment: closed, not_found, already_paid', async () => {
    const { payment } = await orderWithAlipayAttempt(t, 'qr');
    expect(await alipay.closePayment(payment.outTradeNo)).toBe('closed');
    expect(await alipay.closePayment('NOSUCHTRADE0000000000000000001')).toBe('not_found');
    expect(await alipay.closePayment(await paidTrade())).toBe('already_paid');
  });

  it('refund: partial refunds succeed at once, a repeat is idempotent, above the remainder fails for certain', async () => {
    const outTradeNo = await paidTrade();
    const first = await alipay.refund({
      outTradeNo,
      outRefundNo: 'R1' + outTradeNo.slice(2),
      amount: 1000,
      totalAmount: 8880,
    });
    expect(first).toMatchObject({ status: 'SUCCEEDED', amount: 1000 });
    // The same out_request_no again: Alipay moves no money (fund_change=N), the query confirms.
    const repeat = await alipay.refund({
      outTradeNo,
      outRefundNo: 'R1' + outTradeNo.slice(2),
      amount: 1000,
      totalAmount: 8880,
    });
    expect(repeat.status).toBe('SUCCEEDED');
    const tooMuch = await alipay.refund({
      outTradeNo,
      outRefundNo: 'R2' + outTradeNo.slice(2),
      amount: 8000,
      totalAmount: 8880,
    });
    expect(tooMuch.status).toBe('FAILED');
    expect(tooMuch.failureReason).toMatch(/ACQ\./);
    const trade = await t.http.get(`/sandbox/alipay/control/trades/${outTradeNo}`).expect(200);
    expect(trade.body.refundedAmountFen).toBe(1000);
  });

  it('queryRefund: a refund that happened, and one Alipay never received', async () => {
    const outTradeNo = await paidTrade();
    await alipay.refund({
      outTradeNo,
      outRefundNo: 'Q1' + outTradeNo.slice(2),
      amount: 880,
      totalAmount: 8880,
    });
    expect(
      await alipay.queryRefund({ outTradeNo, outRefundNo: 'Q1' + outTradeNo.slice(2) }),
    ).toMatchObject({ status: 'SUCCEEDED', amount: 880 });
    // Never received (or not successful): not a certain failure, re-sending decides.
    expect(
      await alipay.queryRefund({ outTradeNo, outRefundNo: 'Q9' + outTradeNo.slice(2) }),
    ).toEqual({ outRefundNo: 'Q9' + outTradeNo.slice(2), status: 'NOT_FOUND' });
  });

  it('billDownloadUrl: a URL for a day with trades, null for a day with no bill', async () => {
    await paidTrade();
    const beijingToday = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    const url = await alipay.billDownloadUrl(beijingToday);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sandbox\/alipay\/bills\/.+\.zip$/);
    const zip = await fetch(url!);
    expect(zip.status).toBe(200);
    expect(
      Buffer.from(await zip.arrayBuffer())
        .subarray(0, 2)
        .toString(),
    ).toBe('PK');
    expect(await alipay.billDownloadUrl('2099-01-01')).toBeNull();
  });

  it('an unreachable gateway is a channel error, not a crash', async () => {
    const other = await startApp({ SANDBOX_TIME_SCALE: '0.0005' });
    const provider = other.app.get(AlipayProvider);
    await other.app.close();
    await expect(provider.queryPayment('X0000000000000000000000000000000')).rejects.toBeInstanceOf(
      ChannelCallError,
    );
    await other.close().catch(() => undefined);
  });
});
