import {
  type ArgumentsHost,
  BadRequestException,
  Body,
  Catch,
  Controller,
  Delete,
  type ExceptionFilter,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  UseFilters,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { BillControlStateResponse, BillFaultDto, BillRowEditDto } from '../sandbox-bill-faults';
import { WechatSandboxBills } from './wechat-sandbox-bill.service';
import {
  NotifySandboxTradeDto,
  PaySandboxTradeDto,
  RefundFaultDto,
} from './dto/wechat-sandbox-control.dto';
import {
  SandboxNotificationResponse,
  SandboxTradeResponse,
} from './dto/wechat-sandbox-trade.response';
import { SandboxTradeNotFoundError, SandboxTradeStateError } from './wechat-sandbox.errors';
import { WechatSandboxService } from './wechat-sandbox.service';
import type { SandboxTrade } from './wechat-sandbox.types';

/** The control API's own errors, in the project's `{statusCode, error, message}` shape. */
@Catch(SandboxTradeNotFoundError, SandboxTradeStateError)
export class WechatSandboxControlFilter implements ExceptionFilter {
  catch(err: SandboxTradeNotFoundError | SandboxTradeStateError, host: ArgumentsHost): void {
    const notFound = err instanceof SandboxTradeNotFoundError;
    host
      .switchToHttp()
      .getResponse<Response>()
      .status(notFound ? HttpStatus.NOT_FOUND : HttpStatus.CONFLICT)
      .json({
        statusCode: notFound ? 404 : 409,
        error: notFound ? 'Not Found' : 'Conflict',
        message: err.message,
      });
  }
}

const TRADE_PARAM = { name: 'outTradeNo', description: 'the out_trade_no the merchant sent' };

/**
 * Tells the simulated WeChat Pay what the buyer (or WeChat) does next: pay,
 * fail, notify again, pay silently so that only a query can find out, or how
 * the next refund goes.
 */
@ApiTags('sandbox')
@Controller('sandbox/wechat/control/trades')
@UseFilters(WechatSandboxControlFilter)
@UsePipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }))
@ApiNotFoundResponse({ description: 'no trade with that out_trade_no' })
export class WechatSandboxControlController {
  constructor(private readonly trades: WechatSandboxService) {}

  @Get()
  @ApiOperation({ summary: 'All sandbox WeChat Pay trades, newest first' })
  @ApiOkResponse({ type: [SandboxTradeResponse] })
  list(): SandboxTradeResponse[] {
    return this.trades.allTrades().map((t) => this.view(t));
  }

  @Get(':outTradeNo')
  @ApiOperation({ summary: 'One WeChat Pay trade with its refunds and every notification attempt' })
  @ApiParam(TRADE_PARAM)
  @ApiOkResponse({ type: SandboxTradeResponse })
  get(@Param('outTradeNo') outTradeNo: string): SandboxTradeResponse {
    return this.view(this.trades.getTrade(outTradeNo));
  }

