import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomAlphanumeric } from '../ids/ids';
import { requestContext } from './request-context';

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Gives every request an id (the caller's X-Request-Id when it is sane), echoed in the answer. */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    const incoming = req.header('x-request-id');
    const requestId =
      incoming && INCOMING_ID.test(incoming) ? incoming : `req_${randomAlphanumeric(16)}`;
    (req as Request & { id: string }).id = requestId;
    res.setHeader('X-Request-Id', requestId);
    requestContext.run({ requestId }, next);
  }
}
