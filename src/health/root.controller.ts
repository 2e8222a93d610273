import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';

/** What a person who opens the bare address in a browser is looking for. */
@ApiTags('operations')
@Controller()
export class RootController {
  @Get()
  @ApiOperation({ summary: 'Where to go from here: the API docs and the health check' })
  @ApiOkResponse({
    schema: {
      example: {
        service: 'paygate',
        docs: '/docs',
        openapi: '/docs-json',
        health: '/health',
        metrics: '/metrics',
      },
    },
  })
  index() {
    return {
      service: 'paygate',
      message:
        'paygate is running. The API is described at /docs; /health says whether it is well.',
      docs: '/docs',
      openapi: '/docs-json',
      health: '/health',
      metrics: '/metrics',
    };
  }
}
