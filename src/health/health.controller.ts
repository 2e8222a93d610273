import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { withStatementTimeout } from '../database/statement-timeout';
import { ProviderRegistry } from '../payments/provider-registry';
import { GracefulShutdown } from './graceful-shutdown.service';

const startedAt = Date.now();
/** How long the database has to answer a health check. */
const HEALTH_TIMEOUT_MS = 2000;

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly providers: ProviderRegistry,
    private readonly shutdown: GracefulShutdown,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Health check: the service runs and its database answers',
    description:
      'channels.wechat says whether WeChat Pay calls can be made: in platform-certificate mode ' +
      'they are refused (503 CHANNEL_UNAVAILABLE) until GET /v3/certificates succeeds, and `reason` says why.',
  })
  @ApiOkResponse({
    description: 'the database answers',
    schema: {
      example: {
        status: 'ok',
        database: 'up',
        uptimeSeconds: 42,
        channels: {
          wechat: { mode: 'platform-certificate', state: 'ready', serials: ['5157F09E'] },
        },
      },
    },
  })
  @ApiResponse({
    status: 503,
    description:
      'the database does not answer (`status: "error"`), or the instance is stopping (`status: "stopping"`)',
    schema: { example: { status: 'error', database: 'down', uptimeSeconds: 42 } },
  })
  async check(@Res({ passthrough: true }) res: Response): Promise<Record<string, unknown>> {
    const uptimeSeconds = Math.round((Date.now() - startedAt) / 1000);
    // A channel's outage is reported, not a 503: the service itself still runs.
    const channels = this.providers.health();
    if (this.shutdown.draining) {
      // Asked on a kept-alive connection during a stop: a load balancer should look elsewhere.
      res.status(503);
      return { status: 'stopping', uptimeSeconds, channels };
    }
    try {
      // The statement's own bound closes a connection that does not answer (on
      // MySQL), so that checks during a partition do not each keep one of the
      // pool's; the outer one also covers waiting for a connection, and SQLite.
      await withTimeout(
        withStatementTimeout(HEALTH_TIMEOUT_MS, () => this.dataSource.query('SELECT 1')),
        HEALTH_TIMEOUT_MS,
      );
      return { status: 'ok', database: 'up', uptimeSeconds, channels };
    } catch {
      res.status(503);
      return { status: 'error', database: 'down', uptimeSeconds, channels };
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
