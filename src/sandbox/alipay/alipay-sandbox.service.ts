/**
 * The simulated Alipay's own books: trades, their state changes and refunds.
 *
 * A development tool: trades live in this process's memory and are kept in the
 * data directory (AlipaySandboxStore), so they survive a restart. paygate itself
 * keeps nothing in memory (design.md "Jobs and many instances"); the sandbox
 * stands in for Alipay's database, so with several paygate instances each has
 * its own sandbox and a trade is only known to the instance that created it.
 *
 * Methods used by the gateway throw AlipayGatewayError (the answer Alipay would
 * give); the control API's methods throw SandboxTradeNotFoundError and
 * SandboxTradeStateError.
 */
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  AlipayGatewayError,
  SandboxTradeNotFoundError,
  SandboxTradeStateError,
} from './alipay-sandbox.errors';
import { AlipaySandboxNotifier, type NotifyOptions } from './alipay-sandbox-notifier.service';
import { newBuyerId, newTradeNo, randomDigits } from './alipay-sandbox.ids';
import { ALIPAY_SANDBOX_SETTINGS, type AlipaySandboxSettings } from './alipay-sandbox.settings';
import { AlipaySandboxStore } from './alipay-sandbox.store';
import type {
  NotifyMode,
  NotifyTamper,
  PaidStatus,
  RefundFault,
  RefundFaultKind,
  SandboxNotification,
  SandboxRefund,
  SandboxTrade,
  TradeProduct,
} from './alipay-sandbox.types';

export interface CreateTradeInput {
  product: TradeProduct;
  outTradeNo: string;
  totalFen: number;
  subject: string;
  body?: string;
  notifyUrl?: string;
  returnUrl?: string;
  quitUrl?: string;
  passbackParams?: string;
  expiresAt: Date;
}

/** Alipay finds a trade by out_trade_no or by its own trade_no. */
export interface TradeRef {
  outTradeNo?: string;
  tradeNo?: string;
}

export interface RefundInput extends TradeRef {
  amountFen: number;
  /** Defaults to the trade's out_trade_no, as Alipay does for a refund without one. */
  outRequestNo?: string;
  reason?: string;
}

export interface RefundOutcome {
  trade: SandboxTrade;
  refund: SandboxRefund;
  /** false when out_request_no repeats an earlier refund: no money moved this time. */
  fundChange: boolean;
}

export interface PayOptions {
  status?: PaidStatus;
  notify?: NotifyMode;
  delayMs?: number;
  /** Pays a TRADE_CLOSED trade anyway: a late payment real Alipay would not produce. */
  force?: boolean;
  /** No notification at all (mark-paid): only a query can find out. */
  silent?: boolean;
}

