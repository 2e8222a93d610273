/**
 * When a failed delivery is tried again. `attempts` counts every attempt made
 * so far, the one that just failed included: after the first failure the
 * delivery waits schedule[0] seconds, after the n-th schedule[n-1]; once the
 * schedule is used up the delivery has failed for good (null).
 *
 * The default schedule (15 s, 1 m, 5 m, 15 m, 1 h, 3 h, 6 h, 12 h) makes nine
 * attempts spread over about 22 hours. `scale` compresses it in tests.
 */
export function nextAttemptAfterFailure(
  attempts: number,
  schedule: readonly number[],
  scale: number,
  now: Date,
): Date | null {
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
  }
  const delaySeconds = schedule[attempts - 1];
  if (delaySeconds === undefined) return null;
  return new Date(now.getTime() + Math.round(delaySeconds * scale * 1000));
}

/** Attempts a delivery gets before it is marked failed: the first plus one per retry. */
export function maxAttempts(schedule: readonly number[]): number {
  return schedule.length + 1;
}
