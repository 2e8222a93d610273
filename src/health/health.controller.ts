import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import { DataSource } from 'typeorm';

const startedAt = Date.now();

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get()
  @ApiOperation({ summary: 'Health check: the service runs and its database answers' })
  @ApiOkResponse({
    description: 'the database answers',
    schema: { example: { status: 'ok', database: 'up', uptimeSeconds: 42 } },
  })
  @ApiResponse({
    status: 503,
    description: 'the database does not answer',
    schema: { example: { status: 'error', database: 'down', uptimeSeconds: 42 } },
  })
  async check(@Res({ passthrough: true }) res: Response): Promise<Record<string, unknown>> {
    const uptimeSeconds = Math.round((Date.now() - startedAt) / 1000);
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), 2000);
      return { status: 'ok', database: 'up', uptimeSeconds };
    } catch {
      res.status(503);
      return { status: 'error', database: 'down', uptimeSeconds };
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
