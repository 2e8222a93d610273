/**
 * The simulated WeChat Pay's own books: trades, their state changes and refunds.
 *
 * A development tool: trades live in this process's memory and are kept in the
 * data directory (WechatSandboxStore), so they survive a restart. paygate itself
 * keeps nothing in memory (design.md "Jobs and many instances"); the sandbox
 * stands in for WeChat's database, so with several paygate instances each has
 * its own sandbox and a trade is only known to the instance that created it.
 *
 * Methods used by the gateway throw WechatApiError (the answer WeChat would
 * give); the control API's methods throw SandboxTradeNotFoundError and
 * SandboxTradeStateError.
 */
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  SandboxTradeNotFoundError,
  SandboxTradeStateError,
  WechatApiError,
} from './wechat-sandbox.errors';
import { newOpenid, newPrepayId, newRefundId, newTransactionId } from './wechat-sandbox.ids';
import { WechatSandboxNotifications } from './wechat-sandbox-notifications';
import { WECHAT_SANDBOX_SETTINGS, type WechatSandboxSettings } from './wechat-sandbox.settings';
import { WechatSandboxStore } from './wechat-sandbox.store';
import {
  refundedFen,
  type NotifyMode,
  type NotifyTamper,
  type RefundFailure,
  type RefundFault,
  type RefundFaultKind,
  type SandboxNotification,
  type SandboxRefund,
  type SandboxTrade,
  type TradeProduct,
} from './wechat-sandbox.types';

/** How long an accepted refund stays PROCESSING (times timeScale): WeChat answers before it refunds. */
export const REFUND_SETTLE_MS = 10_000;

/** setTimeout's ceiling (~24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface PlaceOrderInput {
  product: TradeProduct;
  /** v2 only. */
  signType?: 'MD5' | 'HMAC-SHA256';
  outTradeNo: string;
  appId: string;
  description: string;
  attach?: string;
  goodsTag?: string;
  notifyUrl: string;
  totalFen: number;
  payerOpenid?: string;
  payerClientIp?: string;
  h5Type?: string;
  expiresAt: Date;
  /** The business fields that must match when the same out_trade_no comes again. */
  fingerprint: string;
}

/** WeChat finds the refunded trade by out_trade_no or transaction_id. */
export interface RefundInput {
  outTradeNo?: string;
  transactionId?: string;
  outRefundNo: string;
  amountFen: number;
  /** amount.total: must be the order's total. */
  totalFen: number;
  reason?: string;
  notifyUrl?: string;
}

export interface PayOptions {
  notify?: NotifyMode;
  delayMs?: number;
  /** Pays a CLOSED trade anyway: a late payment real WeChat would not produce. */
  force?: boolean;
  /** No notification at all (mark-paid): only a query can find out. */
  silent?: boolean;
}

@Injectable()
export class WechatSandboxService implements OnModuleInit, OnModuleDestroy {
  private readonly trades = new Map<string, SandboxTrade>();
  private readonly byTransactionId = new Map<string, SandboxTrade>();
  private readonly byPrepayId = new Map<string, SandboxTrade>();
  /** out_refund_no is unique per merchant, not per trade. */
  private readonly byOutRefundNo = new Map<string, SandboxTrade>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly refundFaults = new Map<string, RefundFault>();
  private destroyed = false;

  constructor(
    @Inject(WECHAT_SANDBOX_SETTINGS) private readonly settings: WechatSandboxSettings,
    private readonly notifier: WechatSandboxNotifications,
    private readonly store: WechatSandboxStore,
  ) {}

  /** Takes up the books of the last run: expiries and refunds re-armed, notifications retried. */
  onModuleInit(): void {
    for (const trade of this.store.load()) this.index(trade);
    this.store.bind(
      () => [...this.trades.values()],
      () => this.trades.size,
    );
    for (const trade of this.trades.values()) {
      if (trade.status === 'NOTPAY') this.armExpiry(trade);
      for (const r of trade.refunds) if (r.status === 'PROCESSING') this.armSettle(trade, r);
      for (const n of trade.notifications) this.notifier.resume(n, trade);
    }
  }

  cashierUrl(outTradeNo: string): string {
    return `${this.settings.publicBaseUrl}/sandbox/wechat/cashier/${encodeURIComponent(outTradeNo)}`;
  }

  // ---- what the gateway does -------------------------------------------------

