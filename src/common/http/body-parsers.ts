import type { NestExpressApplication } from '@nestjs/platform-express';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { DomainError } from '../errors/domain-error';

export type RawBodyRequest = Request & { rawBody?: Buffer };

/** Keeps the exact bytes: channel signatures are checked over them, not over a re-serialisation. */
const keepRaw = (req: RawBodyRequest, _res: Response, buf: Buffer): void => {
  if (Buffer.isBuffer(buf)) req.rawBody = buf;
};

/** body-parser's failures as domain errors, so they answer 400/413/415 in the one error shape. */
function toDomainError(error: { type?: string; limit?: number; message?: string }): unknown {
  switch (error.type) {
    case 'entity.parse.failed':
      return new DomainError('MALFORMED_BODY', 'body: not valid JSON');
    case 'entity.too.large':
      return new DomainError(
        'PAYLOAD_TOO_LARGE',
        `body: larger than the limit of ${error.limit} bytes`,
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new DomainError(
        'UNSUPPORTED_MEDIA_TYPE',
        `body: ${error.message ?? 'unsupported encoding'}`,
      );
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new DomainError('MALFORMED_BODY', `body: ${error.message ?? 'unreadable'}`);
    default:
      return error;
  }
}

const wrap =
  (parser: RequestHandler): RequestHandler =>
  (req: Request, res: Response, next: NextFunction) =>
    parser(req, res, (error?: unknown) => next(error ? toDomainError(error) : undefined));

/** JSON for the APIs, form-encoded for Alipay, XML text for WeChat v2; all with the same size limit. */
export function useBodyParsers(app: NestExpressApplication, limit: number): void {
  app.use(wrap(express.json({ limit, verify: keepRaw })));
  app.use(wrap(express.urlencoded({ limit, extended: false, verify: keepRaw })));
  app.use(wrap(express.text({ limit, type: ['text/xml', 'application/xml'], verify: keepRaw })));
}
