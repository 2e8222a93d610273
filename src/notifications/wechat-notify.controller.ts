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
    });
    writeChannelReply(res, reply);
  }
}
