import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

export interface PollLoopOptions {
  /**
   * Called when a tick or a wake() finds a run in progress: a long run may take
   * it as a hint to look for new work before it ends.
   */
  onBusy?: () => void;
}

/**
 * Runs one job's work every `intervalMs`, and soon after wake(). A tick that
 * finds the previous run still going joins it, so runs never overlap in one
 * process; whether they may overlap across instances is each job's business
 * (leases, row claims). Wakes are coalesced: many while idle make one run, any
 * during a run make one more right after it. The timer is registered in
 * SchedulerRegistry under the job's name; stop() aborts the signal the work
 * was given and waits for the run in progress, so shutdown never cuts a batch
 * in half, and after it nothing runs again.
 */
export class PollLoop {
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  /** A wake arrived during the run in progress. */
  private again = false;
  private wakeQueued = false;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly work: (signal: AbortSignal) => Promise<unknown>,
    private readonly options: PollLoopOptions = {},
  ) {
    this.logger = new Logger(`Job ${name}`);
  }

  start(registry: SchedulerRegistry): void {
    if (this.timer || this.stopping.signal.aborted) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    registry.addInterval(this.name, this.timer);
    this.logger.log(`every ${this.intervalMs} ms`);
  }

  async stop(registry: SchedulerRegistry): Promise<void> {
    if (this.timer) {
      if (registry.doesExist('interval', this.name)) registry.deleteInterval(this.name);
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.stopping.abort();
    await this.running;
  }

  /** One run now, unless one is in progress (then that one's promise). */
  tick(): Promise<void> {
    if (this.running) {
      this.options.onBusy?.();
      return this.running;
    }
    this.running = this.work(this.stopping.signal)
      .then(() => undefined)
      .catch((error: Error) => {
        this.logger.error(`run failed: ${error.message}`, error.stack);
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
    return this.running;
  }

  /** A run soon (on the next turn of the event loop), coalesced; nothing unless started. */
  wake(): void {
    if (!this.timer) return;
    if (this.running) {
      this.again = true;
      this.options.onBusy?.();
      return;
    }
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      if (this.timer) void this.tick();
    });
  }
}
