/**
 * Delivers notifications the way WeChat Pay API v2 does (protocols.md B7, B8):
 * the payment result as signed XML (with the trade's sign type), the refund
 * result as XML whose req_info is AES-256-ECB under md5(API key), both to the
 * notify_url; acknowledged only by an XML answer with return_code SUCCESS,
 * otherwise retried on WeChat's schedule (the same as v3's; B7), scaled by the
 * module's timeScale, through the shared delivery engine.
 */
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { SandboxNotificationDelivery } from '../../sandbox-notification.delivery';
import { WECHAT_RETRY_INTERVALS_MS, type NotifyOptions } from '../wechat-sandbox-notifier.service';
import type { WechatSandboxNotifications } from '../wechat-sandbox-notifications';
import { WECHAT_SANDBOX_SETTINGS, type WechatSandboxSettings } from '../wechat-sandbox.settings';
import { WechatSandboxStore } from '../wechat-sandbox.store';
import { beijingStamp } from '../wechat-sandbox.time';
import {
  TRADE_TYPES,
  type NotificationEvent,
  type NotificationEventType,
  type SandboxNotification,
  type SandboxTrade,
} from '../wechat-sandbox.types';
import {
  WechatV2SandboxCredentials,
  v2RefundStatus,
  v2RefundTime,
} from './wechat-v2-sandbox.credentials';
import { encryptReqInfo, readXml, signFields, writeXml } from './wechat-v2-sandbox.wire';

/** v2 gives the merchant 5 s too (B7 does not say otherwise). */
const REQUEST_TIMEOUT_MS = 5_000;

@Injectable()
export class WechatV2SandboxNotifier
  extends SandboxNotificationDelivery<SandboxNotification>
  implements WechatSandboxNotifications
{
  constructor(
    @Inject(WECHAT_SANDBOX_SETTINGS) settings: WechatSandboxSettings,
    private readonly credentials: WechatV2SandboxCredentials,
    store: WechatSandboxStore,
  ) {
    super(
      'WechatSandboxV2',
      WECHAT_RETRY_INTERVALS_MS,
      REQUEST_TIMEOUT_MS,
      settings.timeScale,
      store,
    );
  }

  notify(
    trade: SandboxTrade,
    event: NotificationEvent,
    options: NotifyOptions = {},
  ): SandboxNotification | null {
    const refund = options.refund;
    const url = refund ? (refund.notifyUrl ?? trade.notifyUrl) : trade.notifyUrl;
    if (!url || this.destroyed) return null;
    const tamper = options.tamper ?? null;
    const { appId, apiKey } = this.credentials;
    const mchId = tamper === 'mchid' ? otherMchId(this.credentials.mchId) : this.credentials.mchId;
    const signType = trade.signType ?? 'MD5';
    let resource: Record<string, string>;
    let body: string;
    let eventType: NotificationEventType;
    if (refund) {
      eventType = `REFUND.${refund.status}` as NotificationEventType;
      resource = {
        transaction_id: trade.transactionId ?? '',
        out_trade_no: trade.outTradeNo,
        refund_id: refund.refundId,
        out_refund_no: refund.outRefundNo,
        total_fee: String(trade.totalFen),
        settlement_total_fee: String(trade.totalFen),
        refund_fee: String(refund.amountFen + (tamper === 'amount' ? 1 : 0)),
        settlement_refund_fee: String(refund.amountFen),
        refund_status: v2RefundStatus(refund.status),
        ...(refund.successAt ? { success_time: v2RefundTime(refund.successAt) } : {}),
        refund_recv_accout: '支付用户零钱',
        refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS',
        refund_request_source: 'API',
      };
      // A forged one: encrypted under a key that is not the merchant's.
      const key = tamper === 'signature' ? `${apiKey.slice(1)}x` : apiKey;
      body = writeXml({
        return_code: 'SUCCESS',
        appid: appId,
        mch_id: mchId,
        nonce_str: randomUUID().replace(/-/g, ''),
        req_info: encryptReqInfo(writeXml(resource, 'root'), key),
      });
    } else {
      eventType = 'TRANSACTION.SUCCESS';
      resource = {
        return_code: 'SUCCESS',
        appid: appId,
        mch_id: mchId,
        nonce_str: randomUUID().replace(/-/g, ''),
        result_code: 'SUCCESS',
        openid: trade.payerOpenid ?? '',
        is_subscribe: 'N',
        trade_type: TRADE_TYPES[trade.product],
        bank_type: 'OTHERS',
        total_fee: String(trade.totalFen + (tamper === 'amount' ? 1 : 0)),
        fee_type: 'CNY',
        cash_fee: String(trade.totalFen),
        transaction_id: trade.transactionId ?? '',
        out_trade_no: trade.outTradeNo,
        ...(trade.attach !== undefined ? { attach: trade.attach } : {}),
        time_end: beijingStamp(trade.paidAt ?? new Date()),
        ...(signType === 'HMAC-SHA256' ? { sign_type: signType } : {}),
      };
      const sign = signFields(resource, apiKey, signType);
      body = writeXml({ ...resource, sign: tamper === 'signature' ? flip(sign) : sign });
    }
    const notification: SandboxNotification = {
      id: randomUUID(),
      eventType,
      event,
      outRefundNo: refund?.outRefundNo,
      mode: options.mode ?? 'normal',
      tamper,
      url,
      body,
      resource,
      createdAt: new Date(),
      acknowledged: false,
      gaveUp: false,
      nextAttemptAt: null,
      attempts: [],
    };
    trade.notifications.push(notification);
    this.deliver(notification, options.delayMs ?? 0, trade);
    return notification;
  }

  /** The same bytes on every try: a v2 notification carries no timestamp to refresh. */
  protected request(n: SandboxNotification): { headers: Record<string, string>; body: string } {
    return {
      headers: { 'Content-Type': 'text/xml; charset=utf-8', 'User-Agent': 'Mozilla/4.0' },
      body: n.body,
    };
  }

  /** Only `<xml><return_code>SUCCESS</return_code>…` counts; a plain `success` does not (B7). */
  protected acknowledges(status: number, body: string): boolean {
    return status === 200 && readXml(body)?.return_code === 'SUCCESS';
  }

  protected describe(n: SandboxNotification): string {
    return `v2 notification ${n.id} (${n.eventType}) for out_trade_no ${n.resource.out_trade_no as string}`;
  }
}

function flip(sign: string): string {
  return `${sign.slice(0, -1)}${sign.endsWith('0') ? '1' : '0'}`;
}

function otherMchId(mchId: string): string {
  const last = Number(mchId.slice(-1));
  return `${mchId.slice(0, -1)}${(last + 1) % 10}`;
}
