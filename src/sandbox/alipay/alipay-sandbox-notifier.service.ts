/**
 * Delivers trade notifications the way Alipay does (protocols.md A9): a signed
 * form POST to the trade's notify_url, acknowledged only by the exact body
 * `success`, otherwise retried after 4m, 10m, 10m, 1h, 2h, 6h and 15h (8 tries),
 * each interval multiplied by the module's timeScale.
 */
import { Inject, Injectable } from '@nestjs/common';
import { SandboxNotificationDelivery } from '../sandbox-notification.delivery';
import { fenToYuan } from '../../common/money/money';
import { buildNotificationFields } from './alipay-sandbox-notification.builder';
import {
  ALIPAY_SANDBOX_SETTINGS,
  AlipaySandboxCredentials,
  type AlipaySandboxSettings,
} from './alipay-sandbox.settings';
import { alipaySignContent, NOTIFY_SIGN_EXCLUDES, rsa2Sign } from './alipay-sandbox.signer';
import { AlipaySandboxStore } from './alipay-sandbox.store';
import type {
  NotificationEvent,
  NotifyMode,
  NotifyTamper,
  SandboxNotification,
  SandboxRefund,
  SandboxTrade,
} from './alipay-sandbox.types';

const MINUTE = 60_000;
/** Waits between the 8 tries, in real Alipay time. */
export const ALIPAY_RETRY_INTERVALS_MS = [
  4 * MINUTE,
  10 * MINUTE,
  10 * MINUTE,
  60 * MINUTE,
  120 * MINUTE,
  360 * MINUTE,
  900 * MINUTE,
] as const;

const REQUEST_TIMEOUT_MS = 15_000;

export interface NotifyOptions {
  mode?: NotifyMode;
  /** With mode `delay`: wait this long (not scaled) before the first try. */
  delayMs?: number;
  /** Sends a deliberately wrong notification once, without retries. */
  tamper?: NotifyTamper;
  /** Makes it a refund notification (refund_fee, gmt_refund, out_biz_no). */
  refund?: SandboxRefund;
}

@Injectable()
export class AlipaySandboxNotifier extends SandboxNotificationDelivery<SandboxNotification> {
  constructor(
    @Inject(ALIPAY_SANDBOX_SETTINGS) settings: AlipaySandboxSettings,
    private readonly credentials: AlipaySandboxCredentials,
    store: AlipaySandboxStore,
  ) {
    super(
      'AlipaySandbox',
      ALIPAY_RETRY_INTERVALS_MS,
      REQUEST_TIMEOUT_MS,
      settings.timeScale,
      store,
    );
  }

  /**
   * Builds and signs the notification for the trade's current state, records it
   * on the trade and starts delivering it. Null when the trade has no notify_url.
   */
  notify(
    trade: SandboxTrade,
    event: NotificationEvent,
    options: NotifyOptions = {},
  ): SandboxNotification | null {
    if (!trade.notifyUrl || this.destroyed) return null;
    const tamper = options.tamper ?? null;
    const identity = {
      appId: tamper === 'app_id' ? otherAppId(this.credentials.appId) : this.credentials.appId,
      sellerId: this.credentials.sellerId,
    };
    const fields = buildNotificationFields(trade, identity, options.refund, new Date());
    // A validly signed notification that names a wrong amount: only the
    // receiver's business check can catch it.
    if (tamper === 'amount') fields.total_amount = fenToYuan(trade.totalFen + 1);
    const content = alipaySignContent(fields, NOTIFY_SIGN_EXCLUDES);
    fields.sign = rsa2Sign(
      tamper === 'signature' ? `${content}&tampered=true` : content,
      this.credentials.gatewayPrivateKey,
    );
    const notification: SandboxNotification = {
      notifyId: fields.notify_id,
      event,
      tradeStatus: trade.status,
      mode: options.mode ?? 'normal',
      tamper,
      url: trade.notifyUrl,
      fields,
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

  protected request(n: SandboxNotification): { headers: Record<string, string>; body: string } {
    return {
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams(n.fields).toString(),
    };
  }

  /** Alipay wants exactly `success` (protocols.md A9). */
  protected acknowledges(status: number, body: string): boolean {
    return status >= 200 && status < 300 && body === 'success';
  }

  protected describe(n: SandboxNotification): string {
    return `notification ${n.notifyId} (${n.tradeStatus}) for out_trade_no ${n.fields.out_trade_no}`;
  }
}

/** A well-formed app id that is not ours. */
function otherAppId(appId: string): string {
  const last = Number(appId.slice(-1));
  return `${appId.slice(0, -1)}${(last + 1) % 10}`;
}