/** setTimeout's ceiling (~24.8 days); longer expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

@Injectable()
export class AlipaySandboxService implements OnModuleInit, OnModuleDestroy {
  private readonly trades = new Map<string, SandboxTrade>();
  private readonly byTradeNo = new Map<string, SandboxTrade>();
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private readonly refundFaults = new Map<string, RefundFault>();
  /** Certificate mode: the alipay_cert_sn the next answer about a trade names instead of the real one. */
  private readonly answerCertSns = new Map<string, string>();
  private destroyed = false;

  constructor(
    @Inject(ALIPAY_SANDBOX_SETTINGS) private readonly settings: AlipaySandboxSettings,
    private readonly notifier: AlipaySandboxNotifier,
    private readonly store: AlipaySandboxStore,
  ) {}

  /** Takes up the books of the last run: expiries re-armed, unacknowledged notifications retried. */
  onModuleInit(): void {
    for (const trade of this.store.load()) {
      this.trades.set(trade.outTradeNo, trade);
      this.byTradeNo.set(trade.tradeNo, trade);
    }
    this.store.bind(
      () => [...this.trades.values()],
      () => this.trades.size,
    );
    for (const trade of this.trades.values()) {
      if (trade.status === 'WAIT_BUYER_PAY') this.armExpiry(trade);
      for (const n of trade.notifications) this.notifier.resume(n, trade);
    }
  }

  cashierUrl(outTradeNo: string): string {
    return `${this.settings.publicBaseUrl}/sandbox/alipay/cashier/${encodeURIComponent(outTradeNo)}`;
  }

  // ---- what the gateway does -------------------------------------------------

  /**
   * precreate / page.pay / wap.pay / app.pay. The same out_trade_no with the same
   * amount and subject answers the existing unpaid trade; anything else about an
   * existing out_trade_no is refused as Alipay refuses it.
   */
  createTrade(input: CreateTradeInput, now = new Date()): SandboxTrade {
    const existing = this.trades.get(input.outTradeNo);
    if (existing) {
      this.refreshExpiry(existing, now);
      if (existing.totalFen !== input.totalFen || existing.subject !== input.subject) {
        throw AlipayGatewayError.business(
          'ACQ.CONTEXT_INCONSISTENT',
          '交易信息被篡改 (out_trade_no already used with another total_amount or subject)',
        );
      }
      if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED') {
        throw AlipayGatewayError.business(
          'ACQ.TRADE_HAS_SUCCESS',
          '交易已被支付 (trade already paid)',
        );
      }
      if (existing.status === 'TRADE_CLOSED') {
        throw AlipayGatewayError.business('ACQ.TRADE_HAS_CLOSE', '交易已经关闭 (trade is closed)');
      }
      if (input.returnUrl) existing.returnUrl = input.returnUrl;
      if (input.quitUrl) existing.quitUrl = input.quitUrl;
      this.store.changed(existing);
      return existing;
    }
    const trade: SandboxTrade = {
      outTradeNo: input.outTradeNo,
      tradeNo: newTradeNo(now),
      product: input.product,
      subject: input.subject,
      body: input.body,
      totalFen: input.totalFen,
      status: 'WAIT_BUYER_PAY',
      notifyUrl: input.notifyUrl,
      returnUrl: input.returnUrl,
      quitUrl: input.quitUrl,
      passbackParams: input.passbackParams,
      createdAt: now,
      expiresAt: input.expiresAt,
      refunds: [],
      refundedFen: 0,
      notifications: [],
    };
    this.trades.set(trade.outTradeNo, trade);
    this.byTradeNo.set(trade.tradeNo, trade);
    this.armExpiry(trade);
    this.store.changed(trade);
    return trade;
  }

  findTrade(ref: TradeRef): SandboxTrade {
    if (!ref.outTradeNo && !ref.tradeNo) {
      throw AlipayGatewayError.invalidParameter('out_trade_no or trade_no is required');
    }
    const byOut = ref.outTradeNo ? this.trades.get(ref.outTradeNo) : undefined;
    const byNo = ref.tradeNo ? this.byTradeNo.get(ref.tradeNo) : undefined;
    const trade =
      ref.outTradeNo && ref.tradeNo ? (byOut === byNo ? byOut : undefined) : (byOut ?? byNo);
    if (!trade) throw AlipayGatewayError.tradeNotExist();
    this.refreshExpiry(trade);
    return trade;
  }

  /** Only an unpaid trade can be closed; Alipay then sends TRADE_CLOSED. */
  closeTrade(ref: TradeRef): SandboxTrade {
    const trade = this.findTrade(ref);
    trade.closeCalls = (trade.closeCalls ?? 0) + 1;
    this.store.changed(trade);
    if (trade.status !== 'WAIT_BUYER_PAY') {
      throw AlipayGatewayError.business(
        'ACQ.TRADE_STATUS_ERROR',
        `交易状态不合法 (trade is ${trade.status}; only WAIT_BUYER_PAY can be closed)`,
      );
    }
    this.close(trade, new Date());
    return trade;
  }

  refund(input: RefundInput): RefundOutcome {
    const trade = this.findTrade(input);
    const outRequestNo = input.outRequestNo ?? trade.outTradeNo;
    const earlier = trade.refunds.find((r) => r.outRequestNo === outRequestNo);
    if (earlier) {
      if (earlier.amountFen !== input.amountFen) {
        throw AlipayGatewayError.business(
          'ACQ.CONTEXT_INCONSISTENT',
          '参数不一致 (out_request_no already used with another refund_amount)',
        );
      }
      return { trade, refund: earlier, fundChange: false };
    }
    switch (trade.status) {
      case 'WAIT_BUYER_PAY':
        throw AlipayGatewayError.business(
          'ACQ.TRADE_STATUS_ERROR',
          '交易状态不合法 (trade is not paid)',
        );
      case 'TRADE_FINISHED':
        throw AlipayGatewayError.business(
          'ACQ.TRADE_HAS_FINISHED',
          '交易已完结 (trade is finished)',
        );
      case 'TRADE_CLOSED':
        throw AlipayGatewayError.business('ACQ.TRADE_HAS_CLOSE', '交易已经关闭 (trade is closed)');
      case 'TRADE_SUCCESS':
        break;
    }
    const remaining = trade.totalFen - trade.refundedFen;
    if (input.amountFen > remaining) {
      throw AlipayGatewayError.business(
        'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL',
        `退款金额超限 (refund_amount exceeds the ${remaining} fen that remain refundable)`,
      );
    }
    const now = new Date();
    const refund: SandboxRefund = {
      outRequestNo,
      amountFen: input.amountFen,
      reason: input.reason,
      refundedAt: now,
    };
    trade.refunds.push(refund);
    trade.refundedFen += input.amountFen;
    if (trade.refundedFen === trade.totalFen) {
      trade.status = 'TRADE_CLOSED';
      trade.closedAt = now;
    }
    this.notifier.notify(trade, 'refund', { refund });
    this.store.changed(trade);
    return { trade, refund, fundChange: true };
  }

  /** Used up by the next successful answer about this trade. */
  setAnswerCertSn(outTradeNo: string, alipayCertSn: string): SandboxTrade {
    const trade = this.getTrade(outTradeNo);
    this.answerCertSns.set(outTradeNo, alipayCertSn);
    return trade;
  }

  takeAnswerCertSn(outTradeNo: string | undefined): string | undefined {
    const sn = outTradeNo ? this.answerCertSns.get(outTradeNo) : undefined;
    if (sn !== undefined) this.answerCertSns.delete(outTradeNo!);
    return sn;
  }

  /** The fault the next refund call of this trade meets, if one was set (used up one call at a time). */
  takeRefundFault(outTradeNo: string | undefined): RefundFault | undefined {
    const fault = outTradeNo ? this.refundFaults.get(outTradeNo) : undefined;
    if (!fault) return undefined;
    if (--fault.remaining <= 0) this.refundFaults.delete(outTradeNo!);
    return fault;
  }

  findRefund(ref: TradeRef, outRequestNo: string): { trade: SandboxTrade; refund?: SandboxRefund } {
    const trade = this.findTrade(ref);
    return { trade, refund: trade.refunds.find((r) => r.outRequestNo === outRequestNo) };
  }

  /** Every trade, newest first, for bills and the control API. */
  allTrades(): SandboxTrade[] {
    const now = new Date();
    const list = [...this.trades.values()];
    for (const t of list) this.refreshExpiry(t, now);
    return list.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  // ---- what the control API and the cashier page do ---------------------------

  getTrade(outTradeNo: string): SandboxTrade {
    const trade = this.trades.get(outTradeNo);
    if (!trade) throw new SandboxTradeNotFoundError(outTradeNo);
    this.refreshExpiry(trade);
    return trade;
  }

  /** The buyer pays; Alipay notifies unless `silent`. */
  pay(outTradeNo: string, options: PayOptions = {}): SandboxTrade {
    const trade = this.getTrade(outTradeNo);
    if (trade.status === 'TRADE_SUCCESS' || trade.status === 'TRADE_FINISHED') {
      throw new SandboxTradeStateError(`trade ${outTradeNo} is already paid (${trade.status})`);
    }
    if (trade.status === 'TRADE_CLOSED' && (!options.force || trade.refundedFen > 0)) {
      throw new SandboxTradeStateError(
        `trade ${outTradeNo} is TRADE_CLOSED; pass force: true to simulate a payment landing after the close`,
      );
    }
    this.disarmExpiry(trade);
    const now = new Date();
    trade.status = options.status ?? 'TRADE_SUCCESS';
    trade.paidAt = now;
    trade.closedAt = undefined;
    trade.buyerId = newBuyerId();
    trade.buyerLogonId = `13${randomDigits(1)}****${randomDigits(4)}`;
    if (!options.silent) {
      this.notifier.notify(trade, 'payment', { mode: options.notify, delayMs: options.delayMs });
    }
    this.store.changed(trade);
    return trade;
  }

  /** Makes the next `times` refund calls of a trade fail, fail unsurely, or answer late. */
  setRefundFault(
    outTradeNo: string,
    outcome: RefundFaultKind,
    times = 1,
    delayMs = 30_000,
  ): SandboxTrade {
    const trade = this.getTrade(outTradeNo);
    this.refundFaults.set(outTradeNo, { outcome, delayMs, remaining: times });
    return trade;
  }

  /** The buyer gives up or the payment fails for good: the unpaid trade closes. */
  fail(outTradeNo: string): SandboxTrade {
    const trade = this.getTrade(outTradeNo);
    if (trade.status !== 'WAIT_BUYER_PAY') {
      throw new SandboxTradeStateError(
        `trade ${outTradeNo} is ${trade.status}, not WAIT_BUYER_PAY`,
      );
    }
    this.close(trade, new Date());
    return trade;
  }

  /**
   * Sends the notification of the trade's current state again, with a fresh
   * notify_id; a tampered one goes out once, without retries.
   */
  resendNotification(outTradeNo: string, tamper?: NotifyTamper): SandboxNotification {
    const trade = this.getTrade(outTradeNo);
    if (trade.status === 'WAIT_BUYER_PAY') {
      throw new SandboxTradeStateError('Alipay sends no notification for WAIT_BUYER_PAY');
    }
    if (!trade.notifyUrl) throw new SandboxTradeStateError(`trade ${outTradeNo} has no notify_url`);
    const options: NotifyOptions = { tamper, refund: trade.refunds[trade.refunds.length - 1] };
    const sent = this.notifier.notify(trade, 'resend', options);
    if (!sent) throw new SandboxTradeStateError('the sandbox is shutting down');
    return sent;
  }

  onModuleDestroy(): void {
    this.destroyed = true;
    for (const t of this.expiryTimers.values()) clearTimeout(t);
    this.expiryTimers.clear();
  }

  // ---- expiry -------------------------------------------------------------------

  private close(trade: SandboxTrade, at: Date): void {
    this.disarmExpiry(trade);
    trade.status = 'TRADE_CLOSED';
    trade.closedAt = at;
    this.notifier.notify(trade, 'close');
    this.store.changed(trade);
  }

  /** An unpaid trade past its time_expire is closed, whoever looks first. */
  private refreshExpiry(trade: SandboxTrade, now = new Date()): void {
    if (trade.status === 'WAIT_BUYER_PAY' && now.getTime() >= trade.expiresAt.getTime()) {
      this.close(trade, trade.expiresAt);
    }
  }

  /** Closes the trade at its expiry even if nobody asks, so TRADE_CLOSED is notified on time. */
  private armExpiry(trade: SandboxTrade): void {
    if (this.destroyed) return;
    this.disarmExpiry(trade);
    const wait = Math.max(0, trade.expiresAt.getTime() - Date.now());
    const timer = setTimeout(
      () => {
        this.expiryTimers.delete(trade.outTradeNo);
        // Node may fire a timer a millisecond early (and caps it at ~24.8 days):
        // not yet due means wait again, never a missed expiry.
        if (Date.now() < trade.expiresAt.getTime()) this.armExpiry(trade);
        else this.refreshExpiry(trade);
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    timer.unref();
    this.expiryTimers.set(trade.outTradeNo, timer);
  }

  private disarmExpiry(trade: SandboxTrade): void {
    const timer = this.expiryTimers.get(trade.outTradeNo);
    if (timer) clearTimeout(timer);
    this.expiryTimers.delete(trade.outTradeNo);
  }
}
