import { RateLimiter } from './rate-limiter';

describe('RateLimiter', () => {
  it('allows a burst, then refuses with the seconds until the next token', () => {
    const limiter = new RateLimiter({ burst: 3, perSecond: 0.5 });
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) expect(limiter.take('1.2.3.4', t0)).toEqual({ allowed: true });
    expect(limiter.take('1.2.3.4', t0)).toEqual({ allowed: false, retryAfterSeconds: 2 });
    expect(limiter.take('1.2.3.4', t0 + 1000)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take('1.2.3.4', t0 + 2000)).toEqual({ allowed: true });
    expect(limiter.take('1.2.3.4', t0 + 2000).allowed).toBe(false);
  });

  it('counts each key apart', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 1 });
    expect(limiter.take('a', 0).allowed).toBe(true);
    expect(limiter.take('a', 0).allowed).toBe(false);
    expect(limiter.take('b', 0).allowed).toBe(true);
  });

  it('never holds more than the burst, however long a key was quiet', () => {
    const limiter = new RateLimiter({ burst: 2, perSecond: 10 });
    limiter.take('a', 0);
    const later = 3_600_000;
    expect(limiter.take('a', later).allowed).toBe(true);
    expect(limiter.take('a', later).allowed).toBe(true);
    expect(limiter.take('a', later).allowed).toBe(false);
  });

  it('keeps at most maxKeys buckets, forgetting full ones first', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 1 }, 3);
    limiter.take('old', 0);
    limiter.take('busy-1', 5000);
    limiter.take('busy-2', 5000);
    // 'old' filled up again long ago; the busy ones are still empty and must be kept.
    limiter.take('new', 5000);
    expect(limiter.size).toBe(3);
    expect(limiter.take('busy-1', 5000).allowed).toBe(false);
    expect(limiter.take('busy-2', 5000).allowed).toBe(false);
  });

  it('drops the oldest when every bucket is still refilling', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 0.001 }, 2);
    limiter.take('a', 0);
    limiter.take('b', 1);
    limiter.take('c', 2);
    expect(limiter.size).toBe(2);
    // 'a' was forgotten: it starts with a full bucket again; 'c' was kept.
    expect(limiter.take('c', 3).allowed).toBe(false);
    expect(limiter.take('a', 3).allowed).toBe(true);
  });
});
