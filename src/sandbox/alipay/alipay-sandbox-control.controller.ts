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
import { AlipaySandboxBillService } from './alipay-sandbox-bill.service';
import { SandboxTradeNotFoundError, SandboxTradeStateError } from './alipay-sandbox.errors';
import { AlipaySandboxService } from './alipay-sandbox.service';
import type { SandboxTrade } from './alipay-sandbox.types';
import {
  AnswerCertSnDto,
  MarkPaidSandboxTradeDto,
  NotifySandboxTradeDto,
  PaySandboxTradeDto,
  RefundFaultDto,
} from './dto/alipay-sandbox-control.dto';
import {
  SandboxNotificationResponse,
  SandboxTradeResponse,
} from './dto/alipay-sandbox-trade.response';

/** The control API's own errors, in the project's `{statusCode, error, message}` shape. */
@Catch(SandboxTradeNotFoundError, SandboxTradeStateError)
export class AlipaySandboxControlFilter implements ExceptionFilter {
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
 * Tells the simulated Alipay what the buyer (or Alipay) does next: pay, fail,
 * notify again, or pay silently so that only a query can find out.
 */
@ApiTags('sandbox')
@Controller('sandbox/alipay/control/trades')
@UseFilters(AlipaySandboxControlFilter)
@UsePipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }))
@ApiNotFoundResponse({ description: 'no trade with that out_trade_no' })
export class AlipaySandboxControlController {
  constructor(private readonly trades: AlipaySandboxService) {}

  @Get()
  @ApiOperation({ summary: 'All sandbox Alipay trades, newest first' })
  @ApiOkResponse({ type: [SandboxTradeResponse] })
  list(): SandboxTradeResponse[] {
    return this.trades.allTrades().map((t) => this.view(t));
  }

  @Get(':outTradeNo')
  @ApiOperation({ summary: 'One trade with its refunds and every notification attempt' })
  @ApiParam(TRADE_PARAM)
  @ApiOkResponse({ type: SandboxTradeResponse })
  get(@Param('outTradeNo') outTradeNo: string): SandboxTradeResponse {
    return this.view(this.trades.getTrade(outTradeNo));
  }

