import { Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { RequestWithId } from './request-id.middleware';
import { requestContext } from './request-context';

/** Where the exception filter leaves an error answer's code for the access line. */
export const ERROR_CODE_LOCAL = 'paygateErrorCode';

/**
 * One line per request once it is answered: method, route pattern (the path
 * only when no route matched; never the query string, which may carry a client
 * secret), status, latency, the error code of an error answer, and the request
 * id. Never a body or a header.
 */
@Injectable()
export class AccessLogMiddleware implements NestMiddleware {
  private readonly logger = new Logger('HTTP');

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const routePath = (req.route as { path?: string } | undefined)?.path;
      const route = routePath ? `${req.baseUrl}${routePath}` : req.path;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const code = res.locals[ERROR_CODE_LOCAL] as string | undefined;
      const line = `${req.method} ${route} ${res.statusCode} ${ms.toFixed(1)}ms${code ? ` ${code}` : ''}`;
      const requestId = (req as RequestWithId).id;
      const write = () => (res.statusCode >= 500 ? this.logger.error(line) : this.logger.log(line));
      if (requestId) requestContext.run({ requestId }, write);
      else write();
    });
    next();
  }
}
