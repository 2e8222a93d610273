import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { DomainError } from '../common/errors/domain-error';
import { randomAlphanumeric } from '../common/ids/ids';
import { jobsConfig } from '../config/jobs.config';
import { secretsConfig } from '../config/secrets.config';
import { webhooksConfig } from '../config/webhooks.config';
import { sqlTime } from '../database/sql-time';
import { Tx, UnitOfWork } from '../database/unit-of-work';
import { insertRow } from '../database/sql';
import { MetricsService } from '../metrics/metrics.service';
import { WebhookAttempt } from './entities/webhook-attempt.entity';
import { DeliveryStatus, WebhookDelivery } from './entities/webhook-delivery.entity';
import { WebhookHttpClient, WebhookPostResult } from './webhook-http.client';
import { nextAttemptAfterFailure } from './webhook-retry';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signer';

/** How long a claim outlives the POST's timeout: time to record the outcome. */
export const CLAIM_MARGIN_MS = 30_000;
/** POSTs in flight at once per instance; deliveries of one order always go one after another. */
const CONCURRENCY = 8;
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

/** Counts per outcome; `error`: the attempt broke off (database trouble) and its claim will run out. */
export type DeliveryRunSummary = Record<AttemptOutcome | 'error', number> & { due: number };

interface ClaimedDelivery {
  id: string;
  eventId: string;
  eventType: string;
  orderId: string;
  url: string;
  attempts: number;
  payload: string;
  token: string;
}

type Clock = () => Date;

