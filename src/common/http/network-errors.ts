/**
 * What a failed outbound call (fetch) says about itself: whether it timed out,
 * and whether it failed before any connection existed — then the request cannot
 * have reached the other side, and sending it again cannot apply it twice.
 * Shared by the channel clients.
 */

/**
 * Errors raised before a TCP connection exists.
 */
const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function errorField(err: unknown, field: 'name' | 'message'): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const value = (err as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

export function isTimeout(err: unknown): boolean {
  const name = errorField(err, 'name');
  return name === 'TimeoutError' || name === 'AbortError';
}

/** fetch wraps the socket error: TypeError("fetch failed") → cause → (AggregateError.errors). */
function errorCodes(err: unknown, depth = 0): string[] {
  if (depth > 4 || typeof err !== 'object' || err === null) return [];
  const codes: string[] = [];
  const { code, cause, errors } = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string') codes.push(code);
  codes.push(...errorCodes(cause, depth + 1));
  if (Array.isArray(errors)) for (const e of errors) codes.push(...errorCodes(e, depth + 1));
  return codes;
}

export function isConnectFailure(err: unknown): boolean {
  const codes = errorCodes(err);
  return codes.length > 0 && codes.every((c) => CONNECT_ERROR_CODES.has(c));
}

export function describeNetworkError(err: unknown): string {
  const codes = errorCodes(err);
  if (codes.length > 0) return [...new Set(codes)].join(',');
  return errorField(err, 'message') ?? String(err);
}
