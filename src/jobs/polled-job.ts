import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { JobsConfig } from '../config/jobs.config';
import { JobLeaseService } from '../database/job-lease.service';
import { PollLoop, PollLoopOptions } from './poll-loop';

/**
 * A scheduled job: when JOBS_ENABLED, `run()` every JOBS_POLL_INTERVAL_MS (and
 * on wake()) in a PollLoop, stopped (waiting for the run in progress) at
 * shutdown. Subclasses only say what one run does.
 */
export abstract class PolledJob implements OnApplicationBootstrap, OnModuleDestroy {
  protected readonly logger: Logger;
  private loop?: PollLoop;
  /** Set once this instance has taken the job's lease, so shutdown hands it back. */
  private heldLease?: JobLeaseService;

  protected constructor(
    readonly name: string,
    private readonly registry: SchedulerRegistry,
    protected readonly jobs: JobsConfig,
  ) {
    this.logger = new Logger(`Job ${name}`);
  }

  /** One batch; resolves to how many rows it handled. */
  abstract run(now?: Date): Promise<number>;

  onApplicationBootstrap(): void {
    if (!this.jobs.enabled) return;
    this.loop = new PollLoop(
      this.name,
      this.jobs.pollIntervalMs,
      (signal) => this.runInLoop(signal),
      this.loopOptions(),
    );
    this.loop.start(this.registry);
  }

  /** Asks for a run soon instead of at the next poll (coalesced); nothing when jobs are off. */
  wake(): void {
    this.loop?.wake();
  }

  /** What the loop runs: `run()`; a job whose runs can be long stops early when `signal` aborts (shutdown). */
  protected runInLoop(_signal: AbortSignal): Promise<unknown> {
    return this.run();
  }

  protected loopOptions(): PollLoopOptions {
    return {};
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop?.stop(this.registry);
    // Another instance may take over at once instead of waiting for the lease to run out.
    await this.heldLease?.release(this.name, this.jobs.instanceId).catch(() => undefined);
  }

  /**
   * Runs `work` only while this instance holds the job's lease, so one instance
   * at a time does a job that calls channels. The lease is an economy, not the
   * safety: every row still changes through conditional updates.
   */
  protected async withLease(leases: JobLeaseService, work: () => Promise<number>): Promise<number> {
    if (!(await this.renewLease(leases))) return 0;
    this.heldLease = leases;
    const done = await work();
    if (done > 0) this.logger.log(`${done} handled`);
    return done;
  }

  /** Takes the job's lease, or extends it when this instance holds it; false when another does. */
  protected renewLease(leases: JobLeaseService): Promise<boolean> {
    const ttl = Math.max(60_000, this.jobs.pollIntervalMs * 3);
    return leases.tryAcquire(this.name, this.jobs.instanceId, ttl);
  }
}
