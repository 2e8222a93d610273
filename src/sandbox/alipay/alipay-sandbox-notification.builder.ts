/**
 * The fields of an Alipay trade notification (protocols.md A9), before signing.
 * Payment, close and refund notifications differ only in which of the optional
 * fields they carry: a timeout close has gmt_close and no refund_fee; a refund
 * has refund_fee (cumulative), gmt_refund and out_biz_no.
 */
import { fenToYuan } from '../../common/money/money';
import { randomDigits } from './alipay-sandbox.ids';
import { beijingCompactDate, formatBeijing, formatBeijingMillis } from './alipay-sandbox.time';
import type { SandboxRefund, SandboxTrade } from './alipay-sandbox.types';

export interface NotificationIdentity {
  appId: string;
  sellerId: string;
}

export function newNotifyId(now: Date): string {
  return `${beijingCompactDate(now)}${randomDigits(26)}`;
}

export function buildNotificationFields(
  trade: SandboxTrade,
  identity: NotificationIdentity,
  refund: SandboxRefund | undefined,
  now: Date,
): Record<string, string> {
  const total = fenToYuan(trade.totalFen);
  const fields: Record<string, string | undefined> = {
    notify_time: formatBeijing(now),
    notify_type: 'trade_status_sync',
    notify_id: newNotifyId(now),
    app_id: identity.appId,
    auth_app_id: identity.appId,
    charset: 'utf-8',
    version: '1.0',
    sign_type: 'RSA2',
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    seller_id: identity.sellerId,
    trade_status: trade.status,
    total_amount: total,
    subject: trade.subject,
    body: trade.body,
    passback_params: trade.passbackParams,
    gmt_create: formatBeijing(trade.createdAt),
  };
  if (trade.paidAt) {
    Object.assign(fields, {
      buyer_id: trade.buyerId,
      buyer_logon_id: trade.buyerLogonId,
      receipt_amount: total,
      buyer_pay_amount: total,
      invoice_amount: total,
      point_amount: '0.00',
      gmt_payment: formatBeijing(trade.paidAt),
      fund_bill_list: JSON.stringify([{ amount: total, fundChannel: 'ALIPAYACCOUNT' }]),
    });
  }
  if (refund) {
    Object.assign(fields, {
      refund_fee: fenToYuan(trade.refundedFen),
      gmt_refund: formatBeijingMillis(refund.refundedAt),
      out_biz_no: refund.outRequestNo,
    });
  }
  if (trade.status === 'TRADE_CLOSED' && trade.closedAt) {
    fields.gmt_close = formatBeijing(trade.closedAt);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
