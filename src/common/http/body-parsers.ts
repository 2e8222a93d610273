import type { NestExpressApplication } from '@nestjs/platform-express';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { DomainError } from '../errors/domain-error';
import { jsonNestsDeeperThan } from './json-depth';

/** Deeper JSON is refused before parsing (json-depth.ts); no paygate body comes near it. */
export const MAX_JSON_DEPTH = 32;
const JSON_TOO_DEEP = 'JSON nested too deeply';

export type RawBodyRequest = Request & { rawBody?: Buffer };

/** Keeps the exact bytes: channel signatures are checked over them, not over a re-serialisation. */
const keepRaw = (req: RawBodyRequest, _res: Response, buf: Buffer): void => {
  if (Buffer.isBuffer(buf)) req.rawBody = buf;
};

const keepRawJson = (req: RawBodyRequest, res: Response, buf: Buffer): void => {
  // body-parser sets a status on what verify throws, so this is a plain Error, mapped below.
  if (jsonNestsDeeperThan(buf, MAX_JSON_DEPTH)) throw new Error(JSON_TOO_DEEP);
  keepRaw(req, res, buf);
};

/** body-parser's failures as domain errors, so they answer 400/413/415 in the one error shape. */
function toDomainError(error: { type?: string; limit?: number; message?: string }): unknown {
  switch (error.type) {
    case 'entity.verify.failed':
      return error.message === JSON_TOO_DEEP
        ? new DomainError(
            'MALFORMED_BODY',
            `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
          )
        : error;
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

/** As many fields as body-parser's urlencoded allows by default. */
export const MAX_FORM_FIELDS = 1000;
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A form body (the bytes already read by express.raw) as flat fields: values
 * are strings, a repeated field an array of them, no nesting (`a[b]` is one
 * key), as body-parser's non-extended urlencoded parser gives. Parsed with
 * URLSearchParams: every Alipay notification takes this path, and qs (which
 * body-parser uses) cost several times more per form in profiles.
 */
export function parseForm(
  req: RawBodyRequest,
  _res: Response,
  next: (error?: unknown) => void,
): void {
  if (!Buffer.isBuffer(req.body)) return next();
  const charset = /;\s*charset=("?)([^";\s]+)\1/i.exec(req.header('content-type') ?? '')?.[2];
  if (charset && !/^utf-?8$/i.test(charset)) {
    return next(
      new DomainError(
        'UNSUPPORTED_MEDIA_TYPE',
        `body: unsupported charset "${charset.toUpperCase()}"`,
      ),
    );
  }
  const fields: Record<string, string | string[]> = {};
  let count = 0;
  for (const [key, value] of new URLSearchParams(req.body.toString('utf8'))) {
    if (++count > MAX_FORM_FIELDS) {
      return next(
        new DomainError('PAYLOAD_TOO_LARGE', `body: more than ${MAX_FORM_FIELDS} form fields`),
      );
    }
    if (UNSAFE_KEYS.has(key)) continue;
    const seen = fields[key];
    fields[key] =
      seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  req.body = fields;
  next();
}

/** JSON for the APIs, form-encoded for Alipay, XML text for WeChat v2; all with the same size limit. */
export function useBodyParsers(app: NestExpressApplication, limit: number): void {
  app.use(wrap(express.json({ limit, verify: keepRawJson })));
  app.use(
    wrap(express.raw({ limit, type: 'application/x-www-form-urlencoded', verify: keepRaw })),
    parseForm,
  );
  app.use(wrap(express.text({ limit, type: ['text/xml', 'application/xml'], verify: keepRaw })));
}
