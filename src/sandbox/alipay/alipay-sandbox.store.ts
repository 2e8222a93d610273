/** The simulated Alipay's books, kept in `<dataDir>/sandbox/alipay-trades.jsonl` (SandboxBookStore). */
import { Inject, Injectable } from '@nestjs/common';
import { SandboxBookStore, reviveDate } from '../sandbox-book.store';
import { ALIPAY_SANDBOX_SETTINGS, type AlipaySandboxSettings } from './alipay-sandbox.settings';
import type { SandboxTrade } from './alipay-sandbox.types';

@Injectable()
export class AlipaySandboxStore extends SandboxBookStore<SandboxTrade> {
  constructor(@Inject(ALIPAY_SANDBOX_SETTINGS) settings: AlipaySandboxSettings) {
    super(settings.dataDir, 'alipay-trades', 'AlipaySandbox');
  }

  protected key(trade: SandboxTrade): string {
    return trade.outTradeNo;
  }

  protected revive(trade: SandboxTrade): SandboxTrade {
    trade.createdAt = reviveDate(trade.createdAt)!;
    trade.expiresAt = reviveDate(trade.expiresAt)!;
    trade.paidAt = reviveDate(trade.paidAt);
    trade.closedAt = reviveDate(trade.closedAt);
    for (const r of trade.refunds) r.refundedAt = reviveDate(r.refundedAt)!;
    for (const n of trade.notifications) {
      n.createdAt = reviveDate(n.createdAt)!;
      n.nextAttemptAt = n.nextAttemptAt === null ? null : reviveDate(n.nextAttemptAt)!;
      for (const a of n.attempts) a.at = reviveDate(a.at)!;
    }
    return trade;
  }
}
