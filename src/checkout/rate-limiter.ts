/**
 * A token bucket per key (the caller's address), in this process's memory. Each
 * key may spend `burst` requests at once, and regains `perSecond` of them every
 * second. Behind several instances each instance counts for itself: the limits
 * stop one client from hammering a page, they are not a quota.
 */
export interface RateLimit {
  burst: number;
  perSecond: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    /** Buckets kept at most; beyond it full buckets are forgotten first, then the oldest. */
    private readonly maxKeys = 10_000,
  ) {}

  take(key: string, now = Date.now()): RateDecision {
    const bucket = this.refilled(key, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.perSecond)),
    };
  }

  /** How many keys are tracked (for tests). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + elapsed * this.limit.perSecond);
    bucket.at = now;
    return bucket;
  }

  /** Forgets the buckets that have filled up again (they hold no information), or else the oldest. */
  private evict(now: number): void {
    const fullAfterMs = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.at >= fullAfterMs) this.buckets.delete(key);
    }
    if (this.buckets.size < this.maxKeys) return;
    // A Map iterates in insertion order: the first keys are the oldest.
    const excess = this.buckets.size - this.maxKeys + 1;
    let dropped = 0;
    for (const key of this.buckets.keys()) {
      if (dropped++ >= excess) break;
      this.buckets.delete(key);
    }
  }
}
