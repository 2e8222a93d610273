/**
 * Alipay OpenAPI 2.0 (gateway.do) RSA2 signatures: the "签名" rules at
 * opendocs.alipay.com/common/02kf5q (the page the Node SDK's util.ts cites) and
 * the response / asynchronous-notification checks as the official Java SDK
 * (AlipaySignature) and Node SDK v4 perform them. Our summary: protocols.md A3, A4, A9.
 * Pure functions: no I/O, no clock except beijingTimestamp's default.
 */
import type { KeyObject } from 'node:crypto';
import { rsaSha256Sign, rsaSha256Verify } from '../../../common/crypto/rsa-keys';

export type AlipayParams = Record<string, string | undefined | null>;

/**
 * Empty values are dropped because the Java SDK (which Alipay's gateway runs)
 * drops them; Alipay's own parameter names are ASCII, so the JS code-unit sort
 * used by both official SDKs is byte order.
 */
export function alipaySignContent(params: AlipayParams, exclude: readonly string[]): string {
  const keys = Object.keys(params).filter((k) => {
    const v = params[k];
    return k !== '' && !exclude.includes(k) && v !== undefined && v !== null && v !== '';
  });
  keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.map((k) => `${k}=${params[k]}`).join('&');
}

/** Requests sign sign_type too; only `sign` itself is left out. */
export function signAlipayRequest(params: AlipayParams, privateKey: KeyObject): string {
  return rsaSha256Sign(alipaySignContent(params, ['sign']), privateKey);
}

/**
 * Trade notifies are signed without sign_type (Java rsaCheckV1); notifies sent
 * to the app gateway keep it (rsaCheckV2). The Node SDK tries both, and so do
 * we: the signature still has to come from Alipay's key either way.
 * Values must be the form-decoded ones, decoded exactly once.
 */
export function verifyAlipayNotification(
  params: Record<string, string>,
  alipayPublicKey: KeyObject,
): boolean {
  const sign = params.sign;
  if (typeof sign !== 'string' || sign === '') return false;
  if (params.sign_type !== undefined && params.sign_type !== 'RSA2') return false;
  if (rsaSha256Verify(alipaySignContent(params, ['sign', 'sign_type']), sign, alipayPublicKey)) {
    return true;
  }
  return rsaSha256Verify(alipaySignContent(params, ['sign']), sign, alipayPublicKey);
}

/**
 * The signed bytes are the raw text of the `*_response` value, so this cuts it
 * out of the body instead of re-serialising (escaped slashes, key order and
 * spacing all count). Node SDK getSignStr method: after the key, cut at the
 * last `"sign"` (a business field may also be called sign), then keep from the
 * first `{` to the last `}`. Unlike getSignStr, the cut is measured in the same
 * string it is applied to. Returns null when the key or an object is missing,
 * which includes AES-encrypted payloads (a JSON string), which paygate never requests.
 */
export function extractAlipayResponseSignContent(
  rawBody: string,
  responseKey: string,
): string | null {
  const keyAt = rawBody.indexOf(`"${responseKey}"`);
  if (keyAt < 0) return null;
  let rest = rawBody.slice(keyAt + responseKey.length + 2);
  const signAt = rest.lastIndexOf('"sign"');
  if (signAt >= 0) rest = rest.slice(0, signAt);
  const open = rest.indexOf('{');
  const close = rest.lastIndexOf('}');
  if (open < 0 || close < open) return null;
  // Only a colon and whitespace may sit between the key and the object.
  if (!/^\s*:\s*$/.test(rest.slice(0, open))) return null;
  return rest.slice(open, close + 1);
}

export class AlipayResponseFormatError extends Error {
  constructor(reason: string) {
    super(`Alipay response is malformed: ${reason}`);
    this.name = 'AlipayResponseFormatError';
  }
}

export interface AlipayResponseCheck {
  verified: boolean;
  signed: boolean;
  payload: Record<string, unknown>;
  /** Certificate mode: the SN of the certificate Alipay says it signed with, when named. */
  alipayCertSn?: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Throws AlipayResponseFormatError when the body is not a JSON object holding
 * the method's response (or error_response) object.
 *
 * When the answer is signed, the payload is parsed from the very text that was
 * verified, not from the whole body: with duplicate keys JSON.parse keeps the
 * last one, so a body could otherwise carry verified bytes and an unverified payload.
 *
 * Unsigned answers come back `signed: false`; the caller accepts them only as
 * errors (code != 10000), as smartwalle/alipay and the PHP SDK do.
 */
export function verifyAlipayResponse(
  rawBody: string,
  method: string,
  alipayPublicKey: KeyObject,
): AlipayResponseCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    throw new AlipayResponseFormatError('not JSON');
  }
  if (!isPlainObject(parsed)) throw new AlipayResponseFormatError('not a JSON object');

  const methodKey = `${method.replace(/\./g, '_')}_response`;
  const responseKey = methodKey in parsed ? methodKey : 'error_response';
  const payload = parsed[responseKey];
  if (!isPlainObject(payload)) {
    throw new AlipayResponseFormatError(`no ${methodKey} or error_response object`);
  }

  const alipayCertSn =
    typeof parsed.alipay_cert_sn === 'string' ? parsed.alipay_cert_sn : undefined;
  const sign = parsed.sign;
  if (sign === undefined || sign === null || sign === '') {
    return { alipayCertSn, verified: false, signed: false, payload };
  }
  if (typeof sign !== 'string') return { alipayCertSn, verified: false, signed: true, payload };

  const content = extractAlipayResponseSignContent(rawBody, responseKey);
  if (content === null) return { alipayCertSn, verified: false, signed: true, payload };

  let verified = rsaSha256Verify(content, sign, alipayPublicKey);
  // Official PHP SDK fallback: some gateways sign the text before escaping "/".
  if (!verified && content.includes('\\/')) {
    verified = rsaSha256Verify(content.replace(/\\\//g, '/'), sign, alipayPublicKey);
  }
  if (!verified) return { alipayCertSn, verified: false, signed: true, payload };

  let signedPayload: unknown;
  try {
    signedPayload = JSON.parse(content);
  } catch {
    return { alipayCertSn, verified: false, signed: true, payload };
  }
  if (!isPlainObject(signedPayload))
    return { alipayCertSn, verified: false, signed: true, payload };
  return { alipayCertSn, verified: true, signed: true, payload: signedPayload };
}

/** `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8, no DST), whatever the host's zone. */
export function beijingTimestamp(date: Date = new Date()): string {
  return new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}