  /**
   * POST /v3/pay/transactions/{native|jsapi|h5|app}. The same out_trade_no with
   * the same content answers the existing unpaid trade (a retry after a
   * timeout); other content, a paid or a closed trade are refused as WeChat
   * refuses them.
   */
  placeOrder(input: PlaceOrderInput, now = new Date()): SandboxTrade {
    const existing = this.trades.get(input.outTradeNo);
    if (existing) {
      this.refreshExpiry(existing, now);
      if (existing.fingerprint !== input.fingerprint) {
        throw new WechatApiError(
          403,
          'OUT_TRADE_NO_USED',
          '商户订单号重复 (out_trade_no already used with other order content or another placement API)',
        );
      }
      if (existing.status === 'SUCCESS') {
        throw new WechatApiError(400, 'ORDERPAID', '该订单已支付 (the order is already paid)');
      }
      if (existing.status === 'CLOSED') {
        throw new WechatApiError(400, 'ORDER_CLOSED', '订单已关闭 (the order is closed)');
      }
      return existing;
    }
    const { fingerprint, ...fields } = input;
    const trade: SandboxTrade = {
      ...fields,
      fingerprint,
      prepayId: newPrepayId(now),
      status: 'NOTPAY',
      createdAt: now,
      refunds: [],
      notifications: [],
    };
    this.index(trade);
    this.armExpiry(trade);
    this.store.changed(trade);
    return trade;
  }

  findTrade(outTradeNo: string): SandboxTrade {
    const trade = this.trades.get(outTradeNo);
    if (!trade) throw WechatApiError.orderNotExist();
    this.refreshExpiry(trade);
    return trade;
  }

  /** Only paid trades have a transaction_id: an unpaid one is not found this way. */
  findByTransactionId(transactionId: string): SandboxTrade {
    const trade = this.byTransactionId.get(transactionId);
    if (!trade) throw WechatApiError.orderNotExist();
    return trade;
  }

  /** Closing is reentrant: a closed trade closes again silently; a paid one cannot. */
  closeTrade(outTradeNo: string): SandboxTrade {
    const trade = this.findTrade(outTradeNo);
    trade.closeCalls = (trade.closeCalls ?? 0) + 1;
    this.store.changed(trade);
    if (trade.status === 'SUCCESS') {
      throw new WechatApiError(
        400,
        'ORDERPAID',
        '订单已支付 (the order is paid; it cannot be closed)',
      );
    }
    if (trade.status === 'NOTPAY') this.close(trade, new Date());
    return trade;
  }

  /**
   * POST /v3/refund/domestic/refunds. A new refund is accepted as PROCESSING
   * and finishes REFUND_SETTLE_MS × timeScale later; the same out_refund_no
   * again answers that refund as it stands.
   */
  refund(input: RefundInput, fault?: RefundFault): { trade: SandboxTrade; refund: SandboxRefund } {
    const trade = this.refundedTrade(input);
    const earlierTrade = this.byOutRefundNo.get(input.outRefundNo);
    if (earlierTrade && earlierTrade !== trade) {
      throw WechatApiError.invalidRequest(
        '您的请求参数与订单信息不一致 (out_refund_no already used for another order)',
      );
    }
    const earlier = trade.refunds.find((r) => r.outRefundNo === input.outRefundNo);
    if (earlier) {
      // The FAQ names this REFUND_FEE_MISMATCH without a status; INVALID_REQUEST is the documented 400.
      if (earlier.amountFen !== input.amountFen || trade.totalFen !== input.totalFen) {
        throw WechatApiError.invalidRequest(
          '订单金额或退款金额与之前请求不一致 (out_refund_no already used with another amount)',
        );
      }
      return { trade, refund: earlier };
    }
    if (trade.paidAt === undefined) {
      throw new WechatApiError(404, 'RESOURCE_NOT_EXISTS', '订单不存在 (the order is not paid)');
    }
    if (input.totalFen !== trade.totalFen) {
      throw WechatApiError.invalidRequest(
        `您的请求参数与订单信息不一致 (amount.total must be the order's total, ${trade.totalFen})`,
      );
    }
    if (fault?.outcome === 'not_enough') {
      throw new WechatApiError(
        403,
        'NOT_ENOUGH',
        '基本账户余额不足，请充值后重新发起 (sandbox: this refund was told to be refused)',
      );
    }
    if (fault?.outcome === 'system_error') {
      throw new WechatApiError(
        500,
        'SYSTEM_ERROR',
        '系统错误 (sandbox: this refund was told to fail unsurely; nothing was refunded)',
      );
    }
    const remaining = trade.totalFen - refundedFen(trade);
    if (input.amountFen > remaining) {
      throw WechatApiError.invalidRequest(
        `申请退款金额超过订单可退金额 (amount.refund exceeds the ${remaining} fen that remain refundable)`,
      );
    }
    const now = new Date();
    const refund: SandboxRefund = {
      outRefundNo: input.outRefundNo,
      refundId: newRefundId(),
      amountFen: input.amountFen,
      reason: input.reason,
      notifyUrl: input.notifyUrl,
      status: 'PROCESSING',
      endsAs: fault?.outcome === 'fail' ? fault.endsAs : 'SUCCESS',
      createdAt: now,
      settleAt: new Date(now.getTime() + Math.round(REFUND_SETTLE_MS * this.settings.timeScale)),
    };
    trade.refunds.push(refund);
    this.byOutRefundNo.set(refund.outRefundNo, trade);
    this.armSettle(trade, refund);
    this.store.changed(trade);
    return { trade, refund };
  }

