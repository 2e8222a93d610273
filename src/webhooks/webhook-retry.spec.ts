import { loadWebhooksConfig } from '../config/webhooks.config';
import { maxAttempts, nextAttemptAfterFailure } from './webhook-retry';

const NOW = new Date('2025-01-01T00:00:00.000Z');
const { retrySchedule } = loadWebhooksConfig({});
const after = (attempts: number, scale = 1): number | null => {
  const next = nextAttemptAfterFailure(attempts, retrySchedule, scale, NOW);
  return next === null ? null : (next.getTime() - NOW.getTime()) / 1000;
};

describe('nextAttemptAfterFailure', () => {
  it('follows the default schedule: 15 s, 1 m, 5 m, 15 m, 1 h, 3 h, 6 h, 12 h', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => after(n))).toEqual([
      15, 60, 300, 900, 3600, 10_800, 21_600, 43_200,
    ]);
  });

  it('gives up after the ninth attempt, about a day after the first', () => {
    expect(after(9)).toBeNull();
    expect(after(10)).toBeNull();
    expect(maxAttempts(retrySchedule)).toBe(9);
    const total = retrySchedule.reduce((sum, s) => sum + s, 0);
    expect(total / 3600).toBeGreaterThan(22);
    expect(total / 3600).toBeLessThanOrEqual(24);
  });

  it('scales every delay (tests compress the day)', () => {
    expect(after(1, 0.001)).toBe(0.015);
    expect(after(8, 0.001)).toBe(43.2);
    expect(after(3, 0)).toBe(0);
  });

  it('follows a custom schedule, failing once it is used up', () => {
    expect(nextAttemptAfterFailure(1, [2], 1, NOW)?.toISOString()).toBe('2025-01-01T00:00:02.000Z');
    expect(nextAttemptAfterFailure(2, [2], 1, NOW)).toBeNull();
    expect(nextAttemptAfterFailure(1, [], 1, NOW)).toBeNull();
  });

  it('refuses a count that is not a positive integer', () => {
    expect(() => nextAttemptAfterFailure(0, retrySchedule, 1, NOW)).toThrow(RangeError);
    expect(() => nextAttemptAfterFailure(1.5, retrySchedule, 1, NOW)).toThrow(RangeError);
  });
});
