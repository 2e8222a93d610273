/**
 * Delivers notifications the way WeChat Pay APIv3 does (protocols.md C2, C3): a
 * JSON POST to the notify_url with the resource encrypted under the APIv3 key,
 * signed with the platform key in the Wechatpay-* headers (signed afresh on
 * every try, so a retry hours later still passes the 5-minute clock check), and
 * acknowledged only by HTTP 200 or 204. Otherwise it is retried after
 * 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (16 tries, 24 h 4 min),
 * each interval multiplied by the module's timeScale. Source of the schedule:
 * protocols.md C3, quoting TheNorthMemory/wechatpay-openapi docs/v3/webhooks.yaml
 * (the same schedule as the v2 notify doc, B7).
 */
import { Inject, Injectable } from '@nestjs/common';
import { SandboxNotificationDelivery } from '../sandbox-notification.delivery';
import type { WechatSandboxNotifications } from './wechat-sandbox-notifications';
import {
  buildNotificationBody,
  refundResource,
  transactionResource,
} from './wechat-sandbox-notification.builder';
import { newRequestId } from './wechat-sandbox.ids';
import {
  WECHAT_SANDBOX_SETTINGS,
  WechatSandboxCredentials,
  type WechatSandboxSettings,
} from './wechat-sandbox.settings';
import { WechatSandboxCertificates } from './wechat-sandbox-certificates';
import { AUTH_SCHEME, signedHeaders } from './wechat-sandbox.signer';
import { WechatSandboxStore } from './wechat-sandbox.store';
import type {
  NotificationEvent,
  NotificationEventType,
  NotifyMode,
  NotifyTamper,
  SandboxNotification,
  SandboxRefund,
  SandboxTrade,
} from './wechat-sandbox.types';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** Waits between the 16 tries, in real WeChat Pay time. */
export const WECHAT_RETRY_INTERVALS_MS = [
  15 * SECOND,
  15 * SECOND,
  30 * SECOND,
  3 * MINUTE,
  10 * MINUTE,
  20 * MINUTE,
  30 * MINUTE,
  30 * MINUTE,
  30 * MINUTE,
  60 * MINUTE,
  3 * HOUR,
  3 * HOUR,
  3 * HOUR,
  6 * HOUR,
  6 * HOUR,
] as const;

/** WeChat waits 5 s for the merchant's answer (v3 notify docs: "5秒内"). */
const REQUEST_TIMEOUT_MS = 5_000;

export interface NotifyOptions {
  mode?: NotifyMode;
  /** With mode `delay`: wait this long (not scaled) before the first try. */
  delayMs?: number;
  /** Sends a deliberately wrong notification once, without retries. */
  tamper?: NotifyTamper;
  /** Makes it a refund notification (REFUND.SUCCESS / CLOSED / ABNORMAL). */
  refund?: SandboxRefund;
}

@Injectable()
export class WechatSandboxNotifier
  extends SandboxNotificationDelivery<SandboxNotification>
  implements WechatSandboxNotifications
{
  constructor(
    @Inject(WECHAT_SANDBOX_SETTINGS) settings: WechatSandboxSettings,
    private readonly credentials: WechatSandboxCredentials,
    store: WechatSandboxStore,
    private readonly certificates: WechatSandboxCertificates,
  ) {
    super(
      'WechatSandbox',
      WECHAT_RETRY_INTERVALS_MS,
      REQUEST_TIMEOUT_MS,
      settings.timeScale,
      store,
    );
  }

  /**
   * Builds and encrypts the notification (the payment as it was when paid, or
   * the refund's final state), records it on the trade and starts delivering
   * it. Null when there is no notify_url (a refund may have its own).
   */
  notify(
    trade: SandboxTrade,
    event: NotificationEvent,
    options: NotifyOptions = {},
  ): SandboxNotification | null {
    const refund = options.refund;
    const url = refund ? (refund.notifyUrl ?? trade.notifyUrl) : trade.notifyUrl;
    if (!url || this.destroyed) return null;
    const tamper = options.tamper ?? null;
    const eventType: NotificationEventType = refund
      ? (`REFUND.${refund.status}` as NotificationEventType)
      : 'TRANSACTION.SUCCESS';
    const mchId = tamper === 'mchid' ? otherMchId(this.credentials.mchId) : this.credentials.mchId;
    const resource = refund
      ? refundResource(trade, refund, mchId)
      : transactionResource(trade, mchId, true);
    // A validly signed notification that names a wrong amount: only the
    // receiver's business check can catch it.
    if (tamper === 'amount') {
      const amount = resource.amount as Record<string, number>;
      if (refund) amount.refund += 1;
      else Object.assign(amount, { total: amount.total + 1, payer_total: amount.payer_total + 1 });
    }
    const now = new Date();
    const body = buildNotificationBody(eventType, resource, this.credentials.apiV3Key, now);
    const notification: SandboxNotification = {
      id: body.id,
      eventType,
      event,
      outRefundNo: refund?.outRefundNo,
      mode: options.mode ?? 'normal',
      tamper,
      url,
      body: body.text,
      resource,
      createdAt: now,
      acknowledged: false,
      gaveUp: false,
      nextAttemptAt: null,
      attempts: [],
    };
    trade.notifications.push(notification);
    this.deliver(notification, options.delayMs ?? 0, trade);
    return notification;
  }

  /** Signed afresh on every try, so a retry hours later still passes the 5-minute check. */
  protected request(
    n: SandboxNotification,
    at: Date,
  ): { headers: Record<string, string>; body: string } {
    // The key of the moment of sending: a retry after a rotation carries the new serial.
    const key = this.certificates.current();
    const signed = signedHeaders(
      n.body,
      key.privateKey,
      key.serial,
      at,
      n.tamper === 'signature' ? (m) => `${m}tampered` : undefined,
    );
    return {
      headers: {
        ...signed,
        'Wechatpay-Signature-Type': AUTH_SCHEME,
        'Request-ID': newRequestId(),
        'Content-Type': 'application/json',
        'User-Agent': 'Mozilla/4.0',
      },
      body: n.body,
    };
  }

  /** WeChat Pay takes 200 or 204 as received. */
  protected acknowledges(status: number): boolean {
    return status === 200 || status === 204;
  }

  protected describe(n: SandboxNotification): string {
    const outTradeNo = (n.resource.out_trade_no as string | undefined) ?? '?';
    return `notification ${n.id} (${n.eventType}) for out_trade_no ${outTradeNo}`;
  }
}

/** A well-formed merchant id that is not ours. */
function otherMchId(mchId: string): string {
  const last = Number(mchId.slice(-1));
  return `${mchId.slice(0, -1)}${(last + 1) % 10}`;
}
