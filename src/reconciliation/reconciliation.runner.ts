import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ConfigType } from '@nestjs/config';
import { YuanTotal } from '../common/money/money';
import { jobsConfig } from '../config/jobs.config';
import { NotificationsService } from '../notifications/notifications.service';
import { PaymentStatus } from '../payments/entities/payment.entity';
import { BillError, BillRow, Channel } from '../payments/payment-provider';
import { BookedPayment, PaymentsService } from '../payments/payments.service';
import { ProviderRegistry } from '../payments/provider-registry';
import { RefundStatus } from '../refunds/refund-state';
import { BookedRefund, RefundsService } from '../refunds/refunds.service';
import { addDays, beijingDate, beijingDayRange } from './beijing-day';
import { DiscrepancyType } from './entities/reconciliation-discrepancy.entity';
import { ReconciliationRun, RunErrorReason } from './entities/reconciliation-run.entity';
import {
  BillRowKind,
  FoundDiscrepancy,
  ReconciliationStore,
  RunCounts,
} from './reconciliation.store';

/**
 * Bill rows compared per batch: one lookup per kind and one transaction each.
 * Smaller on MySQL, where four are in flight at once: what they hold lives
 * long enough to be promoted out of V8's young generation (million-row WeChat
 * bill on MariaDB: peak RSS 297 MiB with 1,000-row batches, 216 MiB with 500).
 * SQLite compares one at a time, and each batch is a durable commit.
 */
const BATCH = { sqlite: 1000, mysql: 500 };
/** Discrepancies healed at once (each a channel query and a transaction). */
const HEAL_CONCURRENCY = 8;
/** How often a running run says it is alive. */
const HEARTBEAT_MS = 20_000;
/** Days of bill keys kept after a run (a neighbouring day's run looks at them). */
const KEEP_BILL_ROWS_DAYS = 7;

interface Day {
  date: string;
  from: Date;
  to: Date;
}

class Tally implements RunCounts {
  channelRows = 0;
  localRows = 0;
  matched = 0;
  discrepancies = 0;
  healed = 0;
  private readonly fees = new YuanTotal();
  unreadableFees = 0;

  fee(row: BillRow): void {
    if (row.fee !== undefined && row.fee !== '' && !this.fees.add(row.fee)) this.unreadableFees++;
  }

  get feeTotal(): string {
    return this.fees.toString();
  }
}

/**
 * At most `limit` pieces of work at once. The first failure is thrown by the
 * next add() or by drain(); settled() waits for everything started, whatever
 * became of it.
 */
class InFlight {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  async add(work: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
    const running: Promise<void> = work()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(running));
    this.running.add(running);
  }

  async drain(): Promise<void> {
    await this.settled();
    if (this.failure) throw this.failure.error;
  }

  async settled(): Promise<void> {
    await Promise.all([...this.running]);
  }
}

/** The run was stopped from outside (shutdown, or another instance took it over). */
class RunStopped extends Error {}

/**
 * Carries out one reconciliation run: streams the channel's bill in batches,
 * compares each batch with our payments and refunds by key, then reads our
 * succeeded payments and refunds of the day in pages to find those the bill
 * lacks, and finally heals what the channel proves (a payment the bill has as
 * paid that we hold as unpaid) through the notification path. Memory holds a
 * batch at a time, whatever the size of the bill or the day.
 */
@Injectable()
export class ReconciliationRunner {
  private readonly logger = new Logger('Reconciliation');

  constructor(
    private readonly store: ReconciliationStore,
    private readonly providers: ProviderRegistry,
    private readonly payments: PaymentsService,
    private readonly refunds: RefundsService,
    private readonly notifications: NotificationsService,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
    @InjectDataSource() dataSource: DataSource,
  ) {
    // SQLite runs every statement on this thread, one at a time: overlapping batches
    // would only interleave them. MySQL answers on other cores, several at once.
    const sqlite = dataSource.options.type === 'better-sqlite3';
    this.concurrency = sqlite ? 1 : 4;
    this.batch = sqlite ? BATCH.sqlite : BATCH.mysql;
  }

  /** Batches compared (or pages checked) at once. */
  private readonly concurrency: number;
  /** Bill rows a batch (and keys of ours checked at once). */
  private readonly batch: number;

