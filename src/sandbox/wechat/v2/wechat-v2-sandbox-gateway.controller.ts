import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { WechatV2SandboxGateway, type V2Reply } from './wechat-v2-sandbox.gateway';

const SIGNED =
  'text/xml, signed per protocols.md B2 with the sandbox API key (sign_type MD5 by default, or HMAC-SHA256). ' +
  'Answers v2 XML: return_code FAIL (unsigned) when it cannot read or trust the request; else signed, result_code SUCCESS or FAIL with err_code.';

/**
 * WeChat Pay API v2 under /sandbox/wechat/v2 (protocols.md B3–B6), mounted
 * instead of the v3 gateway when WECHAT_API_VERSION=v2 runs on the sandbox.
 */
@ApiTags('sandbox')
@Controller('sandbox/wechat/v2')
export class WechatV2SandboxGatewayController {
  constructor(private readonly gateway: WechatV2SandboxGateway) {}

  @Post('pay/unifiedorder')
  @HttpCode(200)
  @ApiConsumes('text/xml')
  @ApiOperation({
    summary: 'Simulated v2 unifiedorder (NATIVE, JSAPI, MWEB, APP)',
    description: `code_url (NATIVE: the sandbox cashier page), prepay_id, mweb_url (MWEB). ${SIGNED}`,
  })
  @ApiOkResponse({ description: 'v2 XML' })
  unifiedOrder(@Req() req: Request, @Res() res: Response): void {
    this.send(res, this.gateway.handle('pay/unifiedorder', req.body));
  }

  @Post('pay/orderquery')
  @HttpCode(200)
  @ApiConsumes('text/xml')
  @ApiOperation({ summary: 'Simulated v2 orderquery', description: SIGNED })
  @ApiOkResponse({ description: 'v2 XML with trade_state' })
  orderQuery(@Req() req: Request, @Res() res: Response): void {
    this.send(res, this.gateway.handle('pay/orderquery', req.body));
  }

  @Post('pay/closeorder')
  @HttpCode(200)
  @ApiConsumes('text/xml')
  @ApiOperation({
    summary: 'Simulated v2 closeorder',
    description: `err_code ORDERPAID for a paid trade, ORDERCLOSED for a closed one. ${SIGNED}`,
  })
  @ApiOkResponse({ description: 'v2 XML' })
  closeOrder(@Req() req: Request, @Res() res: Response): void {
    this.send(res, this.gateway.handle('pay/closeorder', req.body));
  }

  @Post('secapi/pay/refund')
  @HttpCode(200)
  @ApiConsumes('text/xml')
  @ApiOperation({
    summary: 'Simulated v2 refund',
    description:
      'The real endpoint requires the merchant client certificate (mutual TLS); plain http cannot carry one, so the sandbox checks everything else. ' +
      `Accepted refunds are PROCESSING, then settle and notify /notify/wechat/v2/refund. ${SIGNED}`,
  })
  @ApiOkResponse({ description: 'v2 XML' })
  refund(@Req() req: Request, @Res() res: Response): void {
    this.send(res, this.gateway.handle('secapi/pay/refund', req.body));
  }

  @Post('pay/refundquery')
  @HttpCode(200)
  @ApiConsumes('text/xml')
  @ApiOperation({ summary: 'Simulated v2 refundquery', description: SIGNED })
  @ApiOkResponse({ description: 'v2 XML with refund_status_$n' })
  refundQuery(@Req() req: Request, @Res() res: Response): void {
    this.send(res, this.gateway.handle('pay/refundquery', req.body));
  }

  @Post('pay/downloadbill')
  @HttpCode(200)
  @ApiConsumes('text/xml')
  @ApiOperation({
    summary: 'Simulated v2 downloadbill (bill_type ALL, SUCCESS, REFUND; tar_type GZIP)',
    description:
      "The bill of a Beijing day (bill_date yyyyMMdd) from the sandbox's trades and refunds: unsigned text/plain, " +
      'backtick fields, summary lines last; application/x-gzip with tar_type GZIP. ' +
      'Errors, and a day with nothing to bill ("No Bill Exist"), are v2 XML return_code FAIL with error_code. ' +
      'The request is checked like the others: text/xml signed per protocols.md B2 with the sandbox API key.',
  })
  @ApiOkResponse({ description: 'The bill (text/plain or application/x-gzip), or v2 XML FAIL' })
  downloadBill(@Req() req: Request, @Res() res: Response): void {
    this.send(res, this.gateway.handle('pay/downloadbill', req.body));
  }

  private send(res: Response, reply: V2Reply): void {
    const answer = () => {
      if (res.destroyed || res.writableEnded) return;
      if (reply.bill) {
        res
          .status(200)
          .set('content-type', reply.bill.gzip ? 'application/x-gzip' : 'text/plain; charset=utf-8')
          .send(reply.bill.body);
        return;
      }
      res.status(200).set('content-type', 'text/xml; charset=utf-8').send(reply.xml);
    };
    if (reply.delayMs) setTimeout(answer, reply.delayMs).unref();
    else answer();
  }
}
