import { registerAs } from '@nestjs/config';
import { ConfigError, EnvReader } from './env';

export interface WebhooksConfig {
  /** Used when an order has no notifyUrl of its own. */
  defaultUrl?: string;
  timeoutMs: number;
  /** Seconds to wait before each retry; after the last one the delivery is failed. */
  retrySchedule: number[];
  /** Multiplies the schedule; tests compress a day into milliseconds. */
  retryScale: number;
}

const DEFAULT_SCHEDULE = [15, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600];

export function loadWebhooksConfig(env: Record<string, string | undefined>): WebhooksConfig {
  const e = new EnvReader(env);
  const scheduleRaw = e.raw('WEBHOOK_RETRY_SCHEDULE');
  let retrySchedule = DEFAULT_SCHEDULE;
  if (scheduleRaw !== undefined) {
    retrySchedule = scheduleRaw.split(',').map((s) => Number(s.trim()));
    if (retrySchedule.some((n) => !Number.isFinite(n) || n < 0) || retrySchedule.length > 30) {
      throw new ConfigError(
        'WEBHOOK_RETRY_SCHEDULE',
        'must be up to 30 comma-separated non-negative numbers of seconds',
      );
    }
  }
  return {
    defaultUrl: e.httpUrl('MERCHANT_WEBHOOK_URL'),
    timeoutMs: e.int('WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    retrySchedule,
    retryScale: e.number('WEBHOOK_RETRY_SCALE', 1, 0, 1000),
  };
}

export const webhooksConfig = registerAs('webhooks', () => loadWebhooksConfig(process.env));
