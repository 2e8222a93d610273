// Alipay trade words → paygate's own states (protocols.md A7 trade_status, A5 result codes).
import type { ChannelTradeStatus } from '../../payment-provider';

export const ALIPAY_SUCCESS = '10000';

/** TRADE_SUCCESS and TRADE_FINISHED both mean the money was taken. */
export function mapAlipayTradeStatus(tradeStatus: unknown): ChannelTradeStatus {
  switch (tradeStatus) {
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return 'PAID';
    case 'TRADE_CLOSED':
      return 'CLOSED';
    case 'WAIT_BUYER_PAY':
      return 'PENDING';
    default:
      throw new Error(`unknown Alipay trade_status ${JSON.stringify(tradeStatus)}`);
  }
}

/** An un-scanned precreate does not exist at Alipay yet; query and close say so with this sub_code. */
export const isTradeNotExist = (subCode: string | undefined): boolean =>
  subCode === 'ACQ.TRADE_NOT_EXIST';

/** Close refused because the trade is no longer waiting for payment (it may be paid). */
export const isTradeNotClosable = (subCode: string | undefined): boolean =>
  subCode === 'ACQ.TRADE_STATUS_ERROR' ||
  subCode === 'ACQ.TRADE_HAS_SUCCESS' ||
  subCode === 'ACQ.TRADE_HAS_FINISHED' ||
  subCode === 'ACQ.TRADE_HAS_CLOSE';

/**
 * Refund answers that mean "certainly not refunded": the reservation may be
 * released. Anything else (20000, ACQ.SYSTEM_ERROR, transport errors) is unknown
 * and must be queried, never assumed failed.
 */
export function isDefiniteRefundFailure(code: string, subCode: string | undefined): boolean {
  if (code === '40004') return subCode !== 'ACQ.SYSTEM_ERROR';
  return code === '40001' || code === '40002' || code === '40006';
}

/** "2024-01-01 12:00:00" in Beijing time (UTC+8), as Alipay writes every time. */
export function parseBeijingTime(text: string | undefined): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text ?? '');
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h - 8, mi, s));
}
