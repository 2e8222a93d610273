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
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { redactText } from '../../common/logging/redact';
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
const KEPT_BODY_CHARS = 1000;

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
export class WechatSandboxNotifier implements OnModuleDestroy {
  private readonly logger = new Logger('WechatSandbox');
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<AbortController>();
  private destroyed = false;

  constructor(
    @Inject(WECHAT_SANDBOX_SETTINGS) private readonly settings: WechatSandboxSettings,
    private readonly credentials: WechatSandboxCredentials,
    private readonly store: WechatSandboxStore,
  ) {}

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
    this.store.changed();
    this.start(notification, tamper === null, options.delayMs ?? 0);
    return notification;
  }

  /**
   * Carries on delivering a notification an earlier run left unacknowledged:
   * the next try when it was due (at once if that time has passed).
   */
  resume(n: SandboxNotification): void {
    if (this.destroyed || n.acknowledged || n.gaveUp || n.mode === 'drop') return;
    const retries = n.tamper === null;
    const tries = n.mode === 'duplicate' ? Math.max(0, n.attempts.length - 1) : n.attempts.length;
    const wait = n.nextAttemptAt ? Math.max(0, n.nextAttemptAt.getTime() - Date.now()) : 0;
    this.schedule(
      () => this.round(n, Math.min(tries, WECHAT_RETRY_INTERVALS_MS.length), retries),
      wait,
    );
  }

  onModuleDestroy(): void {
    this.destroyed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inflight) c.abort();
    this.inflight.clear();
  }

  private start(n: SandboxNotification, retries: boolean, delayMs: number): void {
    switch (n.mode) {
      case 'drop':
        return;
      case 'delay':
        n.nextAttemptAt = new Date(Date.now() + delayMs);
        this.schedule(() => this.round(n, 0, retries), delayMs);
        return;
      default:
        this.schedule(() => this.round(n, 0, retries), 0);
    }
  }

  private async round(n: SandboxNotification, index: number, retries: boolean): Promise<void> {
    if (this.destroyed) return;
    n.nextAttemptAt = null;
    // `duplicate`: the first try goes out twice at once, as when WeChat's own
    // retry overtakes a slow answer.
    const copies = n.mode === 'duplicate' && index === 0 ? 2 : 1;
    const results = await Promise.all(Array.from({ length: copies }, () => this.post(n)));
    this.store.changed();
    if (results.some(Boolean)) {
      n.acknowledged = true;
      return;
    }
    // Shutting down: not given up, the next run resumes it (WechatSandboxStore).
    if (this.destroyed) return;
    const last = n.attempts[n.attempts.length - 1];
    const answered = last?.error ?? `HTTP ${last?.httpStatus} ${JSON.stringify(last?.body)}`;
    const interval = retries ? WECHAT_RETRY_INTERVALS_MS[index] : undefined;
    if (interval === undefined) {
      n.gaveUp = true;
      this.warn(n, `try ${index + 1} not acknowledged (${answered}); giving up`);
      return;
    }
    const delay = Math.round(interval * this.settings.timeScale);
    n.nextAttemptAt = new Date(Date.now() + delay);
    this.warn(n, `try ${index + 1} not acknowledged (${answered}); next try in ${delay} ms`);
    this.schedule(() => this.round(n, index + 1, retries), delay);
  }

  /** One POST; true when the answer is 200 or 204. Never throws. */
  private async post(n: SandboxNotification): Promise<boolean> {
    const controller = new AbortController();
    this.inflight.add(controller);
    const timeout = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    timeout.unref();
    const at = new Date();
    const headers = signedHeaders(
      n.body,
      this.credentials.platformPrivateKey,
      this.credentials.platformPublicKeyId,
      at,
      n.tamper === 'signature' ? (m) => `${m}tampered` : undefined,
    );
    try {
      const res = await fetch(n.url, {
        method: 'POST',
        headers: {
          ...headers,
          'Wechatpay-Signature-Type': AUTH_SCHEME,
          'Request-ID': newRequestId(),
          'Content-Type': 'application/json',
          'User-Agent': 'Mozilla/4.0',
        },
        body: n.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      const body = await res.text();
      const acknowledged = res.status === 200 || res.status === 204;
      n.attempts.push({
        at,
        httpStatus: res.status,
        body: body.slice(0, KEPT_BODY_CHARS),
        error: null,
        acknowledged,
      });
      return acknowledged;
    } catch (err) {
      // Aborted by shutdown: not a try; the next run makes it again.
      if (this.destroyed) return false;
      const error = err instanceof Error ? (describeCause(err) ?? err.message) : String(err);
      n.attempts.push({ at, httpStatus: null, body: null, error, acknowledged: false });
      return false;
    } finally {
      clearTimeout(timeout);
      this.inflight.delete(controller);
    }
  }

  private schedule(run: () => Promise<void>, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run().catch((err: unknown) =>
        this.logger.error(redactText(`notification delivery crashed: ${String(err)}`)),
      );
    }, delayMs);
    this.timers.add(timer);
  }

  private warn(n: SandboxNotification, text: string): void {
    const outTradeNo = (n.resource.out_trade_no as string | undefined) ?? '?';
    this.logger.warn(
      redactText(
        `notification ${n.id} (${n.eventType}) for out_trade_no ${outTradeNo} to ${n.url}: ${text}`,
      ),
    );
  }
}

/** fetch reports "fetch failed"; the useful part (ECONNREFUSED…) is the cause. */
function describeCause(err: Error): string | undefined {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return `${err.message}: ${cause.message}`;
  return undefined;
}

/** A well-formed merchant id that is not ours. */
function otherMchId(mchId: string): string {
  const last = Number(mchId.slice(-1));
  return `${mchId.slice(0, -1)}${(last + 1) % 10}`;
}
