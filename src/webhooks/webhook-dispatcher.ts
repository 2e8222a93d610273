/** A promise that the next `fire()` resolves; waiters re-check their condition after each. */
export class Signal {
  private resolveNext!: () => void;
  private nextPromise = this.renew();

  next(): Promise<void> {
    return this.nextPromise;
  }

  fire(): void {
    const resolve = this.resolveNext;
    this.nextPromise = this.renew();
    resolve();
  }

  private renew(): Promise<void> {
    return new Promise<void>((resolve) => (this.resolveNext = resolve));
  }
}

export interface DispatcherLimits {
  /** POSTs in flight at once on this instance. */
  maxInFlight: number;
  /** POSTs in flight at once to one destination (origin). */
  perDestination: number;
  /** Consecutive failures of a destination before it is paused. */
  failuresBeforePause: number;
  /** The first pause; each further failure doubles it, up to `maxPauseMs`. */
  pauseMs: number;
  maxPauseMs: number;
}

interface Waiter {
  go(started: boolean): void;
  signal?: AbortSignal;
}

interface Destination {
  /** Rows claimed for this destination and not finished yet (waiting or in flight). */
  held: number;
  inFlight: number;
  waiting: Waiter[];
  /** Consecutive failures: no answer, 5xx or 429. */
  failures: number;
  /** Epoch ms on the clock of the run that saw the failure; 0 when not paused. */
  pausedUntil: number;
}

/**
 * Who may POST now, per instance and in memory. At most `maxInFlight` POSTs at
 * once, at most `perDestination` of them to one origin, so a slow or dead
 * merchant endpoint ties up its own slots and nobody else's; waiting sends
 * start round-robin over destinations, and connections are reused (fetch keeps
 * them alive per origin).
 *
 * It also keeps each destination's health: after `failuresBeforePause`
 * consecutive failures its due rows are left alone (not claimed) for a pause
 * that doubles with every further failure, then it gets one POST at a time
 * until one succeeds. Each row's own retry schedule is untouched: a paused row
 * is simply not attempted yet. Nothing here is shared between instances; it is
 * an economy, never the safety (claims are).
 */
export class WebhookDispatcher {
  private readonly destinations = new Map<string, Destination>();
  private inFlightTotal = 0;
  private cursor = 0;
  /** Fired whenever a send ends or a held row is let go: room may have appeared. */
  readonly progress = new Signal();

  constructor(private readonly limits: DispatcherLimits) {}

  get inFlight(): number {
    return this.inFlightTotal;
  }

  held(destination: string): number {
    return this.destinations.get(destination)?.held ?? 0;
  }

  /** Counts a claimed row against its destination until `unhold`. */
  hold(destination: string): void {
    this.state(destination).held += 1;
  }

  unhold(destination: string): void {
    const d = this.destinations.get(destination);
    if (d && d.held > 0) d.held -= 1;
    this.forgetIfIdle(destination);
    this.progress.fire();
  }

  isPaused(destination: string, now: Date): boolean {
    const d = this.destinations.get(destination);
    return d !== undefined && now.getTime() < d.pausedUntil;
  }

  pausedDestinations(now: Date): string[] {
    const paused: string[] = [];
    for (const [key, d] of this.destinations) if (now.getTime() < d.pausedUntil) paused.push(key);
    return paused;
  }

  /**
   * Waits for a slot for one POST to `destination`. False when `signal` was
   * aborted before (or, through `cancel`, while) it waited: nothing to release
   * then. Every true must be followed by `release`.
   */
  acquire(destination: string, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    const d = this.state(destination);
    if (this.inFlightTotal < this.limits.maxInFlight && d.inFlight < this.capOf(d)) {
      this.start(d);
      return Promise.resolve(true);
    }
    return new Promise<boolean>((go) => d.waiting.push({ go, signal }));
  }

  /** Lets every send still waiting under `signal` go without a slot (shutdown). */
  cancel(signal: AbortSignal): void {
    for (const d of this.destinations.values()) {
      const leaving = d.waiting.filter((w) => w.signal === signal);
      if (leaving.length === 0) continue;
      d.waiting = d.waiting.filter((w) => w.signal !== signal);
      for (const w of leaving) w.go(false);
    }
    this.progress.fire();
  }

  release(destination: string): void {
    const d = this.destinations.get(destination);
    if (!d) return;
    d.inFlight -= 1;
    this.inFlightTotal -= 1;
    this.pump();
    this.progress.fire();
  }

  /** What a POST to `destination` came to: `trouble` for no answer, a 5xx or a 429. */
  report(destination: string, trouble: boolean, now: Date): void {
    const d = this.state(destination);
    if (!trouble) {
      const wasLimited = d.failures >= this.limits.failuresBeforePause;
      d.failures = 0;
      d.pausedUntil = 0;
      if (wasLimited) this.pump();
      this.forgetIfIdle(destination);
      return;
    }
    d.failures += 1;
    const beyond = d.failures - this.limits.failuresBeforePause;
    if (beyond >= 0) {
      const pause = Math.min(
        this.limits.maxPauseMs,
        this.limits.pauseMs * 2 ** Math.min(beyond, 30),
      );
      d.pausedUntil = Math.max(d.pausedUntil, now.getTime() + pause);
    }
  }

  /** Sends waiting only for a free slot on the instance (their destination has room). */
  backlog(): number {
    let waiting = 0;
    for (const d of this.destinations.values()) {
      waiting += Math.min(d.waiting.length, Math.max(0, this.capOf(d) - d.inFlight));
    }
    return waiting;
  }

  private capOf(d: Destination): number {
    // On probation after a pause: one POST at a time until one gets through.
    return d.failures >= this.limits.failuresBeforePause ? 1 : this.limits.perDestination;
  }

  private start(d: Destination): void {
    d.inFlight += 1;
    this.inFlightTotal += 1;
  }

  /** Starts waiting sends while there are slots, taking destinations in turn. */
  private pump(): void {
    while (this.inFlightTotal < this.limits.maxInFlight) {
      const keys = [...this.destinations.keys()];
      let started = false;
      for (let i = 0; i < keys.length && !started; i++) {
        const index = (this.cursor + i) % keys.length;
        const d = this.destinations.get(keys[index])!;
        if (d.waiting.length > 0 && d.inFlight < this.capOf(d)) {
          this.cursor = index + 1;
          this.start(d);
          d.waiting.shift()!.go(true);
          started = true;
        }
      }
      if (!started) return;
    }
  }

  private state(destination: string): Destination {
    let d = this.destinations.get(destination);
    if (!d) {
      d = { held: 0, inFlight: 0, waiting: [], failures: 0, pausedUntil: 0 };
      this.destinations.set(destination, d);
    }
    return d;
  }

  /** Healthy destinations with nothing going on are dropped, so the map stays small. */
  private forgetIfIdle(destination: string): void {
    const d = this.destinations.get(destination);
    if (d && d.held === 0 && d.inFlight === 0 && d.waiting.length === 0 && d.failures === 0) {
      this.destinations.delete(destination);
    }
  }
}

/** The origin a webhook URL goes to (scheme, host, port), the unit of slots and pauses. */
export function destinationOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
