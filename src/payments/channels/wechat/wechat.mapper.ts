// WeChat Pay words → paygate's own states (protocols.md C4 trade_state and refund status; B4, B5 for v2).
// Written once for both API versions: v2 and v3 share these words.
import type { ChannelRefundState, ChannelTradeStatus } from '../../payment-provider';

/**
 * SUCCESS: paid. REFUND: paid, then (partly) refunded — still money taken.
 * NOTPAY / USERPAYING: waiting. CLOSED / REVOKED / PAYERROR: will not be paid.
 */
export function mapWechatTradeState(state: unknown): ChannelTradeStatus {
  switch (state) {
    case 'SUCCESS':
    case 'REFUND':
      return 'PAID';
    case 'NOTPAY':
    case 'USERPAYING':
      return 'PENDING';
    case 'CLOSED':
    case 'REVOKED':
    case 'PAYERROR':
      return 'CLOSED';
    default:
      throw new Error(`unknown WeChat Pay trade_state ${JSON.stringify(state)}`);
  }
}

/** SUCCESS settles; PROCESSING waits; CLOSED and ABNORMAL are certain failures. */
export function mapWechatRefundStatus(status: unknown): ChannelRefundState['status'] {
  switch (status) {
    case 'SUCCESS':
      return 'SUCCEEDED';
    case 'PROCESSING':
      return 'PENDING';
    case 'CLOSED':
    case 'ABNORMAL':
      return 'FAILED';
    default:
      throw new Error(`unknown WeChat Pay refund status ${JSON.stringify(status)}`);
  }
}

/**
 * Refund answers that mean "certainly not refunded" (the amount may be refunded
 * again). SYSTEM_ERROR, FREQUENCY_LIMITED, 5xx and transport errors are unsure.
 */
const DEFINITE_REFUND_FAILURES = new Set([
  'NOT_ENOUGH',
  'PARAM_ERROR',
  'INVALID_REQUEST',
  'NO_AUTH',
  'USER_ACCOUNT_ABNORMAL',
  'RESOURCE_NOT_EXISTS',
  'ORDER_NOT_EXIST',
  'MCH_NOT_EXISTS',
]);

export function isDefiniteRefundFailure(httpStatus: number, code: string | undefined): boolean {
  return (
    httpStatus >= 400 &&
    httpStatus < 500 &&
    code !== undefined &&
    DEFINITE_REFUND_FAILURES.has(code)
  );
}
