import {
  isDefiniteRefundFailure,
  isDefiniteV2RefundFailure,
  mapWechatRefundStatus,
  mapWechatTradeState,
  wechatV2ErrorKind,
} from './wechat.mapper';

describe('WeChat Pay mapper', () => {
  it('maps every trade_state, and refuses an unknown one', () => {
    expect(['SUCCESS', 'REFUND'].map(mapWechatTradeState)).toEqual(['PAID', 'PAID']);
    expect(['NOTPAY', 'USERPAYING'].map(mapWechatTradeState)).toEqual(['PENDING', 'PENDING']);
    expect(['CLOSED', 'REVOKED', 'PAYERROR'].map(mapWechatTradeState)).toEqual([
      'CLOSED',
      'CLOSED',
      'CLOSED',
    ]);
    expect(() => mapWechatTradeState('PAID')).toThrow(/trade_state/);
  });

  it('maps refund statuses; only a 4xx with a known code is a certain failure', () => {
    expect(['SUCCESS', 'PROCESSING', 'CLOSED', 'ABNORMAL'].map(mapWechatRefundStatus)).toEqual([
      'SUCCEEDED',
      'PENDING',
      'FAILED',
      'FAILED',
    ]);
    expect(() => mapWechatRefundStatus(undefined)).toThrow();
    expect(isDefiniteRefundFailure(403, 'NOT_ENOUGH')).toBe(true);
    expect(isDefiniteRefundFailure(500, 'SYSTEM_ERROR')).toBe(false);
    expect(isDefiniteRefundFailure(429, 'FREQUENCY_LIMITED')).toBe(false);
    expect(isDefiniteRefundFailure(400, undefined)).toBe(false);
  });

  it('maps the v2 refund words and err_codes', () => {
    expect(['REFUNDCLOSE', 'CHANGE'].map(mapWechatRefundStatus)).toEqual(['FAILED', 'FAILED']);
    expect(wechatV2ErrorKind('SYSTEMERROR')).toBe('retry');
    expect(wechatV2ErrorKind('BIZERR_NEED_RETRY')).toBe('retry');
    expect(wechatV2ErrorKind('ORDERPAID')).toBe('refused');
    expect(wechatV2ErrorKind(undefined)).toBe('refused');
    expect(isDefiniteV2RefundFailure('NOTENOUGH')).toBe(true);
    expect(isDefiniteV2RefundFailure('ERROR')).toBe(false);
    expect(isDefiniteV2RefundFailure('SYSTEMERROR')).toBe(false);
    expect(isDefiniteV2RefundFailure(undefined)).toBe(false);
  });
});
