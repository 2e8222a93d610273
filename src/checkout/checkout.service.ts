import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../common/errors/domain-error';
import { alipayConfig } from '../config/alipay.config';
import { wechatConfig } from '../config/wechat.config';
import { OrdersService } from '../orders/orders.service';
import type { CreatePaymentDto } from '../payments/dto/create-payment.dto';
import type { Channel, PaymentAction, PaymentMethod } from '../payments/payment-provider';
import { PaymentsService } from '../payments/payments.service';
import { ProviderRegistry } from '../payments/provider-registry';
import { BrowserKind, PayOption, browserKind, payOptions } from './browser';
import { CheckoutState, checkoutState } from './checkout-state';
import { qrSvg } from './qr-code';

type Order = Awaited<ReturnType<OrdersService['get']>>;

/** What the buyer's request to the page carries; nothing of it is trusted yet. */
export interface CheckoutRequest {
  orderId: string;
  clientSecret: unknown;
  userAgent?: string;
  /** WeChat's payer id, when the storefront put `&openid=` on the link (already checked). */
  openid?: string;
  /** The buyer's address as paygate sees it (WeChat H5 wants it). */
  clientIp?: string;
}

/** The order as the page shows it: nothing more than the buyer needs. */
export interface CheckoutOrder {
  id: string;
  subject: string;
  /** fen */
  amount: number;
  returnUrl: string | null;
  secondsLeft: number;
}

/** One way to pay, ready to show; `action` is missing when the channel could not be asked. */
export interface ShownOption extends PayOption {
  sandbox: boolean;
  action?: PaymentAction;
  /** qr: the code drawn as SVG. */
  qrSvg?: string;
}

export type CheckoutView =
  /** Unknown order, or the client secret is missing or wrong: the same answer for both. */
  | { kind: 'not_found' }
  | { kind: 'gone'; state: 'expired' | 'closed' }
  | {
      kind: 'order';
      state: 'pending' | 'paid';
      browser: BrowserKind;
      order: CheckoutOrder;
      options: ShownOption[];
      openInBrowserHint: boolean;
    };

const ORDER_ID = /^ord_[0-9A-Za-z]{1,64}$/;
const CLIENT_SECRET = /^cs_[0-9A-Za-z]{16,64}$/;
/** Failures of one channel that leave the other ways to pay usable. */
const CHANNEL_TROUBLE = new Set(['CHANNEL_ERROR', 'CHANNEL_UNAVAILABLE', 'VALIDATION_FAILED']);

/**
 * The hosted checkout page's logic (contract.md "Hosted checkout page"). The
 * client secret is the only credential. Payment attempts are made by the payments
 * service exactly as `POST /api/orders/:id/payments` makes them, so an open attempt
 * for the same channel and method is reused: reloading the page makes no new one.
 */
@Injectable()
export class CheckoutService {
  private readonly logger = new Logger(CheckoutService.name);
  private readonly sandbox: Record<Channel, boolean>;

  constructor(
    private readonly orders: OrdersService,
    private readonly payments: PaymentsService,
    private readonly providers: ProviderRegistry,
    @Inject(alipayConfig.KEY) alipay: ConfigType<typeof alipayConfig>,
    @Inject(wechatConfig.KEY) wechat: ConfigType<typeof wechatConfig>,
  ) {
    this.sandbox = { alipay: alipay.mode === 'sandbox', wechat: wechat.mode === 'sandbox' };
  }

  async view(request: CheckoutRequest, now = new Date()): Promise<CheckoutView> {
    const order = await this.authorize(request.orderId, request.clientSecret);
    if (!order) return { kind: 'not_found' };
    const state = checkoutState(order, now);
    if (state === 'expired' || state === 'closed') return { kind: 'gone', state };
    const browser = browserKind(request.userAgent);
    if (state === 'paid') return this.orderView(order, 'paid', browser, [], false, now);

    const { options, openInBrowserHint } = payOptions(browser, request.openid, (channel, method) =>
      this.supports(channel, method),
    );
    try {
      const shown = await Promise.all(options.map((o) => this.prepare(order, o, request, now)));
      return this.orderView(order, 'pending', browser, shown, openInBrowserHint, now);
    } catch (error) {
      // Paid, closed or expired while the attempts were being made: show what it is now.
      if (!(error instanceof DomainError && error.code === 'ORDER_NOT_PAYABLE')) throw error;
      const current = await this.orders.get(order.id);
      const at = new Date();
      const stateNow = checkoutState(current, at);
      if (stateNow === 'paid') return this.orderView(current, 'paid', browser, [], false, at);
      return { kind: 'gone', state: stateNow === 'closed' ? 'closed' : 'expired' };
    }
  }

