import { Controller, Get, Param, Post, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { SandboxTradeNotFoundError, SandboxTradeStateError } from './alipay-sandbox.errors';
import { AlipaySandboxGateway } from './alipay-sandbox.gateway';
import { cancelledPage, cashierPage, messagePage, paidPage } from './alipay-sandbox.pages';
import { AlipaySandboxService } from './alipay-sandbox.service';
import type { SandboxTrade } from './alipay-sandbox.types';

/**
 * The page a QR code, page.pay, wap.pay or app.pay leads to: where the buyer
 * would log in and pay. HTML for browsers, so it stays out of the API docs.
 */
@ApiExcludeController()
@Controller('sandbox/alipay/cashier')
export class AlipaySandboxCashierController {
  constructor(
    private readonly trades: AlipaySandboxService,
    private readonly gateway: AlipaySandboxGateway,
  ) {}

  @Get(':outTradeNo')
  show(@Param('outTradeNo') outTradeNo: string, @Res() res: Response): void {
    const trade = this.find(outTradeNo, res);
    if (trade) html(res, 200, cashierPage(trade));
  }

  @Post(':outTradeNo/pay')
  pay(@Param('outTradeNo') outTradeNo: string, @Res() res: Response): void {
    if (!this.find(outTradeNo, res)) return;
    let trade: SandboxTrade;
    try {
      trade = this.trades.pay(outTradeNo);
    } catch (err) {
      if (!(err instanceof SandboxTradeStateError)) throw err;
      html(res, 409, messagePage('cannot pay', err.message));
      return;
    }
    const back = this.gateway.signedReturnUrl(trade);
    if (back) res.redirect(302, back);
    else html(res, 200, paidPage(trade));
  }

  @Post(':outTradeNo/cancel')
  cancel(@Param('outTradeNo') outTradeNo: string, @Res() res: Response): void {
    const trade = this.find(outTradeNo, res);
    if (!trade) return;
    if (trade.quitUrl) res.redirect(302, trade.quitUrl);
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

function html(res: Response, status: number, page: string): void {
  res.status(status).set('content-type', 'text/html; charset=utf-8').send(page);
}
