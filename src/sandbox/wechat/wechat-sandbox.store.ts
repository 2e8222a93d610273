/**
 * Keeps the simulated WeChat Pay's books in `<dataDir>/sandbox/wechat-trades.json`,
 * so that a restart changes nothing for a person trying paygate: the code_url
 * and h5_url paygate handed out still open, unacknowledged notifications are
 * still retried, PROCESSING refunds still finish.
 *
 * Writes are coalesced (one write per burst of changes, at most every
 * WRITE_DELAY_MS) and atomic (a temporary file renamed over the old one); the
 * last changes are written at shutdown. A development tool for one instance:
 * two processes sharing a data directory would overwrite each other's trades.
 */
import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WECHAT_SANDBOX_SETTINGS, type WechatSandboxSettings } from './wechat-sandbox.settings';
import type { SandboxTrade } from './wechat-sandbox.types';

const WRITE_DELAY_MS = 50;
const FORMAT = 1;

/** Every Date in a SandboxTrade, by where it sits; JSON turns them into ISO strings. */
function reviveDates(trade: SandboxTrade): SandboxTrade {
  const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : (v as Date | undefined));
  trade.createdAt = date(trade.createdAt)!;
  trade.expiresAt = date(trade.expiresAt)!;
  trade.paidAt = date(trade.paidAt);
  trade.closedAt = date(trade.closedAt);
  for (const r of trade.refunds) {
    r.createdAt = date(r.createdAt)!;
    r.settleAt = date(r.settleAt)!;
    r.successAt = date(r.successAt);
  }
  for (const n of trade.notifications) {
    n.createdAt = date(n.createdAt)!;
    n.nextAttemptAt = n.nextAttemptAt === null ? null : date(n.nextAttemptAt)!;
    for (const a of n.attempts) a.at = date(a.at)!;
  }
  return trade;
}

@Injectable()
export class WechatSandboxStore implements BeforeApplicationShutdown {
  private readonly logger = new Logger('WechatSandbox');
  private readonly file: string;
  private snapshot?: () => SandboxTrade[];
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(@Inject(WECHAT_SANDBOX_SETTINGS) settings: WechatSandboxSettings) {
    this.file = join(settings.dataDir, 'sandbox', 'wechat-trades.json');
  }

  /** The trades kept by an earlier run; none on a first start or from an unreadable file. */
  load(): SandboxTrade[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    try {
      const saved = JSON.parse(text) as { format: number; trades: SandboxTrade[] };
      if (saved.format !== FORMAT || !Array.isArray(saved.trades)) {
        throw new Error('unknown format');
      }
      return saved.trades.map(reviveDates);
    } catch (error) {
      this.logger.warn(
        `${this.file} is unreadable (${(error as Error).message}); the sandbox starts with no trades`,
      );
      return [];
    }
  }

  /** Where the current books come from when they are written. */
  bind(snapshot: () => SandboxTrade[]): void {
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
      mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
      const temporary = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify({ format: FORMAT, trades: this.snapshot() }), {
        mode: 0o600,
      });
      renameSync(temporary, this.file);
    } catch (error) {
      this.logger.error(`could not write ${this.file}: ${(error as Error).message}`);
    }
  }

  /**
   * After every onModuleDestroy: the notifier and the service have stopped
   * changing the books by then, so the last write has everything.
   */
  beforeApplicationShutdown(): void {
    if (this.timer) this.flush();
    this.closed = true;
  }
}
