/**
 * Services throw DomainError with a stable code; DomainExceptionFilter is the
 * one place that turns a code into an HTTP status. Storefronts may branch on
 * `code`, so codes are never renamed.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  MALFORMED_BODY: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  PAYMENT_NOT_FOUND: 404,
  REFUND_NOT_FOUND: 404,
  WEBHOOK_DELIVERY_NOT_FOUND: 404,
  RECONCILIATION_NOT_FOUND: 404,
  DISCREPANCY_NOT_FOUND: 404,
  ORDER_CONFLICT: 409,
  ORDER_NOT_PAYABLE: 409,
  ORDER_NOT_CLOSABLE: 409,
  ORDER_NOT_REFUNDABLE: 409,
  REFUND_CONFLICT: 409,
  REFUND_EXCEEDS_PAID: 409,
  REFUND_NOT_ALLOWED: 409,
  CHANNEL_NOT_CONFIGURED: 409,
  WEBHOOK_DELIVERY_IN_FLIGHT: 409,
  DISCREPANCY_RESOLVED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  SIGNATURE_INVALID: 400,
  CHANNEL_ERROR: 502,
  CHANNEL_UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: 'order' | 'payment' | 'refund', id: string): DomainError =>
  new DomainError(
    `${what.toUpperCase()}_NOT_FOUND` as ErrorCode,
    `${what} ${JSON.stringify(id)} not found`,
  );
