import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { performance } from 'node:perf_hooks';
import { DomainError } from '../common/errors/domain-error';
import { randomAlphanumeric } from '../common/ids/ids';
import { jobsConfig } from '../config/jobs.config';
import { secretsConfig } from '../config/secrets.config';
import { webhooksConfig } from '../config/webhooks.config';
import { MetricsService } from '../metrics/metrics.service';
import { DeliveryStatus } from './entities/webhook-delivery.entity';
import {
  AttemptRecord,
  BatchClaimConflict,
  ClaimedDelivery,
  DueCursor,
  DueDelivery,
  MAX_IDS_PER_STATEMENT,
  WebhookDeliveryRepository,
  groupBy,
} from './webhook-delivery.repository';
import { Signal, WebhookDispatcher, destinationOf } from './webhook-dispatcher';
import { INVALID_URL_ERROR, WebhookHttpClient, WebhookPostResult } from './webhook-http.client';
import { nextAttemptAfterFailure } from './webhook-retry';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signer';

export type { ClaimedDelivery, DueDelivery } from './webhook-delivery.repository';

/** How long a claim outlives the POST's timeout: time to wait for a slot and record the outcome. */
export const CLAIM_MARGIN_MS = 30_000;
/** POSTs in flight at once per instance. */
const MAX_IN_FLIGHT = 32;
/** POSTs in flight at once to one destination (origin), so that one slow merchant holds only its own. */
const PER_DESTINATION = 8;
/**
 * Claimed rows one destination may have waiting or in flight during a drain:
 * enough to keep its slots busy, few enough to be sent well within their claims
 * and to leave the rest of its rows to other instances.
 */
const HELD_PER_DESTINATION = 4 * PER_DESTINATION;
/** Consecutive failures (no answer, 5xx, 429) after which a destination is paused. */
const FAILURES_BEFORE_PAUSE = 5;
/** The first pause, doubling with each further failure; scaled like the retry schedule. */
const PAUSE_MS = 1_000;
const MAX_PAUSE_MS = 60_000;
/** Outcomes written in one transaction at most, and how long the first one waits for company. */
const RECORD_BATCH = 100;
const RECORD_DELAY_MS = 5;
/**
 * Scans of the outbox within one drain are at least this far apart: under a
 * burst every commit nudges the drain, and scanning at once after each one
 * claimed pages of one or two rows, each costing its own queries. Waiting
 * this long lets a page gather what committed meanwhile; it is all the
 * latency it adds.
 */
const SCAN_GAP_MS = 25;
/**
 * A scan that claimed nothing (every due row belongs to a paused destination,
 * say) is followed by the next one no sooner than this many times its own
 * length: with tens of thousands of rows waiting for a paused merchant, each
 * such scan reads them all to skip them, and scanning again after every
 * commit kept the database busy with that alone. Fruitless scans thus take at
 * most a fifth of the time, and the wait never exceeds MAX_SCAN_GAP_MS.
 */
const FRUITLESS_SCAN_FACTOR = 4;
const MAX_SCAN_GAP_MS = 2_000;
/** A claim with less than the POST's timeout plus this left is renewed before the POST. */
const RECORD_MARGIN_MS = 10_000;
const ERROR_CHARS = 512;

/** What one attempt at one delivery came to. */
export type AttemptOutcome =
  | 'delivered'
  | 'retrying'
  | 'failed'
  /** Someone else holds it, or it is no longer due: nothing was sent. */
  | 'not_claimed'
  /** Sent, but our claim had run out and the row was taken over meanwhile; the attempt is recorded, the row left alone. */
  | 'claim_lost';

/**
 * Counts per outcome of the rows found due; `error`: the attempt broke off
 * (database trouble) and its claim will run out; `deferred`: found due but not
 * attempted now (its destination is paused after failures or has enough rows
 * under way, an earlier event of its order is still being sent, or the run was
 * stopped), left as it was. A drain adds up its pages, so a row passed over
 * and sent later in the same drain counts once as deferred and once as sent.
 */
export type DeliveryRunSummary = Record<AttemptOutcome | 'error' | 'deferred', number> & {
  due: number;
};

type SendOutcome = AttemptOutcome | 'error' | 'deferred';
type Clock = () => Date;

