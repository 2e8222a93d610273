import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Req,
  Res,
  ValidationPipe,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiForbiddenResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { RawBodyRequest } from '../../common/http/body-parsers';
import { AppClientPayDto, JsapiClientPayDto } from './dto/wechat-sandbox-control.dto';
import { ClientPayResponse } from './dto/wechat-sandbox-trade.response';
import { WechatApiError } from './wechat-sandbox.errors';
import { WechatSandboxBills } from './wechat-sandbox-bill.service';
import { WechatSandboxCertificates } from './wechat-sandbox-certificates';
import { WechatSandboxGateway, type GatewayReply } from './wechat-sandbox.gateway';
import { newRequestId } from './wechat-sandbox.ids';
import { PRODUCTS, type TradeProduct } from './wechat-sandbox.types';

const AUTH_HEADER = {
  name: 'Authorization',
  required: true,
  description:
    'WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…" — SHA256withRSA with the sandbox merchant key over METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n, the URL being the whole path and query as sent (/sandbox/wechat/v3/…)',
};
const SIGNED =
  'Signed with the sandbox platform key: Wechatpay-Timestamp, Wechatpay-Nonce, Wechatpay-Signature (over TS\\nNONCE\\nBODY\\n), Wechatpay-Serial (the PUB_KEY_ID) and Request-ID.';
const UNAUTHORIZED = { description: '`{"code":"SIGN_ERROR","message":…}`, unsigned' };
const OUT_TRADE_NO = { name: 'outTradeNo', description: 'the out_trade_no the merchant sent' };

/**
 * WeChat Pay APIv3 for a direct merchant, under /sandbox/wechat/v3 (protocols.md
 * C1–C4): every request's Authorization is verified against the sandbox
 * merchant key, every answer after that is signed with the platform key.
 */
@ApiTags('sandbox')
@Controller('sandbox/wechat')
export class WechatSandboxGatewayController {
  constructor(
    private readonly gateway: WechatSandboxGateway,
    private readonly platformCertificates: WechatSandboxCertificates,
    private readonly bills: WechatSandboxBills,
  ) {}

