import { Controller, Get, Headers, Param, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CLIENT_SECRET_HEADER } from '../auth/access.decorator';
import { DomainError } from '../common/errors/domain-error';
import { Messages, MESSAGES, pickLanguage } from './checkout-language';
import { CheckoutAssets } from './checkout-assets';
import { checkoutHeaders, newNonce } from './checkout-headers';
import { checkoutPage, messagePage, PageContext } from './checkout.pages';
import { CheckoutRateLimits } from './checkout-rate-limits';
import { CheckoutService } from './checkout.service';

const OPENID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The hosted checkout page (contract.md "Hosted checkout page"): the page a
 * storefront sends its buyer to, the status it polls, and its two files. HTML for
 * browsers, so it stays out of the API docs.
 */
@ApiExcludeController()
@Controller('checkout')
export class CheckoutController {
  constructor(
    private readonly checkout: CheckoutService,
    private readonly assets: CheckoutAssets,
    private readonly limits: CheckoutRateLimits,
  ) {}

  @Get('assets/:name')
  asset(
    @Param('name') name: string,
    @Query('v') version: unknown,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() res: Response,
  ): void {
    const asset = this.assets.get(name);
    res.set(checkoutHeaders());
    if (!asset) {
      res.status(404).type('text/plain').send('not found');
      return;
    }
    const etag = `"${asset.version}"`;
    res.set({
      'Content-Type': asset.contentType,
      ETag: etag,
      'Cross-Origin-Resource-Policy': 'same-origin',
      // The page links each file with its hash: that URL never changes content.
      'Cache-Control':
        version === asset.version ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (ifNoneMatch === etag) res.status(304).end();
    else res.status(200).send(asset.body);
  }

  @Get(':orderId')
  async page(
    @Param('orderId') orderId: string,
    @Query('cs') clientSecret: unknown,
    @Query('openid') openid: unknown,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const nonce = newNonce();
    const ctx = this.context(req, nonce);
    const m = ctx.messages;
    res.set({ ...checkoutHeaders(nonce), Vary: 'Accept-Language, User-Agent' });
    const limited = this.limits.page.take(clientKey(req));
    if (!limited.allowed) {
      res.set('Retry-After', String(limited.retryAfterSeconds));
      html(res, 429, messagePage(ctx, m.tooManyTitle, m.tooManyBody));
      return;
    }
    if (openid !== undefined && (typeof openid !== 'string' || !OPENID.test(openid))) {
      html(res, 400, messagePage(ctx, m.badLinkTitle, m.badLinkBody('openid')));
      return;
    }
    const view = await this.checkout.view({
      orderId,
      clientSecret,
      userAgent: req.get('user-agent'),
      openid,
      clientIp: clientIp(req),
    });
    switch (view.kind) {
      case 'not_found':
        html(res, 404, messagePage(ctx, m.notFoundTitle, m.notFoundBody));
        return;
      case 'gone':
        html(
          res,
          410,
          view.state === 'expired'
            ? messagePage(ctx, m.expiredTitle, m.expiredBody)
            : messagePage(ctx, m.closedTitle, m.closedBody),
        );
        return;
      case 'order':
        html(res, 200, checkoutPage(ctx, view));
    }
  }

  /**
   * What the page polls: `{status: "pending" | "paid" | "expired" | "closed"}`, with
   * the client secret in X-Client-Secret (so it is not written into every proxy's
   * access log once more). 404 for an unknown order or a wrong secret alike.
   */
  @Get(':orderId/status')
  async status(
    @Param('orderId') orderId: string,
    @Headers(CLIENT_SECRET_HEADER) clientSecret: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ status: string }> {
    res.set(checkoutHeaders());
    const limited = this.limits.status.take(clientKey(req));
    if (!limited.allowed) {
      res.set('Retry-After', String(limited.retryAfterSeconds));
      throw new DomainError('TOO_MANY_REQUESTS', 'too many status requests: slow down');
    }
    const status = await this.checkout.status(orderId, clientSecret);
    if (!status) {
      throw new DomainError(
        'ORDER_NOT_FOUND',
        `no order ${JSON.stringify(orderId)} with this client secret`,
      );
    }
    return { status };
  }

  private context(req: Request, nonce: string): PageContext {
    const messages: Messages = MESSAGES[pickLanguage(req.get('accept-language'))];
    return {
      messages,
      nonce,
      assets: { css: this.assets.url('checkout.css'), js: this.assets.url('checkout.js') },
    };
  }
}

/** The caller's address as TRUST_PROXY lets paygate see it: whom the limits count. */
const clientKey = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** The buyer's address for WeChat H5, IPv4 as such rather than IPv4-mapped IPv6. */
function clientIp(req: Request): string | undefined {
  const ip = req.ip ?? req.socket.remoteAddress;
  return ip?.startsWith('::ffff:') ? ip.slice('::ffff:'.length) : ip;
}

function html(res: Response, status: number, page: string): void {
  res.status(status).type('html').send(page);
}