  @Post(':outTradeNo/pay')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The buyer pays (WeChat Pay)',
    description:
      'Sets SUCCESS and sends TRANSACTION.SUCCESS to the notify_url: normally, twice at once (duplicate), after delayMs (delay), or not at all (drop). Unacknowledged notifications are retried on WeChat’s schedule scaled by timeScale.',
  })
  @ApiParam(TRADE_PARAM)
  @ApiBody({
    type: PaySandboxTradeDto,
    examples: {
      normal: { summary: 'Paid, notified normally', value: { notify: 'normal' } },
      duplicate: { summary: 'The notification twice at once', value: { notify: 'duplicate' } },
      delay: { summary: 'Notified 2 s late', value: { notify: 'delay', delayMs: 2000 } },
      drop: { summary: 'Never notified (only a query finds out)', value: { notify: 'drop' } },
    },
  })
  @ApiOkResponse({ type: SandboxTradeResponse })
  @ApiBadRequestResponse({ description: 'invalid body' })
  @ApiConflictResponse({ description: 'already paid, or closed (see force)' })
  pay(
    @Param('outTradeNo') outTradeNo: string,
    @Body() dto: PaySandboxTradeDto,
  ): SandboxTradeResponse {
    return this.view(
      this.trades.pay(outTradeNo, { notify: dto.notify, delayMs: dto.delayMs, force: dto.force }),
    );
  }

  @Post(':outTradeNo/mark-paid')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Paid without any notification (WeChat Pay)',
    description:
      'Only the order query reveals the payment: exercises the pending-payment sync job.',
  })
  @ApiParam(TRADE_PARAM)
  @ApiOkResponse({ type: SandboxTradeResponse })
  @ApiConflictResponse({ description: 'not NOTPAY' })
  markPaid(@Param('outTradeNo') outTradeNo: string): SandboxTradeResponse {
    return this.view(this.trades.pay(outTradeNo, { silent: true }));
  }

  @Post(':outTradeNo/fail')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The payment fails: the unpaid WeChat Pay trade closes (v3 notifies nothing)',
  })
  @ApiParam(TRADE_PARAM)
  @ApiOkResponse({ type: SandboxTradeResponse })
  @ApiConflictResponse({ description: 'not NOTPAY' })
  fail(@Param('outTradeNo') outTradeNo: string): SandboxTradeResponse {
    return this.view(this.trades.fail(outTradeNo));
  }

  @Post(':outTradeNo/notify')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send the payment’s (or a refund’s) notification again',
    description:
      'A fresh notification (new id) of TRANSACTION.SUCCESS, or of a finished refund with outRefundNo. tamper sends a wrong one once, to test rejection.',
  })
  @ApiParam(TRADE_PARAM)
  @ApiBody({
    type: NotifySandboxTradeDto,
    examples: {
      again: { summary: 'The same notification again, valid', value: {} },
      tampered: {
        summary: 'A forged signature, to see it rejected',
        value: { tamper: 'signature' },
      },
      refund: { summary: 'A refund’s notification again', value: { outRefundNo: 'R1' } },
    },
  })
  @ApiOkResponse({ type: SandboxNotificationResponse })
  @ApiConflictResponse({
    description: 'not paid (WeChat notifies nothing), no such finished refund, or no notify_url',
  })
  notify(
    @Param('outTradeNo') outTradeNo: string,
    @Body() dto: NotifySandboxTradeDto,
  ): SandboxNotificationResponse {
    return SandboxNotificationResponse.from(
      this.trades.resendNotification(outTradeNo, dto.tamper, dto.outRefundNo),
    );
  }

  @Post(':outTradeNo/next-refund')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'What the next WeChat Pay refund call(s) of this trade meet: failure, refusal, an unsure error, or a late answer',
    description:
      'Drives every branch of paygate’s refunds by hand: fail → accepted, then CLOSED/ABNORMAL and notified; not_enough → 403 NOT_ENOUGH, nothing refunded; system_error → 500, nothing refunded; delay past WECHAT_TIMEOUT_MS → paygate times out although WeChat accepted it, until the sync job’s query finds it.',
  })
  @ApiParam(TRADE_PARAM)
  @ApiBody({
    type: RefundFaultDto,
    examples: {
      fail: { summary: 'The next refund ends CLOSED', value: { outcome: 'fail' } },
      abnormal: {
        summary: 'The next refund ends ABNORMAL',
        value: { outcome: 'fail', endsAs: 'ABNORMAL' },
      },
      notEnough: {
        summary: 'The next refund is refused (NOT_ENOUGH)',
        value: { outcome: 'not_enough' },
      },
      systemError: {
        summary: 'The next refund meets a 500 SYSTEM_ERROR',
        value: { outcome: 'system_error' },
      },
      delay: {
        summary: 'The next refund is answered after 30 s (a timeout for paygate)',
        value: { outcome: 'delay', delayMs: 30000 },
      },
    },
  })
  @ApiOkResponse({ type: SandboxTradeResponse })
  @ApiBadRequestResponse({ description: 'invalid body' })
  nextRefund(
    @Param('outTradeNo') outTradeNo: string,
    @Body() dto: RefundFaultDto,
  ): SandboxTradeResponse {
    return this.view(
      this.trades.setRefundFault(outTradeNo, dto.outcome, {
        times: dto.times,
        delayMs: dto.delayMs,
        endsAs: dto.endsAs,
      }),
    );
  }

  private view(trade: SandboxTrade): SandboxTradeResponse {
    return SandboxTradeResponse.from(trade, this.trades.cashierUrl(trade.outTradeNo));
  }
}
/**
 * What the simulated WeChat Pay's bills say (reconciliation): rows added, left
 * out or altered in the bills of v3 GET /v3/bill/tradebill and v2
 * /pay/downloadbill, a bill not ready yet, or a damaged download.
 */
