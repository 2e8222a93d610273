/**
 * What WeChat Pay APIv3 says about a trade and a refund (protocols.md C3, C4):
 * the transaction resource is the query answer's shape and is also what a
 * TRANSACTION.SUCCESS notification carries, encrypted; the refund resource is
 * what REFUND.* notifications carry.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { AEAD_AES_256_GCM, aeadAes256GcmEncrypt } from '../../common/crypto/aead';
import { newResourceNonce } from './wechat-sandbox.ids';
import { formatRfc3339Beijing } from './wechat-sandbox.time';
import {
  TRADE_TYPES,
  tradeState,
  type NotificationEventType,
  type SandboxRefund,
  type SandboxTrade,
  type TradeState,
} from './wechat-sandbox.types';

const TRADE_STATE_DESC: Readonly<Record<TradeState, string>> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
  REFUND: '订单发生过退款',
};

const SUMMARY: Readonly<Record<NotificationEventType, string>> = {
  'TRANSACTION.SUCCESS': '支付成功',
  'REFUND.SUCCESS': '退款成功',
  'REFUND.CLOSED': '退款关闭',
  'REFUND.ABNORMAL': '退款异常',
};

/**
 * GET /v3/pay/transactions/out-trade-no/{no}. An unpaid trade has no
 * transaction_id, payer, success_time or trade_type yet. `asOfPayment` gives
 * the state at payment time, as the TRANSACTION.SUCCESS notification shows it.
 */
export function transactionResource(
  trade: SandboxTrade,
  mchId: string,
  asOfPayment = false,
): Record<string, unknown> {
  const state = asOfPayment ? 'SUCCESS' : tradeState(trade);
  const paid = trade.paidAt !== undefined;
  const resource: Record<string, unknown> = {
    appid: trade.appId,
    mchid: mchId,
    out_trade_no: trade.outTradeNo,
    trade_state: state,
    trade_state_desc: TRADE_STATE_DESC[state],
    amount: paid
      ? {
          total: trade.totalFen,
          payer_total: trade.totalFen,
          currency: 'CNY',
          payer_currency: 'CNY',
        }
      : { total: trade.totalFen, currency: 'CNY', payer_currency: 'CNY' },
  };
  if (paid) {
    Object.assign(resource, {
      transaction_id: trade.transactionId,
      trade_type: TRADE_TYPES[trade.product],
      bank_type: 'OTHERS',
      success_time: formatRfc3339Beijing(trade.paidAt!),
      payer: { openid: trade.payerOpenid },
    });
  }
  if (trade.attach !== undefined) resource.attach = trade.attach;
  resource.promotion_detail = [];
  return resource;
}

/** The decrypted resource of a REFUND.* notification. */
export function refundResource(
  trade: SandboxTrade,
  refund: SandboxRefund,
  mchId: string,
): Record<string, unknown> {
  const resource: Record<string, unknown> = {
    mchid: mchId,
    out_trade_no: trade.outTradeNo,
    transaction_id: trade.transactionId,
    out_refund_no: refund.outRefundNo,
    refund_id: refund.refundId,
    refund_status: refund.status,
    user_received_account: '支付用户零钱',
    amount: {
      total: trade.totalFen,
      refund: refund.amountFen,
      payer_total: trade.totalFen,
      payer_refund: refund.amountFen,
    },
  };
  if (refund.successAt) resource.success_time = formatRfc3339Beijing(refund.successAt);
  return resource;
}

export interface NotificationBody {
  id: string;
  text: string;
}

/**
 * The notification's JSON body: the resource encrypted with the APIv3 key
 * under a fresh 12-character nonce, associated_data naming the resource kind.
 */
export function buildNotificationBody(
  eventType: NotificationEventType,
  resource: Record<string, unknown>,
  apiV3Key: KeyObject,
  now: Date,
): NotificationBody {
  const originalType = eventType.startsWith('REFUND.') ? 'refund' : 'transaction';
  const nonce = newResourceNonce();
  const id = randomUUID();
  const body = {
    id,
    create_time: formatRfc3339Beijing(now),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary: SUMMARY[eventType],
    resource: {
      original_type: originalType,
      algorithm: AEAD_AES_256_GCM,
      ciphertext: aeadAes256GcmEncrypt({
        key: apiV3Key,
        nonce,
        associatedData: originalType,
        plaintext: JSON.stringify(resource),
      }),
      associated_data: originalType,
      nonce,
    },
  };
  return { id, text: JSON.stringify(body) };
}
