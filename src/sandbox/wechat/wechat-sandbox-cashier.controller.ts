import { Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { SandboxTradeNotFoundError, SandboxTradeStateError } from './wechat-sandbox.errors';
import { cancelledPage, cashierPage, messagePage, paidPage } from './wechat-sandbox.pages';
import { WechatSandboxService } from './wechat-sandbox.service';
import type { SandboxTrade } from './wechat-sandbox.types';

/**
 * The page a code_url (native QR code), an h5_url, or an opened JSAPI / APP
 * prepay_id leads to: where the buyer would confirm and pay in WeChat. HTML for
 * browsers, so it stays out of the API docs.
 */
@ApiExcludeController()
@Controller('sandbox/wechat/cashier')
export class WechatSandboxCashierController {
  constructor(private readonly trades: WechatSandboxService) {}

  @Get(':outTradeNo')
  show(
    @Param('outTradeNo') outTradeNo: string,
    @Query('redirect_url') redirectUrl: unknown,
    @Res() res: Response,
  ): void {
    const trade = this.find(outTradeNo, res);
    if (trade) html(res, 200, cashierPage(trade, backUrl(redirectUrl)));
  }

  @Post(':outTradeNo/pay')
  pay(
    @Param('outTradeNo') outTradeNo: string,
    @Query('redirect_url') redirectUrl: unknown,
    @Res() res: Response,
  ): void {
    if (!this.find(outTradeNo, res)) return;
    let trade: SandboxTrade;
    try {
      trade = this.trades.pay(outTradeNo);
    } catch (err) {
      if (!(err instanceof SandboxTradeStateError)) throw err;
      html(res, 409, messagePage('cannot pay', err.message));
      return;
    }
    const back = backUrl(redirectUrl);
    if (back) res.redirect(302, back);
    else html(res, 200, paidPage(trade));
  }

  @Post(':outTradeNo/cancel')
  cancel(
    @Param('outTradeNo') outTradeNo: string,
    @Query('redirect_url') redirectUrl: unknown,
    @Res() res: Response,
  ): void {
    const trade = this.find(outTradeNo, res);
    if (!trade) return;
    const back = backUrl(redirectUrl);
    if (back) res.redirect(302, back);
    else html(res, 200, cancelledPage(trade));
  }

  private find(outTradeNo: string, res: Response): SandboxTrade | null {
    try {
      return this.trades.getTrade(outTradeNo);
    } catch (err) {
      if (!(err instanceof SandboxTradeNotFoundError)) throw err;
      html(res, 404, messagePage('unknown trade', err.message));
      return null;
    }
  }
}

/** Only http(s) URLs are followed: the page must not become an open javascript: redirect. */
function backUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? value : undefined;
  } catch {
    return undefined;
  }
}

function html(res: Response, status: number, page: string): void {
  res.status(status).set('content-type', 'text/html; charset=utf-8').send(page);
}