  findRefund(outRefundNo: string): { trade: SandboxTrade; refund: SandboxRefund } {
    const trade = this.byOutRefundNo.get(outRefundNo);
    const refund = trade?.refunds.find((r) => r.outRefundNo === outRefundNo);
    if (!trade || !refund) {
      throw new WechatApiError(
        404,
        'RESOURCE_NOT_EXISTS',
        '退款单不存在 (no refund with that out_refund_no)',
      );
    }
    return { trade, refund };
  }

  /** The fault the next refund call of this trade meets, if one was set (used up one call at a time). */
  takeRefundFault(outTradeNo: string | undefined): RefundFault | undefined {
    const fault = outTradeNo ? this.refundFaults.get(outTradeNo) : undefined;
    if (!fault) return undefined;
    if (--fault.remaining <= 0) this.refundFaults.delete(outTradeNo!);
    return fault;
  }

  /** What the WeChat client does with a prepay_id (JSAPI / APP): the trade to pay. */
  findByPrepayId(prepayId: string): SandboxTrade | undefined {
    const trade = this.byPrepayId.get(prepayId);
    if (trade) this.refreshExpiry(trade);
    return trade;
  }

  /** Every trade, newest first, for the control API. */
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

  /** The buyer pays; WeChat notifies TRANSACTION.SUCCESS unless `silent`. */
  pay(outTradeNo: string, options: PayOptions = {}): SandboxTrade {
    const trade = this.getTrade(outTradeNo);
    if (trade.status === 'SUCCESS') {
      throw new SandboxTradeStateError(`trade ${outTradeNo} is already paid`);
    }
    if (trade.status === 'CLOSED' && !options.force) {
      throw new SandboxTradeStateError(
        `trade ${outTradeNo} is CLOSED; pass force: true to simulate a payment landing after the close`,
      );
    }
    this.disarm(`expiry:${trade.outTradeNo}`);
    const now = new Date();
    trade.status = 'SUCCESS';
    trade.paidAt = now;
    trade.closedAt = undefined;
    trade.transactionId = newTransactionId(now);
    trade.payerOpenid ??= newOpenid();
    this.byTransactionId.set(trade.transactionId, trade);
    if (!options.silent) {
      this.notifier.notify(trade, 'payment', { mode: options.notify, delayMs: options.delayMs });
    }
    this.store.changed(trade);
    return trade;
  }

  /** The payment fails for good: the unpaid trade closes (v3 sends no notification for that). */
  fail(outTradeNo: string): SandboxTrade {
    const trade = this.getTrade(outTradeNo);
    if (trade.status !== 'NOTPAY') {
      throw new SandboxTradeStateError(`trade ${outTradeNo} is ${trade.status}, not NOTPAY`);
    }
    this.close(trade, new Date());
    return trade;
  }