  /**
   * Runs `run` (RUNNING, owned by this instance) to COMPLETED or FAILED; never
   * throws. A daily run that fails is tried again 30 minutes after `now` (the
   * scheduler's clock), while the day after the bill's lasts.
   */
  async execute(run: ReconciliationRun, signal?: AbortSignal, now = new Date()): Promise<void> {
    const started = Date.now();
    const day: Day = { date: run.billDate, ...beijingDayRange(run.billDate) };
    const tally = new Tally();
    let alive = true;
    const heartbeat = setInterval(() => {
      this.store
        .renewLease(run, new Date())
        .then((held) => {
          if (!held) alive = false;
        })
        .catch((error: Error) =>
          this.logger.warn(`run ${run.id}: lease not renewed: ${error.message}`),
        );
    }, HEARTBEAT_MS);
    heartbeat.unref();
    const check = (): void => {
      if (signal?.aborted) throw new RunStopped('paygate is shutting down');
      if (!alive) throw new RunStopped('another instance took the run over');
    };
    try {
      const phases: string[] = [];
      const timed = async (name: string, phase: () => Promise<void>) => {
        const t0 = Date.now();
        await phase();
        phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      };
      await timed('bill', () => this.compareBill(run, day, tally, check));
      await timed('our day', () => this.findMissingRemote(run, day, tally, check));
      await timed('healing', () => this.heal(run, tally));
      const now = new Date();
      if (!(await this.store.complete(run, tally, now))) {
        this.logger.warn(
          `run ${run.id} finished, but it was no longer this instance's to complete`,
        );
        return;
      }
      await this.store
        .pruneBillRows(run, addDays(run.billDate, -KEEP_BILL_ROWS_DAYS))
        .catch((error: Error) =>
          this.logger.warn(`run ${run.id}: old bill keys not pruned: ${error.message}`),
        );
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const summary =
        `${run.channel} ${run.billDate} reconciled in ${seconds} s: ${tally.channelRows} bill rows, ` +
        `${tally.localRows} of ours, ${tally.matched} matched, ${tally.discrepancies} discrepancies (${tally.healed} healed); ${phases.join(', ')}`;
      if (tally.unreadableFees > 0)
        this.logger.warn(
          `run ${run.id}: ${tally.unreadableFees} fees on the bill were not amounts; left out of fee_total`,
        );
      if (tally.discrepancies > tally.healed) this.logger.warn(`${summary}; run ${run.id}`);
      else this.logger.log(`${summary}; run ${run.id}`);
    } catch (error) {
      await this.failed(run, error, now);
    } finally {
      clearInterval(heartbeat);
    }
  }

  // ---- 1. the bill against our books, batch by batch -------------------------------------

  private async compareBill(
    run: ReconciliationRun,
    day: Day,
    tally: Tally,
    check: () => void,
  ): Promise<void> {
    const provider = this.providers.get(run.channel);
    let batch: BillRow[] = [];
    // Batches are compared while the bill is read on; their keys are disjoint.
    const writing = new InFlight(this.concurrency);
    try {
      for await (const rows of provider.downloadBill(run.billDate)) {
        for (const row of rows) {
          batch.push(row);
          if (batch.length < this.batch) continue;
          check();
          const full = batch;
          await writing.add(() => this.compareBatch(run, day, full, tally));
          batch = [];
        }
      }
      if (batch.length > 0) {
        const last = batch;
        await writing.add(() => this.compareBatch(run, day, last, tally));
      }
      await writing.drain();
    } finally {
      // Nothing of this run may still be writing when a failure removes what it wrote.
      await writing.settled();
    }
  }

  /**
   * Not async itself: the batch's rows and what was read for them are dropped
   * once compared, before its write (a transaction with a durable commit) is
   * waited for. Until then each of the batches in flight held its rows and
   * their lookups through its write, long enough to be promoted out of V8's
   * young generation.
   */
  private compareBatch(
    run: ReconciliationRun,
    day: Day,
    rows: BillRow[],
    tally: Tally,
  ): Promise<void> {
    return this.compareRows(run.channel, day, rows, tally).then((c) =>
      this.store.recordBatch(run, c.keys, c.found, c.elsewhere, new Date()),
    );
  }

