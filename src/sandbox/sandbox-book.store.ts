/**
 * A simulated channel's books in one JSON file under `<dataDir>/sandbox/`, so that
 * a restart changes nothing for a person trying paygate: the links paygate handed
 * out still open, unacknowledged notifications are still retried, refunds are
 * still there. Each channel's sandbox keeps its own file through a small
 * injectable subclass that names it and revives its dates.
 *
 * Writes are coalesced (one write per burst of changes, at most every
 * WRITE_DELAY_MS) and atomic (a temporary file renamed over the old one); the
 * last changes are written at shutdown, after every onModuleDestroy, when the
 * notifier and the service have stopped changing the books. A development tool
 * for one instance: two processes sharing a data directory would overwrite each
 * other's trades.
 */
import { type BeforeApplicationShutdown, Logger } from '@nestjs/common';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const WRITE_DELAY_MS = 50;
const FORMAT = 1;

/** A JSON value written as an ISO string, back as a Date (undefined stays undefined). */
export const reviveDate = (v: unknown): Date | undefined =>
  typeof v === 'string' ? new Date(v) : (v as Date | undefined);

export abstract class SandboxBookStore<Trade> implements BeforeApplicationShutdown {
  private readonly logger: Logger;
  private readonly file: string;
  private snapshot?: () => Trade[];
  private timer?: NodeJS.Timeout;
  private closed = false;

  protected constructor(dataDir: string, fileName: string, loggerContext: string) {
    this.file = join(dataDir, 'sandbox', fileName);
    this.logger = new Logger(loggerContext);
  }

  /** Every Date in a saved trade, by where it sits: JSON turned them into strings. */
  protected abstract revive(trade: Trade): Trade;

  /** The trades kept by an earlier run; none on a first start or from an unreadable file. */
  load(): Trade[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    try {
      const saved = JSON.parse(text) as { format: number; trades: Trade[] };
      if (saved.format !== FORMAT || !Array.isArray(saved.trades))
        throw new Error('unknown format');
      return saved.trades.map((t) => this.revive(t));
    } catch (error) {
      this.logger.warn(
        `${this.file} is unreadable (${(error as Error).message}); the sandbox starts with no trades`,
      );
      return [];
    }
  }

  /** Where the current books come from when they are written. */
  bind(snapshot: () => Trade[]): void {
    this.snapshot = snapshot;
  }

  /** Something changed: write soon, once for every change made meanwhile. */
  changed(): void {
    if (this.timer || !this.snapshot || this.closed) return;
    this.timer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
    this.timer.unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.snapshot) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const temporary = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify({ format: FORMAT, trades: this.snapshot() }), {
        mode: 0o600,
      });
      renameSync(temporary, this.file);
    } catch (error) {
      this.logger.error(`could not write ${this.file}: ${(error as Error).message}`);
    }
  }

  beforeApplicationShutdown(): void {
    if (this.timer) this.flush();
    this.closed = true;
  }
}
