import { isDefiniteRefundFailure, isTradeNotClosable, mapAlipayTradeStatus } from './alipay.mapper';

describe('alipay mapper', () => {
  it.each([
    ['TRADE_SUCCESS', 'PAID'],
    ['TRADE_FINISHED', 'PAID'],
    ['TRADE_CLOSED', 'CLOSED'],
    ['WAIT_BUYER_PAY', 'PENDING'],
  ])('%s → %s', (word, status) => {
    expect(mapAlipayTradeStatus(word)).toBe(status);
  });

  it('refuses words it does not know rather than guessing', () => {
    expect(() => mapAlipayTradeStatus('TRADE_PENDING')).toThrow(/unknown/);
    expect(() => mapAlipayTradeStatus(undefined)).toThrow(/unknown/);
  });

  it('knows which close refusals need a query', () => {
    expect(isTradeNotClosable('ACQ.TRADE_STATUS_ERROR')).toBe(true);
    expect(isTradeNotClosable('ACQ.SYSTEM_ERROR')).toBe(false);
  });

  it('treats only definite business refusals as refund failures', () => {
    expect(isDefiniteRefundFailure('40004', 'ACQ.SELLER_BALANCE_NOT_ENOUGH')).toBe(true);
    expect(isDefiniteRefundFailure('40004', 'ACQ.SYSTEM_ERROR')).toBe(false);
    expect(isDefiniteRefundFailure('20000', 'isp.unknow-error')).toBe(false);
  });
});
