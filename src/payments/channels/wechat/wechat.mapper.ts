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

/**
 * SUCCESS settles; PROCESSING waits; closed (v3 CLOSED, v2 REFUNDCLOSE) and
 * abnormal (v3 ABNORMAL, v2 CHANGE: the buyer's card is gone, the merchant
 * handles it by hand on the platform) are certain failures.
 */
export function mapWechatRefundStatus(status: unknown): ChannelRefundState['status'] {
  switch (status) {
    case 'SUCCESS':
      return 'SUCCEEDED';
    case 'PROCESSING':
      return 'PENDING';
    case 'CLOSED':
    case 'ABNORMAL':
    case 'REFUNDCLOSE':
    case 'CHANGE':
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

/**
 * v2 err_code (result_code FAIL) → how sure the failure is. `retry`: WeChat
 * itself says to send the same request again (SYSTEMERROR, BIZERR_NEED_RETRY,
 * FREQUENCY_LIMITED); `refused`: it will not do it, whatever is sent again.
 * v2 answers these in HTTP 200 bodies, so the v3 status-based rule does not apply.
 */
const V2_RETRY_CODES = new Set(['SYSTEMERROR', 'BIZERR_NEED_RETRY', 'FREQUENCY_LIMITED']);

export function wechatV2ErrorKind(errCode: string | undefined): 'retry' | 'refused' {
  return errCode !== undefined && V2_RETRY_CODES.has(errCode) ? 'retry' : 'refused';
}

/**
 * v2 refund answers that mean "certainly not refunded". Anything else, ERROR
 * included (WeChat's catch-all, to be read from err_code_des), stays unsure:
 * a refund taken as failed when it went through would let the amount out twice.
 */
const V2_DEFINITE_REFUND_FAILURES = new Set([
  'NOTENOUGH',
  'TRADE_OVERDUE',
  'USER_ACCOUNT_ABNORMAL',
  'INVALID_TRANSACTIONID',
  'INVALID_REQ_TOO_MUCH',
  'PARAM_ERROR',
  'ORDERNOTEXIST',
  'APPID_NOT_EXIST',
  'MCHID_NOT_EXIST',
  'APPID_MCHID_NOT_MATCH',
  'NOAUTH',
]);

export function isDefiniteV2RefundFailure(errCode: string | undefined): boolean {
  return errCode !== undefined && V2_DEFINITE_REFUND_FAILURES.has(errCode);
}