/** One pass over the due rows, oldest first, page after page. */
interface Scan {
  after?: DueCursor;
  /** Destinations left out of the rest of this scan: paused, or holding enough rows. */
  skipped: Set<string>;
  /** Of those, the ones holding enough rows: worth another look once they have room. */
  full: Set<string>;
  /** Orders with a row passed over in this scan; their later rows wait too, to keep the order. True: until room appears (not a pause). */
  passedOrders: Map<string, boolean>;
  /** Orders passed over because one of their events is still being sent here. */
  busyOrders: Set<string>;
  /** Cap the rows held per destination (a drain; deliverDue takes its whole page). */
  capHeld: boolean;
}

interface PendingRecord {
  claimed: ClaimedDelivery;
  result: WebhookPostResult;
  clock: Clock;
  resolve(outcome: SendOutcome): void;
}

/** A drain in progress, as nudge() sees it. */
interface Nudge {
  /** Someone said there may be new work since the drain last looked. */
  pending: boolean;
}

/** Promises under way, to wait until none is; `onIdle` when the last one settles. */
class Outstanding {
  private count = 0;
  private readonly idle = new Signal();

  constructor(private readonly onIdle: () => void) {}

  get size(): number {
    return this.count;
  }

  add(promise: Promise<unknown>): void {
    this.count += 1;
    const done = (): void => {
      this.count -= 1;
      if (this.count > 0) return;
      this.idle.fire();
      this.onIdle();
    };
    promise.then(done, done);
  }

  async settled(): Promise<void> {
    while (this.count > 0) await this.idle.next();
  }
}

