import { Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiConsumes, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { RawBodyRequest } from '../common/http/body-parsers';
import { writeChannelReply } from './channel-reply';
import { NotificationsService } from './notifications.service';
import { NotifyAllowlistGuard, NotifyChannel, callerIp } from './notify-allowlist.guard';

@ApiTags('channel callbacks')
@Controller('notify')
@UseGuards(NotifyAllowlistGuard)
export class AlipayNotifyController {
  constructor(private readonly notifications: NotificationsService) {}

  @Post('alipay')
  @NotifyChannel('alipay')
  @HttpCode(200)
  @ApiOperation({ summary: 'Alipay trade notification (called by Alipay)' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiResponse({
    status: 200,
    description: '`success` once recorded and applied; `fail` so that Alipay retries',
  })
  @ApiResponse({ status: 403, description: 'caller outside ALIPAY_NOTIFY_ALLOW_IPS' })
  async alipay(@Req() req: RawBodyRequest, @Res() res: Response): Promise<void> {
    const reply = await this.notifications.receive('alipay', {
      headers: req.headers,
      body: req.body,
      rawBody: req.rawBody,
      sourceIp: callerIp(req),
    });
    writeChannelReply(res, reply);
  }
}
