/**
 * How a simulated channel delivers its notifications, whatever their format:
 * POST to the notify URL; `normal`, `duplicate` (the first try twice at once),
 * `delay` (the first try later) or `drop`; every try recorded as an attempt;
 * retried on the channel's schedule (scaled by the sandbox's timeScale) until
 * acknowledged; resumed after a restart; stopped at shutdown without being
 * given up. Each channel's notifier supplies the request, what counts as an
 * acknowledgement and its retry schedule.
 */
import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { redactText } from '../common/logging/redact';
import type { SandboxBookStore } from './sandbox-book.store';

export type DeliveryMode = 'normal' | 'duplicate' | 'drop' | 'delay';

export interface DeliveryAttempt {
  at: Date;
  /** null when the request did not get an answer (connection refused, timeout). */
  httpStatus: number | null;
  /** The answer's body, cut to 1000 characters. */
  body: string | null;
  error: string | null;
  acknowledged: boolean;
}

/** What delivery reads and writes on a channel's notification record. */
export interface DeliveredNotification {
  mode: DeliveryMode;
  /** Tampered notifications go out once, without retries. */
  tamper: string | null;
  url: string;
  acknowledged: boolean;
  gaveUp: boolean;
  nextAttemptAt: Date | null;
  attempts: DeliveryAttempt[];
}

const KEPT_BODY_CHARS = 1000;

export abstract class SandboxNotificationDelivery<
  N extends DeliveredNotification,
> implements OnModuleDestroy {
  protected readonly logger: Logger;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<AbortController>();
  /** The trade each notification sits on, so that a try's record is written with it. */
  private readonly trades = new WeakMap<N, object>();
  protected destroyed = false;

  protected constructor(
    loggerContext: string,
    /** Waits between tries, in the channel's real time. */
    private readonly intervalsMs: readonly number[],
    /** How long the channel waits for the merchant's answer. */
    private readonly requestTimeoutMs: number,
    private readonly timeScale: number,
    private readonly store: SandboxBookStore<object>,
  ) {
    this.logger = new Logger(loggerContext);
  }

  /** The request of one try (signed afresh each time where the channel does so). */
  protected abstract request(n: N, at: Date): { headers: Record<string, string>; body: string };
  /** Whether the merchant's answer acknowledges the notification. */
  protected abstract acknowledges(status: number, body: string): boolean;
  /** The notification, for log lines. */
  protected abstract describe(n: N): string;

  /** Starts delivering a notification just recorded on its trade. */
  protected deliver(n: N, delayMs: number, trade: object): void {
    this.trades.set(n, trade);
    this.store.changed(trade);
    const retries = n.tamper === null;
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

  /**
   * Carries on delivering a notification an earlier run left unacknowledged:
   * the next try when it was due (at once if that time has passed).
   */
  resume(n: N, trade: object): void {
    this.trades.set(n, trade);
    if (this.destroyed || n.acknowledged || n.gaveUp || n.mode === 'drop') return;
    const tries = n.mode === 'duplicate' ? Math.max(0, n.attempts.length - 1) : n.attempts.length;
    const wait = n.nextAttemptAt ? Math.max(0, n.nextAttemptAt.getTime() - Date.now()) : 0;
    this.schedule(
      () => this.round(n, Math.min(tries, this.intervalsMs.length), n.tamper === null),
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

  private async round(n: N, index: number, retries: boolean): Promise<void> {
    if (this.destroyed) return;
    n.nextAttemptAt = null;
    // `duplicate`: the first try goes out twice at once, as when the channel's own
    // retry overtakes a slow answer.
    const copies = n.mode === 'duplicate' && index === 0 ? 2 : 1;
    const results = await Promise.all(Array.from({ length: copies }, () => this.post(n)));
    this.store.changed(this.trades.get(n));
    if (results.some(Boolean)) {
      n.acknowledged = true;
      return;
    }
    // Shutting down: not given up, the next run resumes it (SandboxBookStore).
    if (this.destroyed) return;
    const last = n.attempts[n.attempts.length - 1];
    const answered = last?.error ?? `HTTP ${last?.httpStatus} ${JSON.stringify(last?.body)}`;
    const interval = retries ? this.intervalsMs[index] : undefined;
    if (interval === undefined) {
      n.gaveUp = true;
      this.warn(n, `try ${index + 1} not acknowledged (${answered}); giving up`);
      return;
    }
    const delay = Math.round(interval * this.timeScale);
    n.nextAttemptAt = new Date(Date.now() + delay);
    this.warn(n, `try ${index + 1} not acknowledged (${answered}); next try in ${delay} ms`);
    this.schedule(() => this.round(n, index + 1, retries), delay);
  }

  /** One POST; true when the answer acknowledges it. Never throws. */
  private async post(n: N): Promise<boolean> {
    const controller = new AbortController();
    this.inflight.add(controller);
    const timeout = setTimeout(() => controller.abort(), this.requestTimeoutMs);
    timeout.unref();
    const at = new Date();
    try {
      const { headers, body } = this.request(n, at);
      const res = await fetch(n.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: controller.signal,
      });
      const text = await res.text();
      const acknowledged = this.acknowledges(res.status, text);
      n.attempts.push({
        at,
        httpStatus: res.status,
        body: text.slice(0, KEPT_BODY_CHARS),
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

  private warn(n: N, text: string): void {
    this.logger.warn(redactText(`${this.describe(n)} to ${n.url}: ${text}`));
  }
}

/** fetch reports "fetch failed"; the useful part (ECONNREFUSED…) is the cause. */
function describeCause(err: Error): string | undefined {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return `${err.message}: ${cause.message}`;
  return undefined;
}