  private async compareRows(
    channel: Channel,
    day: Day,
    rows: BillRow[],
    tally: Tally,
  ): Promise<{
    keys: { kind: BillRowKind; key: string }[];
    found: FoundDiscrepancy[];
    elsewhere: { kind: 'payment' | 'refund'; key: string }[];
  }> {
    const paymentRows = rows.filter((r) => r.kind === 'payment');
    const refundRows = rows.filter((r) => r.kind === 'refund');
    const [payments, refunds] = await Promise.all([
      this.payments.findBooked(
        channel,
        paymentRows.map((r) => r.outTradeNo),
      ),
      this.refunds.findBooked(
        channel,
        refundRows.flatMap((r) => (r.outRefundNo ? [r.outRefundNo] : [])),
      ),
    ]);
    const paymentByKey = new Map(payments.map((p) => [p.outTradeNo, p]));
    const refundByKey = new Map(refunds.map((r) => [r.outRefundNo, r]));
    const keys: { kind: BillRowKind; key: string }[] = [];
    const found: FoundDiscrepancy[] = [];
    const elsewhere: { kind: 'payment' | 'refund'; key: string }[] = [];

    for (const row of rows) {
      tally.channelRows++;
      tally.fee(row);
      if (row.kind === 'payment') {
        const local = paymentByKey.get(row.outTradeNo);
        const d = comparePayment(row, local);
        if (local) {
          keys.push({ kind: 'P', key: local.outTradeNo });
          if (!d && local.paidAt && !within(local.paidAt, day))
            elsewhere.push({ kind: 'payment', key: local.outTradeNo });
        }
        if (d) found.push(d);
        else tally.matched++;
      } else {
        const local = row.outRefundNo ? refundByKey.get(row.outRefundNo) : undefined;
        const d = compareRefund(row, local);
        if (local) {
          keys.push({ kind: 'R', key: local.outRefundNo });
          if (!d && local.succeededAt && !within(local.succeededAt, day))
            elsewhere.push({ kind: 'refund', key: local.outRefundNo });
        }
        if (d) found.push(d);
        else tally.matched++;
      }
    }
    tally.discrepancies += found.length;
    return { keys, found, elsewhere };
  }

  // ---- 2. ours that the bill lacks --------------------------------------------------------

  /**
   * Our succeeded payments and refunds of the day, page by page, looked up among
   * the bill keys of this run and of the neighbouring days' latest runs (a trade
   * paid at 23:59:59 may be on the next day's bill, or the day before's).
   */
  private async findMissingRemote(
    run: ReconciliationRun,
    day: Day,
    tally: Tally,
    check: () => void,
  ): Promise<void> {
    const neighbours = await this.store.completedRunIds(run.channel, [
      addDays(day.date, -1),
      addDays(day.date, 1),
    ]);
    const runIds = [run.id, ...neighbours];

    const checking = new InFlight(this.concurrency);
    const context = { run, runIds, tally, check, checking };
    try {
      await this.checkOurs(
        context,
        'P',
        this.payments.succeededKeysBetween(run.channel, day.from, day.to),
        async (keys) => (await this.payments.findBooked(run.channel, keys)).map(missingPayment),
      );
      await this.checkOurs(
        context,
        'R',
        this.refunds.succeededKeysBetween(run.channel, day.from, day.to),
        async (keys) => (await this.refunds.findBooked(run.channel, keys)).map(missingRefund),
      );
      await checking.drain();
    } finally {
      await checking.settled();
    }
  }

  /**
   * One kind of our rows of the day, window by window, their keys looked up
   * among the bill's a batch at a time; the few the bill lacks are then read
   * whole and reported.
   */
  private async checkOurs(
    c: {
      run: ReconciliationRun;
      runIds: string[];
      tally: Tally;
      check: () => void;
      checking: InFlight;
    },
    billKind: BillRowKind,
    windows: AsyncIterable<string[]>,
    lacking: (keys: string[]) => Promise<FoundDiscrepancy[]>,
  ): Promise<void> {
    for await (const keys of windows) {
      c.tally.localRows += keys.length;
      for (let i = 0; i < keys.length; i += this.batch) {
        c.check();
        const batch = keys.slice(i, i + this.batch);
        await c.checking.add(async () => {
          const present = await this.store.billKeysPresent(c.runIds, billKind, batch);
          const absent = batch.filter((key) => !present.has(key));
          if (absent.length === 0) return;
          const found = await lacking(absent);
          c.tally.discrepancies += found.length;
          await this.store.recordDiscrepancies(c.run, found, new Date());
        });
      }
    }
  }

