import { Body, Controller, Get, HttpCode, Post, ValidationPipe } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CertificatesOutageDto } from './dto/wechat-sandbox-control.dto';
import { WechatSandboxCertificates } from './wechat-sandbox-certificates';

/**
 * The simulated WeChat Pay's platform certificates (certificate mode): rotate
 * them as WeChat does, or make GET /v3/certificates unreachable.
 */
@ApiTags('sandbox')
@Controller('sandbox/wechat/control')
export class WechatSandboxCertificatesController {
  constructor(private readonly certificates: WechatSandboxCertificates) {}

  @Get('platform-certificates')
  @ApiOperation({
    summary: 'Which serial the sandbox signs with, and whether it is in certificate mode',
  })
  @ApiOkResponse({
    schema: {
      example: { certMode: true, serial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1', down: false },
    },
  })
  view(): { certMode: boolean; serial: string; down: boolean } {
    return {
      certMode: this.certificates.certMode,
      serial: this.certificates.current().serial,
      down: this.certificates.isDown,
    };
  }

  @Post('rotate-platform-certificate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Issue a new platform certificate (new key, new serial) and sign with it from now on',
    description:
      'Certificate mode only. The old certificate stays listed by GET /v3/certificates until it expires, as WeChat does; answers and notifications (retries included) carry the new serial.',
  })
  @ApiOkResponse({ schema: { example: { serial: '6B1D…', listed: ['5157…', '6B1D…'] } } })
  rotate(): { serial: string; listed: string[] } {
    return this.certificates.rotate();
  }

  @Post('certificates-outage')
  @HttpCode(200)
  @ApiOperation({
    summary: 'GET /v3/certificates unreachable (down: true) or back (down: false)',
    description: 'For trying what paygate does while WeChat Pay cannot be reached at start.',
  })
  @ApiBody({ type: CertificatesOutageDto })
  @ApiOkResponse({ schema: { example: { down: true } } })
  outage(
    @Body(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }))
    dto: CertificatesOutageDto,
  ): { down: boolean } {
    this.certificates.setDown(dto.down);
    return { down: this.certificates.isDown };
  }
}
