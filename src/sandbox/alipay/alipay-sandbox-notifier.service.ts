/**
 * Delivers trade notifications the way Alipay does (protocols.md A9): a signed
 * form POST to the trade's notify_url, acknowledged only by the exact body
 * `success`, otherwise retried after 4m, 10m, 10m, 1h, 2h, 6h and 15h (8 tries),
 * each interval multiplied by the module's timeScale.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { redactText } from '../../common/logging/redact';
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
const KEPT_BODY_CHARS = 1000;

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
export class AlipaySandboxNotifier implements OnModuleDestroy {
  private readonly logger = new Logger('AlipaySandbox');
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<AbortController>();
  private destroyed = false;

  constructor(
    @Inject(ALIPAY_SANDBOX_SETTINGS) private readonly settings: AlipaySandboxSettings,
    private readonly credentials: AlipaySandboxCredentials,
    private readonly store: AlipaySandboxStore,
  ) {}

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
      () => this.round(n, Math.min(tries, ALIPAY_RETRY_INTERVALS_MS.length), retries),
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
    // `duplicate`: the first try goes out twice at once, as when Alipay's own
    // retry overtakes a slow answer.
    const copies = n.mode === 'duplicate' && index === 0 ? 2 : 1;
    const results = await Promise.all(Array.from({ length: copies }, () => this.post(n)));
    this.store.changed();
    if (results.some(Boolean)) {
      n.acknowledged = true;
      return;
    }
    const last = n.attempts[n.attempts.length - 1];
    const answered = last?.error ?? `HTTP ${last?.httpStatus} ${JSON.stringify(last?.body)}`;
    // Shutting down: not given up, the next run resumes it (AlipaySandboxStore).
    if (this.destroyed) return;
    const interval = retries ? ALIPAY_RETRY_INTERVALS_MS[index] : undefined;
    if (interval === undefined) {
      n.gaveUp = true;
      this.store.changed();
      this.warn(n, `try ${index + 1} not acknowledged (${answered}); giving up`);
      return;
    }
    const delay = Math.round(interval * this.settings.timeScale);
    n.nextAttemptAt = new Date(Date.now() + delay);
    this.store.changed();
    this.warn(n, `try ${index + 1} not acknowledged (${answered}); next try in ${delay} ms`);
    this.schedule(() => this.round(n, index + 1, retries), delay);
  }

  /** One POST; true when the answer is exactly `success`. Never throws. */
  private async post(n: SandboxNotification): Promise<boolean> {
    const controller = new AbortController();
    this.inflight.add(controller);
    const timeout = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    timeout.unref();
    const at = new Date();
    try {
      const res = await fetch(n.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: new URLSearchParams(n.fields).toString(),
        redirect: 'manual',
        signal: controller.signal,
      });
      const body = await res.text();
      const acknowledged = res.status >= 200 && res.status < 300 && body === 'success';
      n.attempts.push({
        at,
        httpStatus: res.status,
        body: body.slice(0, KEPT_BODY_CHARS),
        error: null,
        acknowledged,
      });
      return acknowledged;
    } catch (err) {
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
    this.logger.warn(
      redactText(
        `notification ${n.notifyId} (${n.tradeStatus}) for out_trade_no ${n.fields.out_trade_no} to ${n.url}: ${text}`,
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

/** A well-formed app id that is not ours. */
function otherAppId(appId: string): string {
  const last = Number(appId.slice(-1));
  return `${appId.slice(0, -1)}${(last + 1) % 10}`;
}