@ApiTags('sandbox')
@Controller('sandbox/wechat/control/bills')
@UsePipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }))
export class WechatSandboxBillControlController {
  constructor(private readonly bills: WechatSandboxBills) {}

  @Get()
  @ApiOperation({ summary: 'The bill changes and faults in effect (WeChat Pay)' })
  @ApiOkResponse({ type: BillControlStateResponse })
  state(): BillControlStateResponse {
    return this.bills.faults.state();
  }

  @Post('rows')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Change a row of the bills served: add one, leave one out, alter its amount',
    description:
      'Applies to the bill of `date` (Beijing; today when absent), every time it is served, until DELETE. add → paygate reports MISSING_LOCAL; omit → MISSING_REMOTE; alter → AMOUNT_MISMATCH. Refund rows carry 商户退款单号 = outRefundNo. A trade paid with mark-paid (no notification) gives STATUS_MISMATCH.',
  })
  @ApiBody({
    type: BillRowEditDto,
    examples: {
      add: {
        summary: 'A payment paygate never made (MISSING_LOCAL)',
        value: { change: 'add', kind: 'payment', amountFen: 1234 },
      },
      omit: {
        summary: 'Leave a payment out (MISSING_REMOTE)',
        value: { change: 'omit', kind: 'payment', outTradeNo: 'P1A2B3C4D5E6F7G8H9J0K1L2M3N4P5Q6' },
      },
      alter: {
        summary: 'A refund for 1 fen more (AMOUNT_MISMATCH)',
        value: {
          change: 'alter',
          kind: 'refund',
          outTradeNo: 'P1A2B3C4D5E6F7G8H9J0K1L2M3N4P5Q6',
          outRefundNo: 'R1A2B3C4D5E6F7G8H9J0K1L2M3N4P5Q6',
          amountFen: 1001,
        },
      },
    },
  })
  @ApiOkResponse({ type: BillControlStateResponse })
  @ApiBadRequestResponse({ description: 'invalid body, or omit/alter without outTradeNo' })
  editRow(@Body() dto: BillRowEditDto): BillControlStateResponse {
    try {
      this.bills.faults.addEdit(dto);
    } catch (error) {
      if (error instanceof RangeError) throw new BadRequestException(error.message);
      throw error;
    }
    return this.bills.faults.state();
  }

  @Post('faults')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The next bill requests: not ready yet, or a damaged download',
    description:
      'not_ready: the next `times` bill requests answer 400 STATEMENT_CREATING (v3) or return_code FAIL "Bill Creating" (v2); corrupt: the next `times` downloads are damaged — v3 serves a file whose SHA-1 is not hash_value, v2 a gzip cut in half.',
  })
  @ApiBody({
    type: BillFaultDto,
    examples: {
      notReady: {
        summary: 'Not ready for the next 2 requests',
        value: { fault: 'not_ready', times: 2 },
      },
      corrupt: { summary: 'The next download is truncated', value: { fault: 'corrupt' } },
    },
  })
  @ApiOkResponse({ type: BillControlStateResponse })
  @ApiBadRequestResponse({ description: 'invalid body' })
  fault(@Body() dto: BillFaultDto): BillControlStateResponse {
    this.bills.faults.setFault(dto.fault, dto.times);
    return this.bills.faults.state();
  }

  @Delete()
  @ApiOperation({
    summary: 'Bills as the sandbox’s trades make them again: every change and fault cleared',
  })
  @ApiOkResponse({ type: BillControlStateResponse })
  clear(): BillControlStateResponse {
    this.bills.faults.clear();
    return this.bills.faults.state();
  }
}
