import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { DomainError } from '../common/errors/domain-error';
import { Page } from '../common/pagination/keyset';
import { jobsConfig } from '../config/jobs.config';
import { CHANNELS, Channel } from '../payments/payment-provider';
import { ProviderRegistry } from '../payments/provider-registry';
import { addDays, beijingDate, beijingMinuteOfDay } from './beijing-day';
import { ListDiscrepanciesQuery } from './dto/reconciliation.dto';
import { ReconciliationDiscrepancy } from './entities/reconciliation-discrepancy.entity';
import { ReconciliationRun } from './entities/reconciliation-run.entity';
import { ReconciliationRunner } from './reconciliation.runner';
import { ReconciliationStore } from './reconciliation.store';

/** The daily job's runs carry this schedule key: one per channel and day, across instances. */
const DAILY = 'daily';

/**
 * Reconciliation's rules: who may start a run and when, the daily schedule with
 * its retries, runs left behind by a stopped instance, and the operators' view
 * of discrepancies. ReconciliationRunner does the comparison itself.
 */
@Injectable()
export class ReconciliationService implements OnModuleDestroy {
  private readonly logger = new Logger('Reconciliation');
  /** Runs started by operators on this instance, awaited (and stopped) at shutdown. */
  private readonly background = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: ReconciliationStore,
    private readonly runner: ReconciliationRunner,
    private readonly providers: ProviderRegistry,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
  ) {}

  /**
   * An operator's run: recorded RUNNING and carried out in the background; the
   * caller polls it. Today's bill is allowed (a sandbox serves the day so far);
   * a later day is refused.
   */
  async start(channel: Channel, date: string, now = new Date()): Promise<ReconciliationRun> {
    if (!this.providers.has(channel)) {
      throw new DomainError(
        'CHANNEL_NOT_CONFIGURED',
        `channel: ${channel} is not configured on this paygate`,
      );
    }
    if (date > beijingDate(now)) {
      throw new DomainError('VALIDATION_FAILED', `date: ${date} is in the future (Beijing time)`, {
        fields: ['date'],
      });
    }
    const run = await this.store.insertRun(channel, date, this.jobs.instanceId, null, now);
    if (!run) throw new Error('an operator run was refused as a duplicate');
    this.inBackground(run);
    return run;
  }

  private inBackground(run: ReconciliationRun): void {
    const work = this.runner
      .execute(run, this.stopping.signal)
      .finally(() => this.background.delete(work));
    this.background.add(work);
  }

  get(id: string): Promise<ReconciliationRun> {
    return this.store.getRun(id);
  }

  list(filter: { channel?: string; date?: string }): Promise<ReconciliationRun[]> {
    return this.store.listRuns(filter, 100);
  }

  async discrepancies(
    runId: string,
    query: ListDiscrepanciesQuery,
  ): Promise<Page<ReconciliationDiscrepancy>> {
    await this.store.getRun(runId);
    return this.store.listDiscrepancies(runId, query);
  }

  /** Every discrepancy of a run that matches the filter, a page at a time (for the CSV export). */
  async *allDiscrepancies(
    runId: string,
    query: ListDiscrepanciesQuery,
  ): AsyncIterable<ReconciliationDiscrepancy> {
    await this.store.getRun(runId);
    let cursor: string | undefined;
    do {
      const page = await this.store.listDiscrepancies(runId, { ...query, cursor, limit: 200 });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  resolve(id: string, note: string, now = new Date()): Promise<ReconciliationDiscrepancy> {
    return this.store.resolve(id, note.trim(), now);
  }

  /**
   * One tick of the daily job: hands runs left behind by a stopped instance
   * back (FAILED, their records removed; daily ones are retried), then, from
   * RECONCILE_AT Beijing time, starts each configured channel's run of the day
   * before (one across instances) and the retries that are due. Returns how
   * many runs it carried out.
   */
  async runDaily(signal: AbortSignal, now = new Date()): Promise<number> {
    await this.recoverAbandoned(now);
    if (beijingMinuteOfDay(now) < this.jobs.reconcile.atMinute) return 0;
    const billDate = addDays(beijingDate(now), -1);
    let done = 0;
    for (const channel of CHANNELS) {
      if (signal.aborted) break;
      if (!this.providers.has(channel)) continue;
      const run = await this.store.insertRun(channel, billDate, this.jobs.instanceId, DAILY, now);
      if (!run) continue;
      await this.runner.execute(run, signal, now);
      done++;
    }
    for (const run of await this.store.dueRetries(billDate, now)) {
      if (signal.aborted) break;
      if (!(await this.store.claimRetry(run, this.jobs.instanceId, now))) continue;
      this.logger.log(
        `${run.channel} ${run.billDate}: attempt ${run.attempts} of the daily reconciliation`,
      );
      await this.runner.execute(run, signal, now);
      done++;
    }
    return done;
  }

  private async recoverAbandoned(now: Date): Promise<void> {
    for (const run of await this.store.abandoned(now, 20)) {
      const retryAt = run.scheduleKey ? now : null;
      if (
        await this.store.fail(
          run,
          'abandoned',
          `the instance running it (${run.owner}) stopped before it finished`,
          retryAt,
          now,
        )
      ) {
        this.logger.warn(
          `run ${run.id} (${run.channel} ${run.billDate}) was left RUNNING by ${run.owner}; marked FAILED${retryAt ? ', the daily job runs it again' : ''}`,
        );
      }
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.background]);
  }
}
