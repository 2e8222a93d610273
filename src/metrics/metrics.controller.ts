import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { MetricsService } from './metrics.service';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({
    summary: 'Prometheus metrics (text exposition format)',
    description:
      'HTTP latency, channel calls and notifications, webhook attempts and database commits, for a Prometheus scrape.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text format 0.0.4',
    schema: {
      type: 'string',
      example:
        '# HELP paygate_webhook_attempts_total Merchant webhook delivery attempts by result\n' +
        '# TYPE paygate_webhook_attempts_total counter\n' +
        'paygate_webhook_attempts_total{result="delivered"} 3\n',
    },
  })
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
