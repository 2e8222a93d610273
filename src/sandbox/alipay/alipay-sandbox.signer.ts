/**
 * RSA2 (SHA256withRSA) as the Alipay gateway applies it, written independently
 * of the paygate Alipay provider on purpose (design.md "The sandbox").
 * Follows protocols.md A3 (request string), A4 (response signature over the raw
 * text of the `*_response` value) and A9 (notification string).
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';

export type SignableParams = Readonly<Record<string, string | undefined>>;

/**
 * The string Alipay signs: every non-empty parameter except the excluded ones,
 * keys sorted by byte order, `k=v` joined with `&`, values raw (not URL-encoded).
 * Requests exclude `sign` only; notifications and return URLs also `sign_type`.
 */
export function alipaySignContent(params: SignableParams, exclude: readonly string[]): string {
  return Object.keys(params)
    .filter((k) => !exclude.includes(k) && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export const REQUEST_SIGN_EXCLUDES = ['sign'] as const;
export const NOTIFY_SIGN_EXCLUDES = ['sign', 'sign_type'] as const;

export function rsa2Sign(content: string, privateKey: KeyObject): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64');
}

export function rsa2Verify(content: string, signature: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  try {
    return createVerify('RSA-SHA256')
      .update(content, 'utf8')
      .verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

/**
 * JSON the way the Alipay gateway writes it: slashes escaped as `\/`. A client
 * that parses and re-serialises the response before verifying loses the escapes
 * and fails, exactly as it would against the real gateway.
 */
export function alipayJson(value: unknown): string {
  return JSON.stringify(value).replace(/\//g, '\\/');
}

/**
 * `{"<key>":<payload>,"sign":"…"}` (certificate mode: `alipay_cert_sn` before `sign`) where the signature covers exactly the payload
 * bytes that are sent.
 */
export function signedResponseText(
  responseKey: string,
  payload: Record<string, unknown>,
  privateKey: KeyObject,
  /** Certificate mode: the SN of the certificate holding the signing key, outside the signed bytes. */
  alipayCertSn?: string,
): string {
  const inner = alipayJson(payload);
  const certSn = alipayCertSn === undefined ? '' : `,"alipay_cert_sn":"${alipayCertSn}"`;
  return `{"${responseKey}":${inner}${certSn},"sign":"${rsa2Sign(inner, privateKey)}"}`;
}

/** `alipay.trade.precreate` → `alipay_trade_precreate_response` */
export function responseKeyOf(method: string): string {
  return `${method.replace(/\./g, '_')}_response`;
}
