import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomAlphanumeric } from '../ids/ids';
import { requestContext } from './request-context';

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export type RequestWithId = Request & { id?: string };

/**
 * The first middleware of all (app.setup.ts): every request gets an id — the
 * caller's X-Request-Id when it is sane — echoed in the answer, so even the
 * answers given before routing (unknown route, malformed JSON, a body too large)
 * carry one.
 */
export function assignRequestId(req: RequestWithId, res: Response, next: NextFunction): void {
  const incoming = req.header('x-request-id');
  req.id = incoming && INCOMING_ID.test(incoming) ? incoming : `req_${randomAlphanumeric(16)}`;
  res.setHeader('X-Request-Id', req.id);
  next();
}

/**
 * Makes the request's id the context of everything that serves it, so every log
 * line carries it. Runs after the body parsers, whose stream callbacks would not
 * carry an earlier context along.
 */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(req: RequestWithId, res: Response, next: NextFunction): void {
    if (!req.id) assignRequestId(req, res, () => undefined);
    requestContext.run({ requestId: req.id! }, next);
  }
}