  /** The order's state for the page's live status, or null for an unknown order or a wrong secret. */
  async status(
    orderId: string,
    clientSecret: unknown,
    now = new Date(),
  ): Promise<CheckoutState | null> {
    const order = await this.authorize(orderId, clientSecret);
    return order ? checkoutState(order, now) : null;
  }

  /** The order, when the secret is its own; null otherwise (and for ids that cannot be one). */
  private async authorize(orderId: string, clientSecret: unknown): Promise<Order | null> {
    if (!ORDER_ID.test(orderId)) return null;
    if (typeof clientSecret !== 'string' || !CLIENT_SECRET.test(clientSecret)) return null;
    let order: Order;
    try {
      order = await this.orders.get(orderId);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'ORDER_NOT_FOUND') return null;
      throw error;
    }
    return sameSecret(order.clientSecret, clientSecret) ? order : null;
  }

  private supports(channel: Channel, method: PaymentMethod): boolean {
    return this.providers.has(channel) && this.providers.get(channel).methods.includes(method);
  }

  private async prepare(
    order: Order,
    option: PayOption,
    request: CheckoutRequest,
    now: Date,
  ): Promise<ShownOption> {
    const shown: ShownOption = { ...option, sandbox: this.sandbox[option.channel] };
    const dto: CreatePaymentDto = { channel: option.channel, method: option.method };
    if (option.method === 'h5' && request.clientIp) dto.clientIp = request.clientIp;
    if (option.method === 'jsapi') dto.openid = request.openid;
    // After a wap or h5 payment the channel sends the browser back: to the shop, which
    // asks its backend; never to this page, whose address carries the client secret.
    if ((option.method === 'wap' || option.method === 'h5') && order.returnUrl)
      dto.returnUrl = order.returnUrl;
    try {
      const { payment } = await this.payments.create(order.id, dto, now);
      const action = payment.action;
      if (!action || !fits(option.method, action)) {
        this.logger.error(
          `payment ${payment.id} on ${option.channel}/${option.method} answered a ${action?.type ?? 'missing'} action the checkout page cannot show`,
        );
        return shown;
      }
      shown.action = action;
      if (action.type === 'qr') shown.qrSvg = await qrSvg(action.qrCode);
      return shown;
    } catch (error) {
      if (!(error instanceof DomainError) || !CHANNEL_TROUBLE.has(error.code)) throw error;
      this.logger.warn(
        `checkout of order ${order.id}: ${option.channel}/${option.method} not offered: ${error.code} ${error.message}`,
      );
      return shown;
    }
  }

  private orderView(
    order: Order,
    state: 'pending' | 'paid',
    browser: BrowserKind,
    options: ShownOption[],
    openInBrowserHint: boolean,
    now: Date,
  ): CheckoutView {
    return {
      kind: 'order',
      state,
      browser,
      order: {
        id: order.id,
        subject: order.subject,
        amount: order.amount,
        returnUrl: httpUrlOrNull(order.returnUrl),
        secondsLeft: Math.max(0, Math.floor((order.expiresAt.getTime() - now.getTime()) / 1000)),
      },
      options,
      openInBrowserHint,
    };
  }
}

/** The action types the page can show for each method (anything else is a provider bug). */
function fits(method: PaymentMethod, action: PaymentAction): boolean {
  switch (method) {
    case 'qr':
      return action.type === 'qr';
    case 'wap':
    case 'h5':
      return action.type === 'redirect' && httpUrlOrNull(action.url) !== null;
    case 'jsapi':
      return action.type === 'jsapi';
    default:
      return false;
  }
}

/** The URL when it is http(s), else null: the page never links to anything else. */
export function httpUrlOrNull(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:' ? value : null;
  } catch {
    return null;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Compares digests, so neither the length nor a prefix of the secret leaks through timing. */
function sameSecret(expected: string, candidate: string): boolean {
  return timingSafeEqual(digest(expected), digest(candidate));
}