  /** Makes the next `times` refund calls of a trade fail, fail unsurely, or answer late. */
  setRefundFault(
    outTradeNo: string,
    outcome: RefundFaultKind,
    options: { times?: number; delayMs?: number; endsAs?: RefundFailure } = {},
  ): SandboxTrade {
    const trade = this.getTrade(outTradeNo);
    this.refundFaults.set(outTradeNo, {
      outcome,
      delayMs: options.delayMs ?? 30_000,
      endsAs: options.endsAs ?? 'CLOSED',
      remaining: options.times ?? 1,
    });
    return trade;
  }

  /**
   * Sends the payment notification again (or a finished refund's, with
   * outRefundNo), with a fresh id; a tampered one goes out once, without retries.
   */
  resendNotification(
    outTradeNo: string,
    tamper?: NotifyTamper,
    outRefundNo?: string,
  ): SandboxNotification {
    const trade = this.getTrade(outTradeNo);
    if (trade.paidAt === undefined) {
      throw new SandboxTradeStateError(
        `trade ${outTradeNo} is ${trade.status}: WeChat notifies payments and refunds only`,
      );
    }
    let refund: SandboxRefund | undefined;
    if (outRefundNo !== undefined) {
      refund = trade.refunds.find((r) => r.outRefundNo === outRefundNo);
      if (!refund) {
        throw new SandboxTradeStateError(`trade ${outTradeNo} has no refund ${outRefundNo}`);
      }
      if (refund.status === 'PROCESSING') {
        throw new SandboxTradeStateError(`refund ${outRefundNo} is still PROCESSING`);
      }
    }
    const sent = this.notifier.notify(trade, 'resend', { tamper, refund });
    if (!sent) throw new SandboxTradeStateError('no notify_url, or the sandbox is shutting down');
    return sent;
  }

  onModuleDestroy(): void {
    this.destroyed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  // ---- timers ---------------------------------------------------------------------

  private index(trade: SandboxTrade): void {
    this.trades.set(trade.outTradeNo, trade);
    this.byPrepayId.set(trade.prepayId, trade);
    if (trade.transactionId) this.byTransactionId.set(trade.transactionId, trade);
    for (const r of trade.refunds) this.byOutRefundNo.set(r.outRefundNo, trade);
  }

  private refundedTrade(input: RefundInput): SandboxTrade {
    const byOut = input.outTradeNo ? this.trades.get(input.outTradeNo) : undefined;
    const byId = input.transactionId ? this.byTransactionId.get(input.transactionId) : undefined;
    const trade =
      input.outTradeNo && input.transactionId
        ? byOut === byId
          ? byOut
          : undefined
        : (byOut ?? byId);
    if (!trade) throw new WechatApiError(404, 'RESOURCE_NOT_EXISTS', '订单不存在 (no such order)');
    this.refreshExpiry(trade);
    return trade;
  }

  private close(trade: SandboxTrade, at: Date): void {
    this.disarm(`expiry:${trade.outTradeNo}`);
    trade.status = 'CLOSED';
    trade.closedAt = at;
    this.store.changed(trade);
  }

  /** An unpaid trade past its time_expire is closed, whoever looks first. */
  private refreshExpiry(trade: SandboxTrade, now = new Date()): void {
    if (trade.status === 'NOTPAY' && now.getTime() >= trade.expiresAt.getTime()) {
      this.close(trade, trade.expiresAt);
    }
  }

  /** Closes the trade at its expiry even if nobody asks. */
  private armExpiry(trade: SandboxTrade): void {
    this.arm(`expiry:${trade.outTradeNo}`, trade.expiresAt, () => this.refreshExpiry(trade));
  }

  /** Finishes a PROCESSING refund at its settleAt and notifies the outcome. */
  private armSettle(trade: SandboxTrade, refund: SandboxRefund): void {
    this.arm(`refund:${refund.outRefundNo}`, refund.settleAt, () => {
      if (refund.status !== 'PROCESSING') return;
      refund.status = refund.endsAs;
      if (refund.status === 'SUCCESS') refund.successAt = new Date();
      this.notifier.notify(trade, 'refund', { refund });
      this.store.changed(trade);
    });
  }

  private arm(key: string, at: Date, run: () => void): void {
    if (this.destroyed) return;
    this.disarm(key);
    const wait = Math.max(0, at.getTime() - Date.now());
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        // Node may fire a timer a millisecond early (and caps it at ~24.8 days):
        // not yet due means wait again.
        if (Date.now() < at.getTime()) this.arm(key, at, run);
        else run();
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.set(key, timer);
  }

  private disarm(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }
}
