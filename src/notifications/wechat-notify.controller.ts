import { Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiConsumes, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { RawBodyRequest } from '../common/http/body-parsers';
import { writeChannelReply } from './channel-reply';
import { NotificationsService } from './notifications.service';
import { NotifyAllowlistGuard, NotifyChannel, callerIp } from './notify-allowlist.guard';

@ApiTags('channel callbacks')
@Controller('notify/wechat')
@UseGuards(NotifyAllowlistGuard)
export class WechatNotifyController {
  constructor(private readonly notifications: NotificationsService) {}

  @Post('v3')
  @NotifyChannel('wechat')
  @ApiOperation({
    summary: 'WeChat Pay v3 notification: payments and refunds (called by WeChat Pay)',
    description:
      'Verified with the Wechatpay-* headers over the raw body (5-minute timestamp window), the resource decrypted with the APIv3 key, applied once.',
  })
  @ApiConsumes('application/json')
  @ApiResponse({ status: 204, description: 'recorded and applied' })
  @ApiResponse({
    status: 400,
    description: '`{code:"FAIL"}`: refused (signature, timestamp, identity, or not our records)',
  })
  @ApiResponse({
    status: 500,
    description: '`{code:"FAIL"}`: not processed, WeChat sends it again',
  })
  @ApiResponse({ status: 403, description: 'caller outside WECHAT_NOTIFY_ALLOW_IPS' })
  async v3(@Req() req: RawBodyRequest, @Res() res: Response): Promise<void> {
    const reply = await this.notifications.receive('wechat', {
      headers: req.headers,
      body: req.body,
      rawBody: req.rawBody,
      sourceIp: callerIp(req),
      path: 'v3',
    });
    writeChannelReply(res, reply);
  }

  @Post('v2')
  @NotifyChannel('wechat')
  @ApiOperation({
    summary: 'WeChat Pay v2 payment result (called by WeChat Pay)',
    description:
      'XML (text/xml). Verified with the API key under WECHAT_SIGN_TYPE (a sign_type field must agree), then appid, mch_id, out_trade_no and total_fee; applied once. DOCTYPE/ENTITY bodies are refused unread.',
  })
  @ApiConsumes('text/xml')
  @ApiResponse({
    status: 200,
    description:
      'v2 XML: return_code SUCCESS once recorded and applied; FAIL when refused or not processed (WeChat sends it again)',
  })
  @ApiResponse({ status: 403, description: 'caller outside WECHAT_NOTIFY_ALLOW_IPS' })
  @ApiResponse({ status: 413, description: 'body larger than the limit' })
  async v2(@Req() req: RawBodyRequest, @Res() res: Response): Promise<void> {
    await this.receiveV2(req, res, 'v2');
  }

  @Post('v2/refund')
  @NotifyChannel('wechat')
  @ApiOperation({
    summary: 'WeChat Pay v2 refund result (called by WeChat Pay)',
    description:
      'XML (text/xml) whose req_info is AES-256-ECB under md5(API key); appid and mch_id checked; SUCCESS, CHANGE and REFUNDCLOSE settle the refund.',
  })
  @ApiConsumes('text/xml')
  @ApiResponse({ status: 200, description: 'v2 XML, return_code SUCCESS or FAIL' })
  @ApiResponse({ status: 403, description: 'caller outside WECHAT_NOTIFY_ALLOW_IPS' })
  @ApiResponse({ status: 413, description: 'body larger than the limit' })
  async v2Refund(@Req() req: RawBodyRequest, @Res() res: Response): Promise<void> {
    await this.receiveV2(req, res, 'v2/refund');
  }

  private async receiveV2(req: RawBodyRequest, res: Response, path: string): Promise<void> {
    const reply = await this.notifications.receive('wechat', {
      headers: req.headers,
      // The XML text when it came as text/xml; anything else is refused by the provider.
      body: typeof req.body === 'string' ? req.body : undefined,
      rawBody: req.rawBody,
      sourceIp: callerIp(req),
      path,
    });
    writeChannelReply(res, reply);
  }
}
