/**
 * The simulated WeChat Pay's books, kept in `<dataDir>/sandbox/wechat-trades.jsonl`
 * (SandboxBookStore): the code_url and h5_url paygate handed out still open after a
 * restart, unacknowledged notifications are still retried, PROCESSING refunds still finish.
 */
import { Inject, Injectable } from '@nestjs/common';
import { SandboxBookStore, reviveDate } from '../sandbox-book.store';
import { WECHAT_SANDBOX_SETTINGS, type WechatSandboxSettings } from './wechat-sandbox.settings';
import type { SandboxTrade } from './wechat-sandbox.types';

@Injectable()
export class WechatSandboxStore extends SandboxBookStore<SandboxTrade> {
  constructor(@Inject(WECHAT_SANDBOX_SETTINGS) settings: WechatSandboxSettings) {
    // v2 keeps its own books: a switch of WECHAT_API_VERSION does not mix the two.
    super(
      settings.dataDir,
      settings.apiVersion === 'v2' ? 'wechat-v2-trades' : 'wechat-trades',
      'WechatSandbox',
    );
  }

  protected key(trade: SandboxTrade): string {
    return trade.outTradeNo;
  }

  protected revive(trade: SandboxTrade): SandboxTrade {
    trade.createdAt = reviveDate(trade.createdAt)!;
    trade.expiresAt = reviveDate(trade.expiresAt)!;
    trade.paidAt = reviveDate(trade.paidAt);
    trade.closedAt = reviveDate(trade.closedAt);
    for (const r of trade.refunds) {
      r.createdAt = reviveDate(r.createdAt)!;
      r.settleAt = reviveDate(r.settleAt)!;
      r.successAt = reviveDate(r.successAt);
    }
    for (const n of trade.notifications) {
      n.createdAt = reviveDate(n.createdAt)!;
      n.nextAttemptAt = n.nextAttemptAt === null ? null : reviveDate(n.nextAttemptAt)!;
      for (const a of n.attempts) a.at = reviveDate(a.at)!;
    }
    return trade;
  }
}
