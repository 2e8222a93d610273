import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

/**
 * Runs one job's work every `intervalMs`. A tick that finds the previous run
 * still going is skipped, so runs never overlap in one process; whether they
 * may overlap across instances is each job's business (leases, row claims).
 * The timer is registered in SchedulerRegistry under the job's name, and
 * stop() waits for the run in progress so shutdown never cuts a batch in half.
 */
export class PollLoop {
  private readonly logger: Logger;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly work: () => Promise<unknown>,
  ) {
    this.logger = new Logger(`Job ${name}`);
  }

  start(registry: SchedulerRegistry): void {
    if (this.timer) return;
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
    await this.running;
  }

  /** One run now, unless one is in progress (then that one's promise). */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.work()
      .then(() => undefined)
      .catch((error: Error) => {
        this.logger.error(`run failed: ${error.message}`, error.stack);
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
