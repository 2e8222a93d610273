/**
 * A simulated channel's books in one file under `<dataDir>/sandbox/`, so that a
 * restart changes nothing for a person trying paygate: the links paygate handed
 * out still open, unacknowledged notifications are still retried, refunds are
 * still there. Each channel's sandbox keeps its own file through a small
 * injectable subclass that names it, keys its trades and revives their dates.
 *
 * The file is a journal, one JSON line per trade as it was last written, the
 * newest line of a trade winning: a change appends the trades it touched, so
 * the cost of a write follows the changes, not the size of the books (a load
 * test leaves hundreds of thousands of trades). Writes are coalesced (one
 * append per burst of changes, at most every WRITE_DELAY_MS); the journal is
 * rewritten whole, atomically (a temporary file renamed over it), when it holds
 * more stale lines than live trades, and on the first write after loading. A
 * line cut short by a crash is skipped when loading. The last changes are
 * written at shutdown, after every onModuleDestroy, when the notifier and the
 * service have stopped changing the books. A development tool for one
 * instance: two processes sharing a data directory would overwrite each
 * other's trades.
 */
import { type BeforeApplicationShutdown, Logger } from '@nestjs/common';
import {
  appendFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

const WRITE_DELAY_MS = 50;
const FORMAT = 2;
/** Stale lines tolerated beyond the live trades before the journal is rewritten. */
const SLACK_LINES = 1000;

/** A JSON value written as an ISO string, back as a Date (undefined stays undefined). */
export const reviveDate = (v: unknown): Date | undefined =>
  typeof v === 'string' ? new Date(v) : (v as Date | undefined);

export abstract class SandboxBookStore<Trade extends object> implements BeforeApplicationShutdown {
  private readonly logger: Logger;
  private readonly file: string;
  /** The whole-file JSON of the earlier format, read when no journal exists yet. */
  private readonly legacyFile: string;
  private snapshot?: () => Trade[];
  private size?: () => number;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly dirty = new Set<Trade>();
  /** Rewrite the whole journal at the next write (after loading, or a change of unknown trades). */
  private rewrite = true;
  /** Lines in the journal file now. */
  private lines = 0;

  protected constructor(dataDir: string, baseName: string, loggerContext: string) {
    this.file = join(dataDir, 'sandbox', `${baseName}.jsonl`);
    this.legacyFile = join(dataDir, 'sandbox', `${baseName}.json`);
    this.logger = new Logger(loggerContext);
  }

  /** The trade's identity in the books: a later line with the same key replaces it. */
  protected abstract key(trade: Trade): string;
  /** Every Date in a saved trade, by where it sits: JSON turned them into strings. */
  protected abstract revive(trade: Trade): Trade;

  /** The trades kept by an earlier run; none on a first start or from an unreadable file. */
  load(): Trade[] {
    const text = readText(this.file);
    if (text === undefined) return this.loadLegacy();
    const trades = new Map<string, Trade>();
    const lines = text.split('\n');
    let skipped = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line === '') continue;
      try {
        const value = JSON.parse(line) as { format?: number } | Trade;
        if (i === 0) {
          if ((value as { format?: number }).format !== FORMAT) throw new Error('unknown format');
          continue;
        }
        const trade = this.revive(value as Trade);
        trades.set(this.key(trade), trade);
      } catch (error) {
        if (i === 0) {
          this.logger.warn(
            `${this.file} is unreadable (${(error as Error).message}); the sandbox starts with no trades`,
          );
          return [];
        }
        skipped++;
      }
    }
    if (skipped > 0) {
      this.logger.warn(`${this.file}: ${skipped} unreadable line(s) skipped (a write cut short)`);
    }
    return [...trades.values()];
  }

  /** Where the current books come from when they are rewritten whole, and how many trades they hold. */
  bind(snapshot: () => Trade[], size: () => number): void {
    this.snapshot = snapshot;
    this.size = size;
  }

  /**
   * Something changed on this trade (or, without one, somewhere in the books):
   * write soon, once for every change made meanwhile.
   */
  changed(trade?: Trade): void {
    if (!this.snapshot || this.closed) return;
    if (trade) this.dirty.add(trade);
    else this.rewrite = true;
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
    this.timer.unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.snapshot) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      if (this.rewrite || this.lines + this.dirty.size > 2 * this.size!() + SLACK_LINES) {
        this.rewriteAll();
      } else if (this.dirty.size > 0) {
        let text = '';
        for (const trade of this.dirty) text += `${JSON.stringify(trade)}\n`;
        appendFileSync(this.file, text, { mode: 0o600 });
        this.lines += this.dirty.size;
      }
      this.dirty.clear();
    } catch (error) {
      this.logger.error(`could not write ${this.file}: ${(error as Error).message}`);
    }
  }

  beforeApplicationShutdown(): void {
    if (this.timer) this.flush();
    this.closed = true;
  }

  private rewriteAll(): void {
    const trades = this.snapshot!();
    const temporary = `${this.file}.${process.pid}.tmp`;
    let text = `${JSON.stringify({ format: FORMAT })}\n`;
    for (const trade of trades) text += `${JSON.stringify(trade)}\n`;
    writeFileSync(temporary, text, { mode: 0o600 });
    renameSync(temporary, this.file);
    this.lines = trades.length + 1;
    this.rewrite = false;
    rmSync(this.legacyFile, { force: true });
  }

  /** The books as an earlier version kept them (one JSON document), taken over at the first write. */
  private loadLegacy(): Trade[] {
    const text = readText(this.legacyFile);
    if (text === undefined) return [];
    try {
      const saved = JSON.parse(text) as { format: number; trades: Trade[] };
      if (saved.format !== 1 || !Array.isArray(saved.trades)) throw new Error('unknown format');
      return saved.trades.map((t) => this.revive(t));
    } catch (error) {
      this.logger.warn(
        `${this.legacyFile} is unreadable (${(error as Error).message}); the sandbox starts with no trades`,
      );
      return [];
    }
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