  @Post('v3/pay/transactions/:product')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay order placement (native, jsapi, h5, app)',
    description:
      'Answers {code_url} (native: the sandbox cashier page, openable in a browser), {prepay_id} (jsapi, app) or {h5_url} (h5). ' +
      'The same out_trade_no with the same content answers the same; other content → 403 OUT_TRADE_NO_USED; a paid order → 400 ORDERPAID; a closed one → 400 ORDER_CLOSED. ' +
      SIGNED,
  })
  @ApiParam({ name: 'product', enum: PRODUCTS })
  @ApiOkResponse({ description: '{code_url} | {prepay_id} | {h5_url}' })
  @ApiBadRequestResponse({
    description:
      'PARAM_ERROR (detail.field names the field), APPID_MCHID_NOT_MATCH, MCH_NOT_EXISTS, ORDERPAID, ORDER_CLOSED',
  })
  @ApiForbiddenResponse({ description: 'OUT_TRADE_NO_USED' })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  @ApiNotFoundResponse({ description: 'not one of the four products (empty body)' })
  place(@Param('product') product: string, @Req() req: RawBodyRequest, @Res() res: Response): void {
    if (!(PRODUCTS as readonly string[]).includes(product)) {
      res.status(404).end();
      return;
    }
    this.send(res, this.gateway.handle(req, this.gateway.placeOrder(product as TradeProduct)));
  }

  @Get('v3/pay/transactions/out-trade-no/:outTradeNo')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay order query by out_trade_no (?mchid=)',
    description:
      'trade_state NOTPAY / SUCCESS / CLOSED / REFUND; amount in fen; transaction_id, payer.openid and success_time (RFC 3339, +08:00) once paid. ' +
      SIGNED,
  })
  @ApiParam(OUT_TRADE_NO)
  @ApiOkResponse({ description: 'the transaction, as a TRANSACTION.SUCCESS resource' })
  @ApiNotFoundResponse({ description: 'ORDER_NOT_EXIST' })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  query(
    @Param('outTradeNo') outTradeNo: string,
    @Req() req: RawBodyRequest,
    @Res() res: Response,
  ): void {
    this.send(res, this.gateway.handle(req, this.gateway.queryByOutTradeNo(outTradeNo)));
  }

  @Get('v3/pay/transactions/id/:transactionId')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay order query by transaction_id (?mchid=)',
    description: `Only paid orders have a transaction_id. ${SIGNED}`,
  })
  @ApiParam({ name: 'transactionId', description: 'WeChat’s 28-digit transaction_id' })
  @ApiOkResponse({ description: 'the transaction' })
  @ApiNotFoundResponse({ description: 'ORDER_NOT_EXIST' })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  queryById(
    @Param('transactionId') transactionId: string,
    @Req() req: RawBodyRequest,
    @Res() res: Response,
  ): void {
    this.send(res, this.gateway.handle(req, this.gateway.queryByTransactionId(transactionId)));
  }

  @Post('v3/pay/transactions/out-trade-no/:outTradeNo/close')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay order close (body {mchid})',
    description: `204, signed over an empty body; closing a closed order again is fine; a paid one → 400 ORDERPAID. ${SIGNED}`,
  })
  @ApiParam(OUT_TRADE_NO)
  @ApiNoContentResponse({ description: 'closed' })
  @ApiBadRequestResponse({ description: 'ORDERPAID, MCH_NOT_EXISTS, PARAM_ERROR' })
  @ApiNotFoundResponse({ description: 'ORDER_NOT_EXIST' })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  close(
    @Param('outTradeNo') outTradeNo: string,
    @Req() req: RawBodyRequest,
    @Res() res: Response,
  ): void {
    this.send(res, this.gateway.handle(req, this.gateway.close(outTradeNo)));
  }

  @Post('v3/refund/domestic/refunds')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay refund',
    description:
      'Accepted as PROCESSING; SUCCESS a few seconds later (10 s × timeScale), then REFUND.SUCCESS is notified to the refund’s notify_url or the order’s. ' +
      'The same out_refund_no again answers that refund. Needs User-Agent and Accept headers, as WeChat does. ' +
      SIGNED,
  })
  @ApiOkResponse({ description: 'the refund (status PROCESSING, later SUCCESS)' })
  @ApiBadRequestResponse({
    description:
      'PARAM_ERROR; INVALID_REQUEST (amount.total differs, more than remains, out_refund_no reused with another amount, no User-Agent)',
  })
  @ApiForbiddenResponse({ description: 'NOT_ENOUGH (only when told so by next-refund)' })
  @ApiNotFoundResponse({ description: 'RESOURCE_NOT_EXISTS: no such order, or not paid' })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  refund(@Req() req: RawBodyRequest, @Res() res: Response): void {
    this.send(res, this.gateway.handle(req, this.gateway.refund(), { needsClientHeaders: true }));
  }

  @Get('v3/refund/domestic/refunds/:outRefundNo')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay refund query by out_refund_no',
    description: `status PROCESSING / SUCCESS / CLOSED / ABNORMAL. ${SIGNED}`,
  })
  @ApiParam({ name: 'outRefundNo', description: 'the out_refund_no the merchant sent' })
  @ApiOkResponse({ description: 'the refund' })
  @ApiNotFoundResponse({ description: 'RESOURCE_NOT_EXISTS' })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  refundQuery(
    @Param('outRefundNo') outRefundNo: string,
    @Req() req: RawBodyRequest,
    @Res() res: Response,
  ): void {
    this.send(
      res,
      this.gateway.handle(req, this.gateway.refundQuery(outRefundNo), { needsClientHeaders: true }),
    );
  }

  @Get('v3/bill/tradebill')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay trade bill (?bill_date=YYYY-MM-DD&bill_type=ALL&tar_type=GZIP)',
    description:
      'The Beijing day’s payments and refunds from the sandbox’s own trades (today’s too, unlike WeChat): {hash_type SHA1, hash_value, download_url}. ' +
      'hash_value is the SHA-1 of the bill text (decompressed); download_url is valid 30 s and needs a signed Authorization like any call. ' +
      'The bill control (/sandbox/wechat/control/bills) adds, leaves out or alters rows, answers STATEMENT_CREATING, or damages the file. ' +
      SIGNED,
  })
  @ApiOkResponse({ description: '{hash_type, hash_value, download_url}' })
  @ApiBadRequestResponse({
    description:
      'NO_STATEMENT_EXIST (no trade that day), STATEMENT_CREATING (told so), PARAM_ERROR',
  })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  tradeBill(@Req() req: RawBodyRequest, @Res() res: Response): void {
    this.send(res, this.gateway.handle(req, this.gateway.tradeBill()));
  }

  @Get('v3/billdownload/file')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay bill file (the download_url of tradebill)',
    description:
      'The bill text (UTF-8 with a BOM, backtick fields, summary lines last), gzipped when tar_type=GZIP was asked for. ' +
      'The request’s Authorization is checked like any call (the canonical URL is this path with its ?token=); the file itself is not signed.',
  })
  @ApiOkResponse({ description: 'application/x-gzip (or text/plain)' })
  @ApiNotFoundResponse({ description: 'RESOURCE_NOT_EXISTS: unknown or expired token' })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  billFile(@Req() req: RawBodyRequest, @Res() res: Response): void {
    const refusal = this.gateway.refusal(req);
    if (refusal) {
      this.send(res, refusal);
      return;
    }
    const token = new URL(req.originalUrl, 'http://sandbox').searchParams.get('token') ?? '';
    const file = this.bills.file(token);
    if (!file) {
      res.status(404).json({
        code: 'RESOURCE_NOT_EXISTS',
        message: '下载地址已失效 (unknown or expired token)',
      });
      return;
    }
    res
      .status(200)
      .set({
        'content-type': file.gzip ? 'application/x-gzip' : 'text/plain; charset=utf-8',
        'Request-ID': newRequestId(),
      })
      .send(file.body);
  }

  @Get('v3/certificates')
  @ApiHeader(AUTH_HEADER)
  @ApiOperation({
    summary: 'Simulated WeChat Pay platform certificates (certificate mode only)',
    description:
      'With WECHAT_SANDBOX_CERT_MODE=true: data[] of {serial_no, effective_time, expire_time, encrypt_certificate{algorithm AEAD_AES_256_GCM, nonce, associated_data, ciphertext}}, ' +
      'every certificate not yet expired, each PEM encrypted under the APIv3 key; signed with the newest certificate, whose serial is the Wechatpay-Serial. ' +
      'Otherwise 404 RESOURCE_NOT_EXISTS, as WeChat answers a merchant on the WeChat Pay public key.',
  })
  @ApiOkResponse({ description: '{data: [...]}' })
  @ApiNotFoundResponse({ description: 'RESOURCE_NOT_EXISTS: not in certificate mode' })
  @ApiUnauthorizedResponse(UNAUTHORIZED)
  certificates(@Req() req: RawBodyRequest, @Res() res: Response): void {
    // An outage told by the control API: the connection drops, as an unreachable host's would.
    if (this.platformCertificates.isDown) {
      req.socket.destroy();
      return;
    }
    this.send(res, this.gateway.handle(req, this.gateway.listCertificates()));
  }

  @Post('client-pay/jsapi')
  @HttpCode(200)
  @ApiOperation({
    summary: 'What WeChat does with JSAPI payment parameters (wx.requestPayment)',
    description:
      'Verifies paySign over appId\\ntimeStamp\\nnonceStr\\npackage\\n with the merchant key and names the cashier page that stands in for WeChat.',
  })
  @ApiOkResponse({ type: ClientPayResponse })
  @ApiBadRequestResponse({
    description: 'bad paySign, appId or prepay_id; `code` is INVALID_REQUEST',
  })
  openJsapi(
    @Body(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }))
    dto: JsapiClientPayDto,
  ): ClientPayResponse {
    return clientPay(() => this.gateway.openJsapiPayment(dto));
  }

  @Post('client-pay/app')
  @HttpCode(200)
  @ApiOperation({
    summary: 'What the WeChat app does with APP payment parameters (PayReq)',
    description:
      'Verifies sign over appid\\ntimestamp\\nnoncestr\\nprepayid\\n with the merchant key and names the cashier page that stands in for the app.',
  })
  @ApiOkResponse({ type: ClientPayResponse })
  @ApiBadRequestResponse({ description: 'bad sign, appid, partnerid or prepayid' })
  openApp(
    @Body(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }))
    dto: AppClientPayDto,
  ): ClientPayResponse {
    return clientPay(() => this.gateway.openAppPayment(dto));
  }

  private send(res: Response, reply: GatewayReply): void {
    const answer = () => {
      if (res.destroyed || res.writableEnded) return; // the caller gave up waiting
      // Signed when sent, so that a late answer still passes the 5-minute check.
      res
        .status(reply.status)
        .set({ ...this.gateway.answerHeaders(reply), 'Request-ID': newRequestId() });
      if (reply.text === '') res.end();
      else res.set('content-type', 'application/json; charset=utf-8').send(reply.text);
    };
    if (reply.delayMs) setTimeout(answer, reply.delayMs).unref();
    else answer();
  }
}

function clientPay(open: () => ClientPayResponse): ClientPayResponse {
  try {
    return open();
  } catch (err) {
    if (!(err instanceof WechatApiError)) throw err;
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: err.message,
      code: err.code,
    });
  }
}
