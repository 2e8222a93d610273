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
 * The one place errors become HTTP answers: `{statusCode, error, message, code}`.
 * Domain codes map to statuses through ERROR_STATUS; anything unexpected is a
 * logged 500 whose answer reveals nothing.
 */
@Catch()
export class DomainExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const body = this.toBody(exception, (req as Request & { id?: string }).id);
    if (body.statusCode >= 500) {
      const err = exception as Error;
      this.logger.error(
        `${req.method} ${req.path} failed: ${err?.name}: ${err?.message}`,
        err?.stack,
      );
    }
    res.locals[ERROR_CODE_LOCAL] = body.code;
    if (res.headersSent) return;
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
    return make(HttpStatus.INTERNAL_SERVER_ERROR, 'INTERNAL', 'internal error');
  }
}