  // ---- 3. what the channel proves ----------------------------------------------------------

  /**
   * STATUS_MISMATCH: the bill has it done, we do not. A payment is queried and
   * the answer applied as a notification would be (order.paid webhook, an inbox
   * row that names the run); a PENDING refund is asked about at once. Whatever
   * the channel does not confirm stays for a person.
   */
  private async heal(run: ReconciliationRun, tally: Tally): Promise<void> {
    const provider = this.providers.get(run.channel);
    // Each is a channel query and a transaction of its own: several at once, as
    // the sync job's queries are, so a day with many lost notifications heals in
    // the time of a few round trips each.
    const healing = new InFlight(HEAL_CONCURRENCY);
    let afterId = '';
    try {
      for (;;) {
        const page = await this.store.unhealed(run.id, afterId, 100);
        if (page.length === 0) break;
        afterId = page[page.length - 1].id;
        for (const d of page) {
          await healing.add(async () => {
            try {
              const healed =
                d.kind === 'payment'
                  ? await this.healPayment(run, d.id, d.outTradeNo!)
                  : await this.healRefund(run.channel, d.id, d.outRefundNo!);
              if (healed) tally.healed++;
            } catch (error) {
              this.logger.warn(
                `run ${run.id}: ${d.kind} ${d.outRefundNo ?? d.outTradeNo} not healed (${provider.channel} query failed): ${(error as Error).message}`,
              );
            }
          });
        }
      }
      await healing.drain();
    } finally {
      await healing.settled();
    }
  }

  /**
   * The discrepancy is marked healed in the transaction that applies the
   * channel's answer: a PAID answer that is not rejected leaves the attempt
   * SUCCEEDED whatever it was before (PaymentsService.applyChannelState).
   */
  private async healPayment(
    run: ReconciliationRun,
    discrepancyId: string,
    outTradeNo: string,
  ): Promise<boolean> {
    const state = await this.providers.get(run.channel).queryPayment(outTradeNo);
    if (state.status !== 'PAID') {
      this.logger.error(
        `run ${run.id}: ${outTradeNo} is paid on the ${run.channel} bill but the channel's query says ${state.status}; a person must look`,
      );
      return false;
    }
    const applied = await this.notifications.applyQueried(
      run.channel,
      state,
      { source: 'reconciliation', ref: run.id },
      new Date(),
      async (tx, result) => {
        if (result.result === 'rejected') return;
        const note = `healed: the ${run.channel} query confirmed the payment; applied through the notification path (${result.result})`;
        await this.store.markHealed(discrepancyId, note, new Date(), tx);
      },
    );
    if (applied.result === 'rejected') {
      this.logger.error(
        `run ${run.id}: ${outTradeNo} paid on the channel, not applied: ${applied.reason}`,
      );
      return false;
    }
    this.logger.warn(
      `run ${run.id}: ${outTradeNo} was paid on ${run.channel} and unpaid here; applied (${applied.result})`,
    );
    return true;
  }

  private async healRefund(
    channel: Channel,
    discrepancyId: string,
    outRefundNo: string,
  ): Promise<boolean> {
    const [local] = await this.refunds.findBooked(channel, [outRefundNo]);
    if (!local || local.status !== RefundStatus.PENDING) return false;
    const refund = await this.refunds.recheck(local.id);
    if (refund.status !== RefundStatus.SUCCEEDED) return false;
    const note = `healed: the ${channel} refund query confirmed the refund`;
    await this.store.markHealed(discrepancyId, note, new Date());
    return true;
  }

  // ---- failures ------------------------------------------------------------------------------