/**
 * Sends outbox events to merchants. Each attempt is three steps:
 *  1. claim the row with a conditional update (one instance wins; the claim
 *     runs out by itself if that instance dies),
 *  2. POST outside any transaction,
 *  3. record the attempt and the outcome in one transaction, conditional on
 *     still holding the claim.
 * Whether a delivery is retried depends only on its own status column, never
 * on the existence of the event, so a lost answer means one more POST (at
 * least once), never a lost webhook.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger(WebhookDeliveryService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly http: WebhookHttpClient,
    private readonly metrics: MetricsService,
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
    @Inject(secretsConfig.KEY) private readonly secrets: ConfigType<typeof secretsConfig>,
  ) {}

  /**
   * Attempts up to `limit` due deliveries. `now` shifts the clock used for the
   * database (due times, claims, the next retry) and is for tests that walk
   * through the schedule; the signature's timestamp is always the real time.
   */
  async deliverDue(limit: number, now?: Date): Promise<DeliveryRunSummary> {
    const clock = clockFrom(now);
    const due = await this.findDue(limit, clock());
    const summary: DeliveryRunSummary = {
      due: due.length,
      delivered: 0,
      retrying: 0,
      failed: 0,
      not_claimed: 0,
      claim_lost: 0,
      error: 0,
    };
    // Events of one order go out in the order they happened, as far as one batch can tell.
    const byOrder = new Map<string, string[]>();
    for (const row of due) byOrder.set(row.orderId, [...(byOrder.get(row.orderId) ?? []), row.id]);
    await runWithConcurrency([...byOrder.values()], CONCURRENCY, async (ids) => {
      for (const id of ids) {
        try {
          summary[await this.attempt(id, clock)] += 1;
        } catch (error) {
          summary.error += 1;
          this.logger.error(
            `webhook delivery ${id}: attempt broke off: ${(error as Error).message}`,
            (error as Error).stack,
          );
        }
      }
    });
    return summary;
  }

  /** Due and not held by a live claim, oldest event first. */
  async findDue(limit: number, now: Date): Promise<{ id: string; orderId: string }[]> {
    const rows: { id: string; order_id: string }[] = await this.dataSource.query(
      `SELECT id, order_id FROM webhook_deliveries
        WHERE status = ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
        ORDER BY created_at, id
        LIMIT ?`,
      [DeliveryStatus.PENDING, sqlTime(now), sqlTime(now), Math.max(1, Math.floor(limit))],
    );
    return rows.map((r) => ({ id: r.id, orderId: r.order_id }));
  }

  /**
   * Takes the row for this attempt: succeeds for exactly one caller across all
   * instances while the claim lasts. Checks next_attempt_at again, because the
   * caller's list of due rows may be stale (another instance may have tried and
   * rescheduled the row since).
   */
  async claim(id: string, now: Date): Promise<ClaimedDelivery | null> {
    const token = `${this.jobs.instanceId.slice(0, 55)}#${randomAlphanumeric(8)}`;
    const until = new Date(now.getTime() + this.config.timeoutMs + CLAIM_MARGIN_MS);
    return this.uow.run(async (tx) => {
      const result = await tx
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({ claimedBy: token, claimedUntil: until, updatedAt: now })
        .where(
          'id = :id AND status = :pending AND next_attempt_at <= :now' +
            ' AND (claimed_until IS NULL OR claimed_until < :now)',
          { id, pending: DeliveryStatus.PENDING, now: sqlTime(now) },
        )
        .execute();
      if ((result.affected ?? 0) !== 1) return null;
      const rows: {
        id: string;
        event_id: string;
        type: string;
        order_id: string;
        url: string;
        attempts: number | string;
        payload: string;
      }[] = await tx.query(
        `SELECT d.id, d.event_id, e.type, d.order_id, d.url, d.attempts, e.payload
           FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
          WHERE d.id = ?`,
        [id],
      );
      const row = rows[0];
      if (!row) throw new Error(`delivery ${id} has no event`);
      return {
        id: row.id,
        eventId: row.event_id,
        eventType: row.type,
        orderId: row.order_id,
        url: row.url,
        attempts: Number(row.attempts),
        payload: row.payload,
        token,
      };
    });
  }

  /** One attempt at one delivery, if it can be claimed: claim, POST, record. */
  async attempt(id: string, clock: Clock = () => new Date()): Promise<AttemptOutcome> {
    const claimed = await this.claim(id, clock());
    if (!claimed) return 'not_claimed';
    // The exact bytes stored at enqueue time: `data` is the state right after the change.
    const body = Buffer.from(claimed.payload, 'utf8');
    const signature = signWebhook(this.secrets.webhookSecret, body, Math.floor(Date.now() / 1000));
    const result = await this.http.post(
      claimed.url,
      body,
      {
        'Content-Type': 'application/json',
        'User-Agent': 'paygate-webhooks',
        [SIGNATURE_HEADER]: signature,
      },
      this.config.timeoutMs,
    );
    return this.record(claimed, result, clock());
  }

  private async record(
    claimed: ClaimedDelivery,
    result: WebhookPostResult,
    at: Date,
  ): Promise<AttemptOutcome> {
    const attempts = claimed.attempts + 1;
    const next = result.ok
      ? null
      : nextAttemptAfterFailure(attempts, this.config.retrySchedule, this.config.retryScale, at);
    const status = result.ok
      ? DeliveryStatus.DELIVERED
      : next
        ? DeliveryStatus.PENDING
        : DeliveryStatus.FAILED;
    const error = truncate(result.error);
    const kept = await this.uow.run(async (tx) => {
      await this.insertAttempt(tx, claimed.id, attempts, result, error, at);
      const changes: QueryDeepPartialEntity<WebhookDelivery> = {
        status,
        attempts,
        lastStatus: result.statusCode,
        lastError: error,
        claimedBy: null,
        claimedUntil: null,
        updatedAt: at,
        ...(result.ok ? { deliveredAt: at } : {}),
        ...(next ? { nextAttemptAt: next } : {}),
      };
      const update = await tx
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set(changes)
        .where('id = :id AND claimed_by = :token AND status = :pending AND attempts = :before', {
          id: claimed.id,
          token: claimed.token,
          pending: DeliveryStatus.PENDING,
          before: claimed.attempts,
        })
        .execute();
      return (update.affected ?? 0) === 1;
    });
    const outcome: AttemptOutcome = !kept
      ? 'claim_lost'
      : status === DeliveryStatus.DELIVERED
        ? 'delivered'
        : status === DeliveryStatus.PENDING
          ? 'retrying'
          : 'failed';
    this.metrics.webhookDeliveries.inc({ result: outcome });
    this.log(claimed, result, attempts, outcome, next);
    return outcome;
  }

  private insertAttempt(
    tx: Tx,
    deliveryId: string,
    attemptNo: number,
    result: WebhookPostResult,
    error: string | null,
    at: Date,
  ): Promise<unknown> {
    return insertRow(
      tx,
      WebhookAttempt,
      tx.create(WebhookAttempt, {
        id: `wha_${randomAlphanumeric(24)}`,
        deliveryId,
        attemptNo,
        statusCode: result.statusCode,
        error,
        latencyMs: result.latencyMs,
        attemptedAt: at,
      }),
    );
  }

  private log(
    claimed: ClaimedDelivery,
    result: WebhookPostResult,
    attempts: number,
    outcome: AttemptOutcome,
    next: Date | null,
  ): void {
    const what =
      `webhook delivery ${claimed.id} (event ${claimed.eventId} ${claimed.eventType}, ` +
      `order ${claimed.orderId}) to ${hostOf(claimed.url)}, attempt ${attempts}`;
    const answer = `${result.error ?? `HTTP ${result.statusCode}`} in ${result.latencyMs} ms`;
    switch (outcome) {
      case 'delivered':
        this.logger.log(`${what}: delivered (${answer})`);
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

  /**
   * Admin "redeliver now": the same delivery row goes back to PENDING, due
   * now, its claim cleared and its attempt count and history kept, then it is
   * attempted at once. A delivery whose retries were used up gets this one
   * attempt (FAILED again if it fails); one that was still retrying simply
   * skips its wait. Refused while an instance is sending it.
   */
  async redeliver(id: string): Promise<AttemptOutcome> {
    const now = new Date();
    const rows: { status: string }[] = await this.dataSource.query(
      'SELECT status FROM webhook_deliveries WHERE id = ?',
      [id],
    );
    if (rows.length === 0) throw deliveryNotFound(id);
    const requeued = await this.uow.run(async (tx) => {
      const result = await tx
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({
          status: DeliveryStatus.PENDING,
          nextAttemptAt: now,
          claimedBy: null,
          claimedUntil: null,
          updatedAt: now,
        })
        .where('id = :id AND (claimed_until IS NULL OR claimed_until < :now)', {
          id,
          now: sqlTime(now),
        })
        .execute();
      return (result.affected ?? 0) === 1;
    });
    if (!requeued) {
      throw new DomainError(
        'WEBHOOK_DELIVERY_IN_FLIGHT',
        `delivery ${JSON.stringify(id)} is being sent right now; look again in a few seconds`,
      );
    }
    this.logger.log(`webhook delivery ${id} requeued by an admin (was ${rows[0].status})`);
    return this.attempt(id);
  }
}

export const deliveryNotFound = (id: string): DomainError =>
  new DomainError('WEBHOOK_DELIVERY_NOT_FOUND', `webhook delivery ${JSON.stringify(id)} not found`);

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

/** Only the host goes to the logs: a notify URL's path or query may carry the merchant's token. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

async function runWithConcurrency<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
