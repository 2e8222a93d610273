import { randomBytes } from 'node:crypto';

/** A fresh CSP nonce for one answer. */
export const newNonce = (): string => randomBytes(18).toString('base64');

/**
 * The headers of every checkout answer. The page runs only the script carrying
 * this answer's nonce and loads styles from paygate; it may not be framed
 * (clickjacking), posts no form, and talks only to paygate.
 * Referrer-Policy strict-origin: the page's address carries the client secret, so
 * other sites see at most paygate's origin — which WeChat Pay's H5 checks against
 * the merchant's registered domain, so the origin itself must still go.
 */
export function checkoutHeaders(nonce?: string): Record<string, string> {
  const csp = [
    "default-src 'none'",
    nonce ? `script-src 'nonce-${nonce}'` : "script-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    'Content-Security-Policy': csp,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'strict-origin',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cache-Control': 'no-store',
    'X-Robots-Tag': 'noindex, nofollow',
  };
}
