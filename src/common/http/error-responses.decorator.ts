import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import { ERROR_STATUS, ErrorCode } from '../errors/domain-error';

export class ErrorResponse {
  @ApiProperty({ example: 400 })
  statusCode!: number;
  @ApiProperty({ example: 'Bad Request' })
  error!: string;
  @ApiProperty({ example: 'amount must be at least 1 fen' })
  message!: string;
  @ApiProperty({ example: 'VALIDATION_FAILED' })
  code!: string;
  @ApiProperty({ example: 'req_3kTq9ZxV1bN0aP2m', required: false })
  requestId?: string;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'malformed input; message names the field',
  401: 'no or unknown credentials',
  403: 'valid credentials of the wrong kind',
  404: 'unknown id',
  409: 'conflicts with the current state',
  413: 'body over BODY_LIMIT_BYTES',
  415: 'body in an unsupported encoding or charset',
  500: 'unexpected failure; the message reveals nothing',
  502: 'the channel answered with an error',
  503: 'the channel or the database could not be reached; the same call may succeed later',
};

/** What each documented code's answer looks like: the messages the service really sends. */
const EXAMPLE_MESSAGES: Partial<Record<ErrorCode, string>> = {
  VALIDATION_FAILED: 'amount must be at least 1 fen',
  MALFORMED_BODY: 'body: not valid JSON',
  UNAUTHENTICATED: 'unknown API key',
  FORBIDDEN: 'these credentials (admin) may not call this endpoint',
  ORDER_NOT_FOUND: 'order "ord_7QbXk2MZf0N3rVt9Lw1sYcAa" not found',
  REFUND_NOT_FOUND: 'refund "ref_9Lm2QxT0bV4kZp7sN1cW8rYa" not found',
  WEBHOOK_DELIVERY_NOT_FOUND: 'webhook delivery "whd_8bXq2NwL4pR0sTk3Zv9mYc1A" not found',
  RECONCILIATION_NOT_FOUND: 'reconciliation run "rec_5hQm2XbT9kLw0Zp3Nv7cR1sY" not found',
  DISCREPANCY_NOT_FOUND: 'discrepancy "dsc_2Lw9Tq0bXk4mZp7sN1cV8rYa" not found',
  DISCREPANCY_RESOLVED:
    'discrepancy "dsc_2Lw9Tq0bXk4mZp7sN1cV8rYa" was resolved at 2024-01-02T03:04:05.000Z',
  ORDER_CONFLICT: 'merchantOrderNo "SO-1001" already exists with a different amount or subject',
  ORDER_NOT_PAYABLE: 'order ord_7QbXk2MZf0N3rVt9Lw1sYcAa is CLOSED and cannot be paid',
  ORDER_NOT_CLOSABLE: 'order ord_7QbXk2MZf0N3rVt9Lw1sYcAa is PAID and cannot be closed',
  ORDER_NOT_REFUNDABLE:
    'order ord_7QbXk2MZf0N3rVt9Lw1sYcAa is PENDING: only a paid order can be refunded',
  REFUND_CONFLICT: 'merchantRefundNo "RF-1001" already exists on this order with amount 100 fen',
  REFUND_EXCEEDS_PAID:
    'amount: 8000 fen is more than the 7880 fen that remain refundable on order ord_7QbXk2MZf0N3rVt9Lw1sYcAa',
  WEBHOOK_DELIVERY_IN_FLIGHT:
    'delivery "whd_8bXq2NwL4pR0sTk3Zv9mYc1A" is being sent right now; look again in a few seconds',
  PAYLOAD_TOO_LARGE: 'body: larger than the limit of 65536 bytes',
  UNSUPPORTED_MEDIA_TYPE: 'body: unsupported charset "LATIN-1"',
  INTERNAL: 'internal error',
  CHANNEL_ERROR: 'alipay.trade.precreate answered 40004 ACQ.TRADE_HAS_CLOSE 交易已经关闭',
  CHANNEL_UNAVAILABLE:
    'alipay.trade.precreate: no complete answer within 10000 ms; outcome unknown',
  SERVICE_UNAVAILABLE: 'the database is unavailable; try again in 5 seconds',
};

/** The code a bare status stands for. */
const DEFAULT_CODES: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ORDER_NOT_FOUND',
  409: 'ORDER_CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  500: 'INTERNAL',
  502: 'CHANNEL_ERROR',
  503: 'CHANNEL_UNAVAILABLE',
};

const exampleBody = (code: ErrorCode): ErrorResponse => {
  const statusCode = ERROR_STATUS[code];
  return {
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message: EXAMPLE_MESSAGES[code] ?? code,
    code,
    requestId: 'req_3kTq9ZxV1bN0aP2m',
  };
};

/**
 * Documents the error answers of an endpoint, all in the one error shape, each
 * status with its own example body. Give a status for its usual code, or the
 * codes themselves (`'REFUND_NOT_FOUND'`); several codes of one status are
 * documented as named examples of that status. Every endpoint can also answer
 * 503 SERVICE_UNAVAILABLE (with Retry-After) while the database is away, so
 * that is documented on all of them.
 */
export const ErrorResponses = (
  ...answers: Array<number | ErrorCode>
): MethodDecorator & ClassDecorator => {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const answer of [...answers, 'SERVICE_UNAVAILABLE' as const]) {
    const status = typeof answer === 'number' ? answer : ERROR_STATUS[answer];
    const code = typeof answer === 'number' ? DEFAULT_CODES[answer] : answer;
    byStatus.set(status, [...(byStatus.get(status) ?? []), ...(code ? [code] : [])]);
  }
  return applyDecorators(
    ...[...byStatus].map(([status, codes]) =>
      ApiResponse({
        status,
        type: ErrorResponse,
        ...(status === 503
          ? {
              headers: {
                'Retry-After': {
                  description: 'seconds to wait before trying again (database unavailable)',
                  schema: { type: 'integer', example: 5 },
                },
              },
            }
          : {}),
        description:
          codes.length > 1
            ? `${DESCRIPTIONS[status] ?? STATUS_CODES[status]}: ${codes.join(', ')}`
            : (DESCRIPTIONS[status] ?? STATUS_CODES[status]),
        ...(codes.length === 0
          ? {}
          : codes.length > 1
            ? {
                examples: Object.fromEntries(
                  codes.map((code) => [code, { summary: code, value: exampleBody(code) }]),
                ),
              }
            : { example: exampleBody(codes[0]) }),
      }),
    ),
  );
};
