import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { databaseErrorCode, isDatabaseUnavailable } from '../../database/database-errors';
import { ERROR_CODE_LOCAL } from '../logging/access-log.middleware';
import { currentRequestId } from '../logging/request-context';
import { DomainError, ERROR_STATUS, ErrorCode } from './domain-error';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
  requestId?: string;
}

const HTTP_CODES: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * How long a client is asked to wait after a database outage answer. MariaDB
 * restarted or failed over answers again within seconds, and the pool reconnects
 * by itself; storefronts and load balancers back off from there.
 */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * The one place errors become HTTP answers: `{statusCode, error, message, code}`.
 * Domain codes map to statuses through ERROR_STATUS; a database that cannot be
 * reached is a 503 with Retry-After (the request may succeed unchanged a little
 * later); anything else unexpected is a logged 500 whose answer reveals nothing.
 */
@Catch()
export class DomainExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const body = this.toBody(exception, (req as Request & { id?: string }).id);
    const databaseDown = isDatabaseUnavailable(exception);
    if (body.statusCode >= 500) {
      const err = exception as Error;
      const cause = databaseDown
        ? ` (database unavailable, ${databaseErrorCode(exception) ?? 'no driver code'})`
        : '';
      this.logger.error(
        `${req.method} ${req.path} failed${cause}: ${err?.name}: ${err?.message}`,
        err?.stack,
      );
    }
    res.locals[ERROR_CODE_LOCAL] = body.code;
    if (res.headersSent) return;
    if (databaseDown) res.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
    res.status(body.statusCode).json(body);
  }

  /** `fallbackRequestId`: the request's own id, for answers given outside its logging context. */
  toBody(exception: unknown, fallbackRequestId?: string): ErrorBody {
    const requestId = currentRequestId() ?? fallbackRequestId;
    const make = (statusCode: number, code: string, message: string): ErrorBody => ({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      message,
      code,
      ...(requestId ? { requestId } : {}),
    });
    if (exception instanceof DomainError)
      return make(ERROR_STATUS[exception.code], exception.code, exception.message);
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'string'
          ? response
          : Array.isArray((response as { message?: unknown }).message)
            ? (response as { message: string[] }).message.join('; ')
            : String((response as { message?: unknown }).message ?? exception.message);
      return make(
        status,
        HTTP_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED'),
        message,
      );
    }
    if (isDatabaseUnavailable(exception))
      return make(
        HttpStatus.SERVICE_UNAVAILABLE,
        'SERVICE_UNAVAILABLE',
        `the database is unavailable; try again in ${DATABASE_RETRY_AFTER_SECONDS} seconds`,
      );
    return make(HttpStatus.INTERNAL_SERVER_ERROR, 'INTERNAL', 'internal error');
  }
}