  @Post(':outTradeNo/pay')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The buyer pays',
    description:
      'Sets TRADE_SUCCESS (or TRADE_FINISHED) and notifies the notify_url: normally, twice at once (duplicate), after delayMs (delay), or not at all (drop). Unacknowledged notifications are retried on Alipay’s schedule scaled by timeScale.',
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
      this.trades.pay(outTradeNo, {
        notify: dto.notify,
        delayMs: dto.delayMs,
        status: dto.status,
        force: dto.force,
      }),
    );
  }

  @Post(':outTradeNo/mark-paid')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Paid without any notification',
    description:
      'Only alipay.trade.query reveals the payment: exercises the pending-payment sync job.',
  })
  @ApiParam(TRADE_PARAM)
  @ApiBody({
    type: MarkPaidSandboxTradeDto,
    examples: { paid: { summary: 'TRADE_SUCCESS', value: {} } },
  })
  @ApiOkResponse({ type: SandboxTradeResponse })
  @ApiConflictResponse({ description: 'not WAIT_BUYER_PAY' })
  markPaid(
    @Param('outTradeNo') outTradeNo: string,
    @Body() dto: MarkPaidSandboxTradeDto,
  ): SandboxTradeResponse {
    return this.view(this.trades.pay(outTradeNo, { status: dto.status, silent: true }));
  }

  @Post(':outTradeNo/fail')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The payment fails: the unpaid trade closes and TRADE_CLOSED is notified',
  })
  @ApiParam(TRADE_PARAM)
  @ApiOkResponse({ type: SandboxTradeResponse })
  @ApiConflictResponse({ description: 'not WAIT_BUYER_PAY' })
  fail(@Param('outTradeNo') outTradeNo: string): SandboxTradeResponse {
    return this.view(this.trades.fail(outTradeNo));
  }

  @Post(':outTradeNo/notify')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send the current state’s notification again',
    description:
      'A fresh notification (new notify_id) for TRADE_SUCCESS / TRADE_FINISHED / TRADE_CLOSED, with refund fields after a refund. tamper sends a wrong one once, to test rejection.',
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
    },
  })
  @ApiOkResponse({ type: SandboxNotificationResponse })
  @ApiConflictResponse({
    description: 'WAIT_BUYER_PAY (Alipay notifies nothing), or no notify_url',
  })
  notify(
    @Param('outTradeNo') outTradeNo: string,
    @Body() dto: NotifySandboxTradeDto,
  ): SandboxNotificationResponse {
    return SandboxNotificationResponse.from(this.trades.resendNotification(outTradeNo, dto.tamper));
  }

  @Post(':outTradeNo/next-refund')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'What the next refund call(s) of this trade meet: a certain failure, an unsure one, or a late answer',
    description:
      'Drives every branch of paygate’s refunds by hand: fail → FAILED and the amount is free again; system_error → PENDING until the sync job re-sends it; delay past ALIPAY_TIMEOUT_MS → PENDING although Alipay refunded, until the sync job’s query finds it.',
  })
  @ApiParam(TRADE_PARAM)
  @ApiBody({
    type: RefundFaultDto,
    examples: {
      fail: { summary: 'The next refund fails for certain', value: { outcome: 'fail' } },
      systemError: {
        summary: 'The next refund meets an unsure ACQ.SYSTEM_ERROR',
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
    return this.view(this.trades.setRefundFault(outTradeNo, dto.outcome, dto.times, dto.delayMs));
  }

  @Post(':outTradeNo/next-answer-cert-sn')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Certificate mode: the next answer about this trade names another alipay_cert_sn',
    description:
      'As when Alipay signs with a certificate the merchant has not installed: paygate must not trust the answer.',
  })
  @ApiParam(TRADE_PARAM)
  @ApiOkResponse({ type: SandboxTradeResponse })
  @ApiBadRequestResponse({ description: 'invalid body' })
  nextAnswerCertSn(
    @Param('outTradeNo') outTradeNo: string,
    @Body() dto: AnswerCertSnDto,
  ): SandboxTradeResponse {
    return this.view(this.trades.setAnswerCertSn(outTradeNo, dto.alipayCertSn));
  }

  private view(trade: SandboxTrade): SandboxTradeResponse {
    return SandboxTradeResponse.from(trade, this.trades.cashierUrl(trade.outTradeNo));
  }
}

/**
 * What the simulated Alipay's bills say (reconciliation): rows added, left
 * out or altered in the bills alipay.data.dataservice.bill.downloadurl.query
 * hands out, a bill not ready yet, or a damaged download.
 */
@ApiTags('sandbox')
@Controller('sandbox/alipay/control/bills')
@UsePipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }))
export class AlipaySandboxBillControlController {
  constructor(private readonly bills: AlipaySandboxBillService) {}

  @Get()
  @ApiOperation({ summary: 'The bill changes and faults in effect (Alipay)' })
  @ApiOkResponse({ type: BillControlStateResponse })
  state(): BillControlStateResponse {
    return this.bills.faults.state();
  }

  @Post('rows')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Change a row of the bills served: add one, leave one out, alter its amount',
    description:
      'Applies to the bill of `date` (Beijing; today when absent), every time it is served, until DELETE. add → paygate reports MISSING_LOCAL; omit → MISSING_REMOTE; alter → AMOUNT_MISMATCH. Refund rows are written negative, as Alipay writes them. A trade paid with mark-paid (no notification) gives STATUS_MISMATCH.',
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
      'not_ready: the next `times` bill.downloadurl.query calls answer 40004 isp.bill_not_exist (as for a bill asked for too early); corrupt: the next `times` downloads are a zip cut in half.',
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