  private async failed(run: ReconciliationRun, error: unknown, startedAt: Date): Promise<void> {
    const reason: RunErrorReason =
      error instanceof BillError
        ? error.reason
        : error instanceof RunStopped
          ? 'abandoned'
          : 'error';
    const message =
      error instanceof BillError
        ? `${error.reason === 'not_ready' ? 'the bill is not ready yet' : error.reason === 'corrupt' ? 'the bill is corrupt' : 'the channel could not give the bill'}: ${error.message}`
        : `${(error as Error)?.message ?? String(error)}`;
    const retryAt = run.scheduleKey ? retryTime(run.billDate, startedAt) : null;
    try {
      await this.store.fail(run, reason, message, retryAt, new Date());
    } catch (dbError) {
      this.logger.error(
        `run ${run.id} failed and could not be marked FAILED: ${(dbError as Error).message}`,
      );
    }
    const next = retryAt ? `; the daily job tries again at ${retryAt.toISOString()}` : '';
    const log = `${run.channel} ${run.billDate} reconciliation failed (run ${run.id}, ${reason}): ${message}${next}`;
    if (reason === 'not_ready' || reason === 'abandoned') this.logger.warn(log);
    else this.logger.error(log);
  }

  /** This instance, as it signs the runs it holds. */
  get owner(): string {
    return this.jobs.instanceId;
  }
}

/** Daily runs are tried again every 30 minutes until the Beijing day after the bill's ends. */
export const RETRY_MS = 30 * 60_000;

function retryTime(billDate: string, now: Date): Date | null {
  const next = new Date(now.getTime() + RETRY_MS);
  return beijingDate(next) <= addDays(billDate, 1) ? next : null;
}

function within(at: Date, day: Day): boolean {
  return at >= day.from && at < day.to;
}

function comparePayment(row: BillRow, local: BookedPayment | undefined): FoundDiscrepancy | null {
  return compare(
    {
      kind: 'payment',
      outTradeNo: row.outTradeNo,
      outRefundNo: null,
      channelTradeNo: row.channelTradeNo ?? local?.channelTradeNo ?? null,
      channelAmount: row.amount,
      channelStatus: row.channelStatus.slice(0, 32),
    },
    local,
    PaymentStatus.SUCCEEDED,
  );
}

function compareRefund(row: BillRow, local: BookedRefund | undefined): FoundDiscrepancy | null {
  return compare(
    {
      kind: 'refund',
      outTradeNo: row.outTradeNo,
      outRefundNo: row.outRefundNo ?? null,
      channelTradeNo: row.channelTradeNo ?? null,
      channelAmount: row.amount,
      channelStatus: row.channelStatus.slice(0, 32),
    },
    local,
    RefundStatus.SUCCEEDED,
  );
}

/** What a bill row (`bill`) and our record of it disagree on, if anything. */
function compare(
  bill: Omit<FoundDiscrepancy, 'type' | 'localAmount' | 'localStatus'> & { channelAmount: number },
  local: { amount: number; status: string } | undefined,
  succeeded: string,
): FoundDiscrepancy | null {
  if (!local)
    return { ...bill, type: DiscrepancyType.MISSING_LOCAL, localAmount: null, localStatus: null };
  const ours = { localAmount: local.amount, localStatus: local.status };
  if (local.amount !== bill.channelAmount)
    return { ...bill, ...ours, type: DiscrepancyType.AMOUNT_MISMATCH };
  if (local.status !== succeeded)
    return { ...bill, ...ours, type: DiscrepancyType.STATUS_MISMATCH };
  return null;
}

function missingPayment(p: BookedPayment): FoundDiscrepancy {
  return {
    type: DiscrepancyType.MISSING_REMOTE,
    kind: 'payment',
    outTradeNo: p.outTradeNo,
    outRefundNo: null,
    channelTradeNo: p.channelTradeNo,
    channelAmount: null,
    localAmount: p.amount,
    channelStatus: null,
    localStatus: p.status,
  };
}

function missingRefund(r: BookedRefund): FoundDiscrepancy {
  return {
    type: DiscrepancyType.MISSING_REMOTE,
    kind: 'refund',
    outTradeNo: r.outTradeNo,
    outRefundNo: r.outRefundNo,
    channelTradeNo: r.channelRefundNo,
    channelAmount: null,
    localAmount: r.amount,
    channelStatus: null,
    localStatus: r.status,
  };
}
