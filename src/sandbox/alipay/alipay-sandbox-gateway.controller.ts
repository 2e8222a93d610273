import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Req,
  Res,
  ValidationPipe,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConsumes,
  ApiFoundResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AlipaySandboxBillService } from './alipay-sandbox-bill.service';
import { AlipayGatewayError } from './alipay-sandbox.errors';
import {
  AlipaySandboxGateway,
  newGatewayParams,
  type GatewayParams,
  type GatewayReply,
} from './alipay-sandbox.gateway';
import { gatewayErrorPage } from './alipay-sandbox.pages';
import { OpenAppPaymentDto } from './dto/alipay-sandbox-control.dto';
import { OpenAppPaymentResponse } from './dto/alipay-sandbox-trade.response';

const GATEWAY_DOC =
  'Speaks the Alipay openapi protocol: common parameters in the query string and/or form body, RSA2-signed with the sandbox app key. ' +
  'Answers `{"<method>_response":{…},"sign":"…"}` signed with the sandbox gateway key. Methods: alipay.trade.precreate, query, close, refund, ' +
  'fastpay.refund.query, alipay.data.dataservice.bill.downloadurl.query; alipay.trade.page.pay / wap.pay / app.pay redirect (302) to the cashier page.';

@ApiTags('sandbox')
@Controller('sandbox/alipay')
export class AlipaySandboxGatewayController {
  constructor(
    private readonly gateway: AlipaySandboxGateway,
    private readonly bills: AlipaySandboxBillService,
  ) {}

  @Post('gateway.do')
  @ApiOperation({
    summary: 'Simulated Alipay gateway (server-to-server calls, POST forms)',
    description: GATEWAY_DOC,
  })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiOkResponse({ description: 'Signed JSON answer, also for errors (code ≠ 10000)' })
  @ApiFoundResponse({ description: 'page.pay / wap.pay / app.pay: to the cashier page' })
  gatewayPost(@Req() req: Request, @Res() res: Response): void {
    this.send(res, this.run(req));
  }

  @Get('gateway.do')
  @ApiOperation({
    summary: 'Simulated Alipay gateway (signed URLs a browser follows)',
    description: GATEWAY_DOC,
  })
  @ApiOkResponse({ description: 'Signed JSON answer' })
  @ApiFoundResponse({ description: 'page.pay / wap.pay / app.pay: to the cashier page' })
  gatewayGet(@Req() req: Request, @Res() res: Response): void {
    this.send(res, this.run(req));
  }

  @Post('app-pay')
  @HttpCode(200)
  @ApiOperation({
    summary: 'What the Alipay app does with an alipay.trade.app.pay order string',
    description:
      'Verifies the order string, creates the trade and names the cashier page that stands in for the app.',
  })
  @ApiOkResponse({ type: OpenAppPaymentResponse })
  @ApiBadRequestResponse({
    description: 'Bad signature, app_id or business field; `code`/`subCode` say which',
  })
  openAppPayment(
    @Body(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }))
    dto: OpenAppPaymentDto,
  ): OpenAppPaymentResponse {
    try {
      return this.gateway.openAppPayment(dto.orderString);
    } catch (err) {
      if (!(err instanceof AlipayGatewayError)) throw err;
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: `${err.subCode}: ${err.subMsg}`,
        code: err.code,
        subCode: err.subCode,
      });
    }
  }

  @Get('bills/:token.zip')
  @ApiOperation({ summary: 'Bill download (the URL from bill.downloadurl.query; valid 30 s)' })
  @ApiProduces('application/zip')
  @ApiOkResponse({ description: 'zip of GBK CSV files: 业务明细 and 业务明细(汇总)' })
  @ApiNotFoundResponse({ description: 'unknown or expired URL' })
  async downloadBill(@Param('token') token: string, @Res() res: Response): Promise<void> {
    const bill = this.bills.find(token);
    if (!bill) throw new NotFoundException('bill URL unknown or expired (they are valid for 30 s)');
    const zip = await this.bills.zip(bill);
    res
      .status(200)
      .set({
        'content-type': 'application/zip',
        'content-disposition': `attachment; filename="${bill.fileName}"`,
      })
      .send(zip);
  }

  private run(req: Request): GatewayReply {
    let params: GatewayParams;
    try {
      params = collectParams(req);
    } catch (err) {
      if (!(err instanceof AlipayGatewayError)) throw err;
      return this.gateway.reject(err, undefined);
    }
    return this.gateway.handle(params);
  }

  private send(res: Response, reply: GatewayReply): void {
    switch (reply.kind) {
      case 'json': {
        const answer = () => {
          if (res.destroyed || res.writableEnded) return; // the caller gave up waiting
          res.status(200).set('content-type', 'application/json; charset=utf-8').send(reply.text);
        };
        if (reply.delayMs) setTimeout(answer, reply.delayMs).unref();
        else answer();
        return;
      }
      case 'redirect':
        res.redirect(302, reply.location);
        return;
      case 'error-page':
        res
          .status(400)
          .set('content-type', 'text/html; charset=utf-8')
          .send(gatewayErrorPage(reply.error));
    }
  }
}

/**
 * The official SDKs put the common parameters in the query string and the rest
 * in the form body; both halves form one signed set. The query is read raw so
 * that an app-wide "extended" query parser cannot turn `a[b]` into objects.
 */
function collectParams(req: Request): GatewayParams {
  const params = newGatewayParams();
  const add = (key: string, value: unknown) => {
    if (typeof value !== 'string') {
      throw new AlipayGatewayError(
        '40002',
        'isv.invalid-parameter',
        `参数无效 (${key} is not text)`,
      );
    }
    if (key in params && params[key] !== value) {
      throw new AlipayGatewayError(
        '40002',
        'isv.invalid-parameter',
        `参数无效 (${key} given twice)`,
      );
    }
    params[key] = value;
  };
  const q = req.originalUrl.indexOf('?');
  if (q >= 0) for (const [k, v] of new URLSearchParams(req.originalUrl.slice(q + 1))) add(k, v);
  const body: unknown = req.body;
  if (body && typeof body === 'object' && !Buffer.isBuffer(body)) {
    for (const [k, v] of Object.entries(body)) add(k, v);
  }
  return params;
}
