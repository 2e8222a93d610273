import { WebhookDispatcher, destinationOf } from './webhook-dispatcher';

const limits = {
  maxInFlight: 3,
  perDestination: 2,
  failuresBeforePause: 3,
  pauseMs: 1000,
  maxPauseMs: 4000,
};

/** Resolves to whether `promise` settled within the current turn of microtasks. */
async function settledNow<T>(promise: Promise<T>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
}

describe('WebhookDispatcher', () => {
  it('keeps at most perDestination in flight to one origin and maxInFlight in all', async () => {
    const d = new WebhookDispatcher(limits);
    expect(await d.acquire('http://a')).toBe(true);
    expect(await d.acquire('http://a')).toBe(true);
    const thirdA = d.acquire('http://a');
    expect(await settledNow(thirdA)).toBe(false);
    // The slow origin holds two slots; another origin still gets the third.
    expect(await d.acquire('http://b')).toBe(true);
    const c = d.acquire('http://c');
    expect(await settledNow(c)).toBe(false);
    expect(d.inFlight).toBe(3);
    expect(d.backlog()).toBe(1); // c waits for an instance slot; a's third waits for a's own

    d.release('http://b');
    expect(await c).toBe(true); // not a: a is still at its cap
    expect(await settledNow(thirdA)).toBe(false);
    d.release('http://a');
    expect(await thirdA).toBe(true);
    expect(d.inFlight).toBe(3);
  });

  it('pauses an origin after consecutive failures, for a doubling pause, and a success ends it', () => {
    const d = new WebhookDispatcher(limits);
    const t0 = new Date('2030-01-01T00:00:00Z');
    const at = (ms: number) => new Date(t0.getTime() + ms);
    d.report('http://a', true, t0);
    d.report('http://a', true, t0);
    expect(d.isPaused('http://a', t0)).toBe(false);
    d.report('http://a', true, t0);
    expect(d.isPaused('http://a', at(999))).toBe(true);
    expect(d.isPaused('http://a', at(1000))).toBe(false);
    expect(d.isPaused('http://b', t0)).toBe(false);
    expect(d.pausedDestinations(t0)).toEqual(['http://a']);

    d.report('http://a', true, at(1000));
    expect(d.isPaused('http://a', at(2999))).toBe(true);
    expect(d.isPaused('http://a', at(3000))).toBe(false);
    for (let i = 0; i < 5; i++) d.report('http://a', true, at(3000));
    expect(d.isPaused('http://a', at(6999))).toBe(true); // capped at maxPauseMs
    expect(d.isPaused('http://a', at(7000))).toBe(false);

    d.report('http://a', false, at(7000));
    expect(d.isPaused('http://a', at(7000))).toBe(false);
    d.report('http://a', true, at(7000));
    expect(d.isPaused('http://a', at(7000))).toBe(false); // the count started again
  });

  it('after a pause, an origin gets one POST at a time until one gets through', async () => {
    const d = new WebhookDispatcher(limits);
    const now = new Date();
    for (let i = 0; i < 3; i++) d.report('http://a', true, now);
    expect(await d.acquire('http://a')).toBe(true);
    const second = d.acquire('http://a');
    expect(await settledNow(second)).toBe(false);
    d.report('http://a', false, now);
    expect(await second).toBe(true);
  });

  it('lets sends waiting under an aborted signal go without a slot', async () => {
    const d = new WebhookDispatcher(limits);
    await d.acquire('http://a');
    await d.acquire('http://a');
    const stop = new AbortController();
    const waiting = d.acquire('http://a', stop.signal);
    const other = d.acquire('http://a');
    stop.abort();
    d.cancel(stop.signal);
    expect(await waiting).toBe(false);
    expect(await settledNow(other)).toBe(false);
    expect(await d.acquire('http://b', stop.signal)).toBe(false);
    d.release('http://a');
    expect(await other).toBe(true);
  });

  it('counts rows held per origin', () => {
    const d = new WebhookDispatcher(limits);
    d.hold('http://a');
    d.hold('http://a');
    expect(d.held('http://a')).toBe(2);
    d.unhold('http://a');
    expect(d.held('http://a')).toBe(1);
    expect(d.held('http://b')).toBe(0);
  });

  it('names destinations by origin', () => {
    expect(destinationOf('https://Shop.example.com:443/hooks?token=x')).toBe(
      'https://shop.example.com',
    );
    expect(destinationOf('http://127.0.0.1:8080/a')).toBe('http://127.0.0.1:8080');
    expect(destinationOf('not a url')).toBe('(invalid URL)');
  });
});