/**
 * Sends outbox events to merchants. Each attempt is three steps:
 *  1. claim the row with a conditional update (one instance wins; the claim
 *     runs out by itself if that instance dies),
 *  2. POST outside any transaction,
 *  3. record the attempt and the outcome, conditional on still holding the
 *     claim (and on the attempt count it was claimed with).
 * Whether a delivery is retried depends only on its own status column, never
 * on the existence of the event, so a lost answer means one more POST (at
 * least once), never a lost webhook.
 *
 * To keep up with bursts, steps 1 and 3 are done for many rows at a time: a
 * page of due rows is claimed with one UPDATE, and outcomes that arrive
 * together are written in one transaction (a delivered row whose claim turns
 * out lost undoes that transaction, and the batch is written row by row, so a
 * lost claim is still told apart and its row left alone). The POSTs go through
 * a WebhookDispatcher: many in flight, few per destination, paused
 * destinations skipped. `drain` fetches the next page as soon as there is room
 * for it, not when the previous page has finished, so one slow endpoint's
 * timeouts never hold back the rest. Deliveries of one order still go one
 * after another, in event order, as far as this instance can tell.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger(WebhookDeliveryService.name);
  private readonly dispatcher: WebhookDispatcher;
  /** Orders with a chain of sends under way on this instance, and how many chains. */
  private readonly ordersInFlight = new Map<string, number>();
  /** Drains in progress, told by nudge() that there may be new work. */
  private readonly nudges = new Set<Nudge>();
  private readonly toRecord: PendingRecord[] = [];
  private recordTimer?: NodeJS.Timeout;
  private recording = false;
  /** performance.now() before which no drain starts its next scan; shared by the drains that follow each other. */
  private nextScanAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly repo: WebhookDeliveryRepository,
    private readonly http: WebhookHttpClient,
    private readonly metrics: MetricsService,
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
    @Inject(secretsConfig.KEY) private readonly secrets: ConfigType<typeof secretsConfig>,
  ) {
    this.dispatcher = new WebhookDispatcher({
      maxInFlight: MAX_IN_FLIGHT,
      perDestination: PER_DESTINATION,
      failuresBeforePause: FAILURES_BEFORE_PAUSE,
      pauseMs: PAUSE_MS * config.retryScale,
      maxPauseMs: MAX_PAUSE_MS * config.retryScale,
    });
  }

  /**
   * Attempts up to `limit` (at most 500) due deliveries, one page, and resolves
   * when all of them are recorded. `now` shifts the clock used for the database
   * (due times, claims, the next retry) and for destination pauses; it is for
   * tests that walk through the schedule. The signature's timestamp is always
   * the real time.
   */
  async deliverDue(limit: number, now?: Date): Promise<DeliveryRunSummary> {
    const page = await this.startPage(pageSize(limit), clockFrom(now), newScan(false));
    return page.done;
  }

  /**
   * Delivers until nothing due is left that this instance can send now: pages
   * of `limit` (at most 500) rows, each claimed at once, the next one fetched
   * as soon as the dispatcher has room for it. Rows passed over because their
   * destination or order was busy are looked at again when room appears; a
   * nudge() (new events, a poll tick) makes it look again before it ends.
   * Resolves when every send it started is recorded. `signal` stops it early
   * (shutdown): no new pages, sends not yet started are given back unsent.
   */
  async drain(
    limit: number,
    options: { now?: Date; signal?: AbortSignal } = {},
  ): Promise<DeliveryRunSummary> {
    const { signal } = options;
    const clock = clockFrom(options.now);
    const size = pageSize(limit);
    const summary = emptySummary();
    // Every wait below is for `progress`, fired on each change that may end it
    // (a send or claim let go, an order free, a nudge, the stop, the last send
    // settled); each then checks its own condition again.
    const progress = this.dispatcher.progress;
    const sends = new Outstanding(() => progress.fire());
    const nudge: Nudge = { pending: false };
    const started = performance.now();
    const onAbort = (): void => {
      if (signal) this.dispatcher.cancel(signal); // fires progress
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.nudges.add(nudge);
    try {
      while (!signal?.aborted) {
        const gap = this.nextScanAt - performance.now();
        if (gap > 0) await sleep(gap, signal);
        if (signal?.aborted) break;
        const scanStarted = performance.now();
        nudge.pending = false;
        const scan = newScan(true);
        let claimedAny = false;
        while (!signal?.aborted) {
          // Claim the next page only when the sends waiting for a slot are few.
          while (!signal?.aborted && this.dispatcher.backlog() > MAX_IN_FLIGHT) {
            await progress.next();
          }
          if (signal?.aborted) break;
          const page = await this.startPage(size, clock, scan, signal);
          claimedAny ||= page.chosen > 0;
          sends.add(page.done.then((s) => addInto(summary, s)));
          if (page.due < size) break;
          scan.after = page.last;
        }
        this.nextScanAt = scanStarted + scanGap(claimedAny, performance.now() - scanStarted);
        const soon = scan.full.size > 0 || scan.busyOrders.size > 0;
        // Nothing more to send now but what is under way: wait for it, unless new
        // work is announced meanwhile. Rows passed over for a busy destination or
        // order: look again as soon as there is room for them.
        while (
          !signal?.aborted &&
          !nudge.pending &&
          (soon ? !this.roomFor(scan) : sends.size > 0)
        ) {
          await progress.next();
        }
        if (!soon && !nudge.pending) break;
      }
    } finally {
      this.nudges.delete(nudge);
      signal?.removeEventListener('abort', onAbort);
      await sends.settled();
    }
    const attempted =
      summary.delivered + summary.retrying + summary.failed + summary.claim_lost + summary.error;
    if (attempted > 0) {
      this.logger.log(
        `webhooks: ${describeSummary(summary)} in ${Math.round(performance.now() - started)} ms`,
      );
    }
    return summary;
  }

  /** There may be new due rows (an event committed, a poll tick): drains in progress look again. */
  nudge(): void {
    for (const n of this.nudges) n.pending = true;
    this.dispatcher.progress.fire();
  }

  /** Due and not held by a live claim, oldest event first. */
  findDue(limit: number, now: Date): Promise<DueDelivery[]> {
    return this.repo.findDue(limit, now);
  }

  /**
   * Takes the row for one attempt: succeeds for exactly one caller across all
   * instances while the claim lasts. Checks next_attempt_at again, because the
   * caller's list of due rows may be stale.
   */
  async claim(id: string, now: Date): Promise<ClaimedDelivery | null> {
    const { claimed } = await this.claimRows([id], now);
    return claimed[0] ?? null;
  }

  /** One attempt at one delivery, if it can be claimed: claim, POST, record. */
  async attempt(id: string, clock: Clock = () => new Date()): Promise<AttemptOutcome> {
    const { claimed, orphans } = await this.claimRows([id], clock());
    if (orphans.length > 0) throw new Error(`delivery ${id} has no event`);
    const row = claimed[0];
    if (!row) return 'not_claimed';
    this.reserveOrder(row.orderId);
    const [outcome] = await this.sendChain([row], clock, { direct: true });
    if (outcome === 'error' || outcome === 'deferred') {
      throw new Error(`webhook delivery ${id}: the attempt broke off, see the log`);
    }
    return outcome;
  }

  /**
   * Admin "redeliver now": the same delivery row goes back to PENDING, due
   * now, its claim cleared and its attempt count and history kept, then it is
   * attempted at once (whatever its destination's pause). A delivery whose
   * retries were used up gets this one attempt (FAILED again if it fails); one
   * that was still retrying simply skips its wait. Refused while an instance
   * is sending it.
   */
  async redeliver(id: string): Promise<AttemptOutcome> {
    const status = await this.repo.statusOf(id);
    if (status === null) throw deliveryNotFound(id);
    if (!(await this.repo.requeue(id, new Date()))) {
      throw new DomainError(
        'WEBHOOK_DELIVERY_IN_FLIGHT',
        `delivery ${JSON.stringify(id)} is being sent right now; look again in a few seconds`,
      );
    }
    this.logger.log(`webhook delivery ${id} requeued by an admin (was ${status})`);
    return this.attempt(id);
  }

  /**
   * Finds one page of due rows, claims those it can send with one statement
   * and starts sending them; resolves once they are claimed, with `done` for
   * when they are all recorded.
   */
  private async startPage(
    size: number,
    clock: Clock,
    scan: Scan,
    signal?: AbortSignal,
  ): Promise<{
    due: number;
    chosen: number;
    last?: DueCursor;
    done: Promise<DeliveryRunSummary>;
  }> {
    const summary = emptySummary();
    const now = clock();
    for (const d of this.dispatcher.pausedDestinations(now)) scan.skipped.add(d);
    const due = await this.repo.findDue(size, now, {
      after: scan.after,
      excludeDestinations: [...scan.skipped],
    });
    summary.due = due.length;
    const lastRow = due.at(-1);
    const last = lastRow ? { createdAt: lastRow.createdAt, id: lastRow.id } : scan.after;
    const { rows, orders } = this.choose(due, now, scan, summary);
    if (rows.length === 0) {
      return { due: due.length, chosen: 0, last, done: Promise.resolve(summary) };
    }

    let claimed: ClaimedDelivery[] = [];
    try {
      const result = await this.claimRows(
        rows.map((r) => r.id),
        now,
      );
      claimed = result.claimed;
      summary.error += result.orphans.length;
      summary.not_claimed += rows.length - claimed.length - result.orphans.length;
    } catch (error) {
      summary.error += rows.length;
      this.logger.error(
        `claiming ${rows.length} webhook deliveries failed: ${(error as Error).message}`,
        (error as Error).stack,
      );
    }
    const taken = new Set(claimed.map((c) => c.id));
    for (const row of rows) if (!taken.has(row.id)) this.dispatcher.unhold(destinationOf(row.url));
    const chains = groupBy(claimed, (c) => c.orderId);
    for (const orderId of orders) if (!chains.has(orderId)) this.releaseOrder(orderId);

    const done = Promise.all(
      [...chains.values()].map(async (chain) => {
        for (const outcome of await this.sendChain(chain, clock, { signal })) summary[outcome] += 1;
      }),
    ).then(() => summary);
    return { due: due.length, chosen: rows.length, last, done };
  }

  /**
   * Which rows of a page to claim: not those of a paused destination, of one
   * holding enough rows already (in a drain), of an order with an event still
   * being sent, or of an order with a row passed over earlier in this scan.
   * Holds the chosen rows against their destinations and reserves their orders.
   */
  private choose(
    due: DueDelivery[],
    now: Date,
    scan: Scan,
    summary: DeliveryRunSummary,
  ): { rows: DueDelivery[]; orders: Set<string> } {
    const rows: DueDelivery[] = [];
    const orders = new Set<string>();
    for (const row of due) {
      const destination = destinationOf(row.url);
      let soon = scan.passedOrders.get(row.orderId);
      if (soon === undefined && !orders.has(row.orderId)) {
        if (this.ordersInFlight.has(row.orderId)) {
          soon = true;
          scan.busyOrders.add(row.orderId);
        } else if (this.dispatcher.isPaused(destination, now)) {
          soon = false;
          scan.skipped.add(destination);
        } else if (scan.capHeld && this.dispatcher.held(destination) >= HELD_PER_DESTINATION) {
          soon = true;
          scan.full.add(destination);
          scan.skipped.add(destination);
        }
      }
      if (soon !== undefined) {
        scan.passedOrders.set(row.orderId, soon);
        summary.deferred += 1;
        continue;
      }
      rows.push(row);
      this.dispatcher.hold(destination);
      if (!orders.has(row.orderId)) {
        orders.add(row.orderId);
        this.reserveOrder(row.orderId);
      }
    }
    return { rows, orders };
  }

  private claimRows(
    ids: string[],
    now: Date,
  ): Promise<{ claimed: ClaimedDelivery[]; orphans: string[] }> {
    const token = `${this.jobs.instanceId.slice(0, 55)}#${randomAlphanumeric(8)}`;
    return this.repo.claim(ids, token, this.claimUntil(now), now).then((result) => {
      for (const id of result.orphans) {
        this.logger.error(
          `webhook delivery ${id} has no event; left claimed until its claim runs out`,
        );
      }
      return result;
    });
  }

  private claimUntil(now: Date): Date {
    return new Date(now.getTime() + this.config.timeoutMs + CLAIM_MARGIN_MS);
  }

  /**
   * Sends the claimed rows of one order one after another. `direct` (an
   * admin's redeliver): no slot, no pause, nothing held. Rows not sent because
   * the run was stopped are given back.
   */
  private async sendChain(
    chain: ClaimedDelivery[],
    clock: Clock,
    options: { signal?: AbortSignal; direct?: boolean },
  ): Promise<SendOutcome[]> {
    const held = !options.direct;
    const outcomes: SendOutcome[] = [];
    try {
      for (let i = 0; i < chain.length; i++) {
        const outcome = options.signal?.aborted
          ? 'deferred'
          : await this.sendOne(chain[i], clock, options);
        if (outcome === 'deferred') {
          outcomes.push(...(await this.giveBack(chain.slice(i), held)));
          break;
        }
        outcomes.push(outcome);
        if (held) this.dispatcher.unhold(destinationOf(chain[i].url));
      }
    } finally {
      this.releaseOrder(chain[0].orderId);
    }
    return outcomes;
  }

  /** POST and record one claimed row; never rejects. 'deferred': stopped while waiting for a slot. */
  private async sendOne(
    claimed: ClaimedDelivery,
    clock: Clock,
    options: { signal?: AbortSignal; direct?: boolean },
  ): Promise<SendOutcome> {
    const destination = destinationOf(claimed.url);
    const slotted = !options.direct;
    if (slotted && !(await this.dispatcher.acquire(destination, options.signal))) return 'deferred';
    let result: WebhookPostResult;
    try {
      if (!(await this.keepClaim(claimed, clock))) return 'not_claimed';
      result = await this.post(claimed);
    } catch (error) {
      this.brokeOff(claimed.id, error);
      return 'error';
    } finally {
      if (slotted) this.dispatcher.release(destination);
    }
    this.dispatcher.report(destination, isTrouble(result), clock());
    return this.record(claimed, result, clock);
  }

  /** A row that waited long for a slot gets its claim extended before it is sent. */
  private async keepClaim(claimed: ClaimedDelivery, clock: Clock): Promise<boolean> {
    const now = clock();
    const left = claimed.claimedUntil.getTime() - now.getTime();
    if (left >= this.config.timeoutMs + RECORD_MARGIN_MS) return true;
    return this.repo.renewClaim(claimed, this.claimUntil(now), now);
  }

  private post(claimed: ClaimedDelivery): Promise<WebhookPostResult> {
    // The exact bytes stored at enqueue time: `data` is the state right after the change.
    const body = Buffer.from(claimed.payload, 'utf8');
    const signature = signWebhook(this.secrets.webhookSecrets, body, Math.floor(Date.now() / 1000));
    return this.http.post(
      claimed.url,
      body,
      {
        'Content-Type': 'application/json',
        'User-Agent': 'paygate-webhooks',
        [SIGNATURE_HEADER]: signature,
      },
      this.config.timeoutMs,
    );
  }

  /** Claims that will not be used now go back at once instead of running out. */
  private async giveBack(rows: ClaimedDelivery[], held: boolean): Promise<SendOutcome[]> {
    try {
      await this.repo.releaseClaims(rows);
    } catch (error) {
      this.logger.warn(
        `giving back ${rows.length} webhook claim(s) failed, they will run out: ${(error as Error).message}`,
      );
    } finally {
      if (held) for (const row of rows) this.dispatcher.unhold(destinationOf(row.url));
    }
    return rows.map(() => 'deferred');
  }

  /** Queues an outcome to be written with the others arriving about now. */
  private record(
    claimed: ClaimedDelivery,
    result: WebhookPostResult,
    clock: Clock,
  ): Promise<SendOutcome> {
    return new Promise<SendOutcome>((resolve) => {
      this.toRecord.push({ claimed, result, clock, resolve });
      this.scheduleRecording();
    });
  }

  private scheduleRecording(): void {
    if (this.recording) return; // the write in progress takes them next
    if (this.toRecord.length >= RECORD_BATCH) {
      clearTimeout(this.recordTimer);
      this.recordTimer = undefined;
      void this.writeQueued();
    } else if (!this.recordTimer) {
      this.recordTimer = setTimeout(() => {
        this.recordTimer = undefined;
        void this.writeQueued();
      }, RECORD_DELAY_MS);
    }
  }

  private async writeQueued(): Promise<void> {
    if (this.recording) return;
    this.recording = true;
    try {
      while (this.toRecord.length > 0) {
        const batch = this.toRecord.splice(0, RECORD_BATCH);
        await this.writeBatch(batch).catch((error: unknown) => {
          // A bug, not the database (writeBatch handles that): nobody may wait forever.
          for (const p of batch) {
            this.brokeOff(p.claimed.id, error);
            p.resolve('error');
          }
        });
      }
    } finally {
      this.recording = false;
    }
  }

  /** Settles every pending record of the batch, whatever happens. */
  private async writeBatch(batch: PendingRecord[]): Promise<void> {
    // One time per clock for the whole batch, so that delivered rows share one UPDATE.
    const times = new Map<Clock, Date>();
    const records = batch.map((p) => {
      let at = times.get(p.clock);
      if (!at) times.set(p.clock, (at = p.clock()));
      return this.outcomeOf(p.claimed, p.result, at);
    });
    let kept: Array<boolean | Error>;
    try {
      if (records.length === 1) throw new BatchClaimConflict(); // one row: its own transaction
      kept = await this.repo.recordAll(records);
    } catch (error) {
      if (!(error instanceof BatchClaimConflict)) {
        this.logger.warn(
          `recording ${records.length} webhook attempts together failed, recording them one by one: ${(error as Error).message}`,
        );
      }
      kept = await Promise.all(
        records.map((r) => this.repo.recordOne(r).catch((e: unknown) => asError(e))),
      );
    }
    batch.forEach((p, i) => p.resolve(this.settle(records[i], kept[i])));
  }

  private outcomeOf(claimed: ClaimedDelivery, result: WebhookPostResult, at: Date): AttemptRecord {
    const attemptNo = claimed.attempts + 1;
    const next = result.ok
      ? null
      : nextAttemptAfterFailure(attemptNo, this.config.retrySchedule, this.config.retryScale, at);
    const status = result.ok
      ? DeliveryStatus.DELIVERED
      : next
        ? DeliveryStatus.PENDING
        : DeliveryStatus.FAILED;
    return { claimed, result, attemptNo, status, next, error: truncate(result.error), at };
  }

  private settle(record: AttemptRecord, kept: boolean | Error): SendOutcome {
    if (kept instanceof Error) {
      this.brokeOff(record.claimed.id, kept);
      return 'error';
    }
    const outcome: AttemptOutcome = !kept
      ? 'claim_lost'
      : record.status === DeliveryStatus.DELIVERED
        ? 'delivered'
        : record.status === DeliveryStatus.PENDING
          ? 'retrying'
          : 'failed';
    this.metrics.webhookDeliveries.inc({ result: outcome });
    this.log(record, outcome);
    return outcome;
  }

  private brokeOff(id: string, error: unknown): void {
    const e = asError(error);
    this.logger.error(`webhook delivery ${id}: attempt broke off: ${e.message}`, e.stack);
  }

  private log(record: AttemptRecord, outcome: AttemptOutcome): void {
    const { claimed, result, attemptNo, next } = record;
    const what =
      `webhook delivery ${claimed.id} (event ${claimed.eventId} ${claimed.eventType}, ` +
      `order ${claimed.orderId}) to ${hostOf(claimed.url)}, attempt ${attemptNo}`;
    const answer = `${result.error ?? `HTTP ${result.statusCode}`} in ${result.latencyMs} ms`;
    switch (outcome) {
      case 'delivered':
        // A burst delivers thousands: one info line per drain sums them up.
        this.logger.debug(`${what}: delivered (${answer})`);
        return;
      case 'retrying':
        this.logger.warn(`${what}: ${answer}; next attempt at ${next!.toISOString()}`);
        return;
      case 'failed':
        this.logger.error(`${what}: ${answer}; retries used up, marked FAILED`);
        return;
      default:
        this.logger.warn(`${what}: ${answer}; claim lost meanwhile, outcome not applied`);
    }
  }

  private reserveOrder(orderId: string): void {
    this.ordersInFlight.set(orderId, (this.ordersInFlight.get(orderId) ?? 0) + 1);
  }

  private releaseOrder(orderId: string): void {
    const left = (this.ordersInFlight.get(orderId) ?? 1) - 1;
    if (left > 0) this.ordersInFlight.set(orderId, left);
    else this.ordersInFlight.delete(orderId);
    this.dispatcher.progress.fire();
  }

  /** Whether rows passed over in `scan` may be claimable now: room at a full destination, a busy order free. */
  private roomFor(scan: Scan): boolean {
    for (const d of scan.full) if (this.dispatcher.held(d) <= HELD_PER_DESTINATION / 2) return true;
    for (const orderId of scan.busyOrders) if (!this.ordersInFlight.has(orderId)) return true;
    return false;
  }
}

export const deliveryNotFound = (id: string): DomainError =>
  new DomainError('WEBHOOK_DELIVERY_NOT_FOUND', `webhook delivery ${JSON.stringify(id)} not found`);

/** Whether a result says something is wrong with the destination itself. */
function isTrouble(result: WebhookPostResult): boolean {
  if (result.statusCode === null) return result.error !== INVALID_URL_ERROR;
  return result.statusCode >= 500 || result.statusCode === 429;
}

/** How long after a scan's start the next one may begin: see FRUITLESS_SCAN_FACTOR. */
export function scanGap(claimedAny: boolean, tookMs: number): number {
  if (claimedAny) return SCAN_GAP_MS;
  return Math.min(MAX_SCAN_GAP_MS, Math.max(SCAN_GAP_MS, tookMs * (1 + FRUITLESS_SCAN_FACTOR)));
}

function newScan(capHeld: boolean): Scan {
  return {
    skipped: new Set(),
    full: new Set(),
    passedOrders: new Map(),
    busyOrders: new Set(),
    capHeld,
  };
}

function pageSize(limit: number): number {
  return Math.min(MAX_IDS_PER_STATEMENT, Math.max(1, Math.floor(limit)));
}

function emptySummary(): DeliveryRunSummary {
  return {
    due: 0,
    delivered: 0,
    retrying: 0,
    failed: 0,
    not_claimed: 0,
    claim_lost: 0,
    error: 0,
    deferred: 0,
  };
}

function addInto(total: DeliveryRunSummary, page: DeliveryRunSummary): void {
  for (const key of Object.keys(page) as (keyof DeliveryRunSummary)[]) total[key] += page[key];
}

function describeSummary(s: DeliveryRunSummary): string {
  const parts = [`${s.delivered} delivered`, `${s.retrying} retrying`, `${s.failed} failed`];
  if (s.claim_lost) parts.push(`${s.claim_lost} claim lost`);
  if (s.error) parts.push(`${s.error} broke off`);
  if (s.not_claimed) parts.push(`${s.not_claimed} taken by another instance`);
  return parts.join(', ');
}

function clockFrom(now?: Date): Clock {
  if (!now) return () => new Date();
  const offset = now.getTime() - Date.now();
  return () => new Date(Date.now() + offset);
}

function truncate(text: string | null): string | null {
  if (text === null) return null;
  const chars = Array.from(text);
  return chars.length <= ERROR_CHARS ? text : chars.slice(0, ERROR_CHARS - 1).join('') + '…';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Only the host goes to the logs: a notify URL's path or query may carry the merchant's token. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
