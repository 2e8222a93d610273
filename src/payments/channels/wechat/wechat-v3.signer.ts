/**
 * WeChat Pay APIv3 signatures (SHA256withRSA): the request Authorization header
 * (protocols.md C1, the official "签名生成" page), the check of a response's or
 * notification's Wechatpay-* headers (C2, "构造验签名串"), and the paySign of
 * the JSAPI and APP client parameters (C4, "调起支付"). Every message is lines
 * each terminated by \n, the last one included, as wechatpay-java's
 * WechatPay2Credential and wechatpay-axios-plugin's Formatter.joinedByLineFeed build them.
 * Pure functions: no I/O, no clock except the `now` defaults.
 */
import { isUtf8 } from 'node:buffer';
import type { KeyObject } from 'node:crypto';
import { rsaSha256Sign, rsaSha256Verify } from '../../../common/crypto/rsa-keys';
import {
  appPayFields,
  jsapiPayFields,
  type AppPayParams,
  type JsapiPayParams as SharedJsapiPayParams,
} from './wechat-pay-params';
import { randomAlphanumeric } from '../../../common/ids/ids';

export type { AppPayParams };

export const WECHATPAY_AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** wechatpay-php MAXIMUM_CLOCK_OFFSET, wechatpay-java RESPONSE_EXPIRED_MINUTES. */
export const WECHATPAY_MAX_SKEW_SECONDS = 300;
/** WeChat's deliberate bad signatures, which a merchant must reject (C2 step 4). */
export const WECHATPAY_SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';

/** Unix seconds, the timestamp of every APIv3 message. */
export function unixSeconds(now: Date = new Date()): number {
  return Math.floor(now.getTime() / 1000);
}

function assertLine(name: string, value: string): void {
  // A line feed inside a field would move bytes from one line to the next
  // and still verify; these fields come from our own code, so it is a bug.
  if (typeof value !== 'string' || value === '' || value.includes('\n')) {
    throw new TypeError(`WeChat Pay v3 ${name} must be a non-empty string without line feeds`);
  }
}

function timestampLine(timestamp: number | string): string {
  const text = String(timestamp);
  if (!/^\d{1,12}$/.test(text)) {
    throw new TypeError('WeChat Pay v3 timestamp must be whole Unix seconds');
  }
  return text;
}

/** The request message: method, canonical URL, timestamp, nonce and body, each line ended by \n. */
export function requestSignatureMessage(
  method: string,
  canonicalUrl: string,
  timestamp: number | string,
  nonce: string,
  body: string,
): string {
  assertLine('method', method);
  assertLine('canonical URL', canonicalUrl);
  assertLine('nonce', nonce);
  if (!canonicalUrl.startsWith('/')) {
    throw new TypeError(
      'WeChat Pay v3 canonical URL is the path and query, without scheme or host',
    );
  }
  if (typeof body !== 'string') throw new TypeError('WeChat Pay v3 body must be a string');
  return `${method.toUpperCase()}\n${canonicalUrl}\n${timestampLine(timestamp)}\n${nonce}\n${body}\n`;
}

/**
 * The canonical URL of a request: path and query exactly as sent. Pass the
 * URL object the request is made with, so that both see the same encoding.
 */
export function canonicalUrlOf(url: URL | string): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.pathname}${parsed.search}`;
}

export interface AuthorizationInput {
  mchId: string;
  /** Serial of the merchant API certificate (not the platform's), upper-case hex. */
  serialNo: string;
  privateKey: KeyObject;
  method: string;
  canonicalUrl: string;
  /** The exact request body; '' for GET and DELETE. */
  body: string;
  timestamp?: number | string;
  nonce?: string;
}

/** `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"` */
export function authorizationHeader(input: AuthorizationInput): string {
  const timestamp = timestampLine(input.timestamp ?? unixSeconds());
  const nonce = input.nonce ?? randomAlphanumeric(32);
  // The values sit between double quotes: only characters that cannot close them.
  if (!/^\d{1,32}$/.test(input.mchId)) throw new TypeError('WeChat Pay mchid must be digits');
  if (!/^[0-9A-Fa-f]{1,64}$/.test(input.serialNo)) {
    throw new TypeError('WeChat Pay merchant certificate serial must be hex');
  }
  if (!/^[0-9A-Za-z]{1,32}$/.test(nonce)) {
    throw new TypeError('WeChat Pay nonce_str must be 1-32 letters and digits');
  }
  const message = requestSignatureMessage(
    input.method,
    input.canonicalUrl,
    timestamp,
    nonce,
    input.body,
  );
  const signature = rsaSha256Sign(message, input.privateKey);
  return (
    `${WECHATPAY_AUTH_SCHEMA} mchid="${input.mchId}",nonce_str="${nonce}",` +
    `signature="${signature}",timestamp="${timestamp}",serial_no="${input.serialNo}"`
  );
}

/** The response / notification message: timestamp, nonce, body, each line ended by \n. */
export function responseSignatureMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

/**
 * Serial (platform certificate, upper-case hex) or public key id (PUB_KEY_ID_…)
 * → WeChat's verification key. A Map or a function, never a plain object:
 * `keys[serial]` on an object finds "constructor" and "__proto__" too.
 */
export type WechatKeyLookup =
  ReadonlyMap<string, KeyObject> | ((serial: string) => KeyObject | undefined);

type HeaderValue = string | string[] | undefined;

export interface WechatSignatureInput {
  /** Wechatpay-Timestamp */
  timestamp: HeaderValue;
  /** Wechatpay-Nonce */
  nonce: HeaderValue;
  /** The body exactly as received: the raw Buffer, never re-serialised JSON; '' for 204. */
  body: Buffer | string;
  /** Wechatpay-Signature */
  signature: HeaderValue;
  /** Wechatpay-Serial */
  serial: HeaderValue;
  keys: WechatKeyLookup;
  now?: Date;
  maxSkewSeconds?: number;
}

export type WechatSignatureFailure =
  'malformed' | 'stale_timestamp' | 'unknown_serial' | 'bad_signature';

export type WechatSignatureCheck =
  | { outcome: 'ok'; serial: string }
  | {
      outcome: WechatSignatureFailure;
      /** For logs: which header or check, never an echo of the input. */
      reason: string;
      /** The serial as sent, when it was well-formed (unknown_serial: refresh certificates). */
      serial?: string;
      /** stale_timestamp: how far the timestamp is from now, in seconds (signed). */
      skewSeconds?: number;
      /** bad_signature: it was one of WeChat's WECHATPAY/SIGNTEST/ probes. */
      probe?: boolean;
    };

// Header values are printable ASCII; nonces are 32 characters, serials at most ~45.
const HEADER_TOKEN = /^[\x21-\x7e]{1,128}$/;

function headerToken(value: HeaderValue): string | null {
  return typeof value === 'string' && HEADER_TOKEN.test(value) ? value : null;
}

function lookup(keys: WechatKeyLookup, serial: string): KeyObject | undefined {
  return typeof keys === 'function' ? keys(serial) : keys.get(serial);
}

/**
 * Checks, in protocols.md C2's order: well-formed headers, the timestamp within
 * ±maxSkewSeconds of now, a known serial, the SHA256withRSA signature. WeChat's
 * probes are rejected before the key lookup, so they never trigger a refresh of
 * the platform certificates. Never throws on what the caller received.
 */
export function verifyWechatSignature(input: WechatSignatureInput): WechatSignatureCheck {
  const maxSkew = input.maxSkewSeconds ?? WECHATPAY_MAX_SKEW_SECONDS;
  if (!Number.isFinite(maxSkew) || maxSkew < 0) {
    throw new TypeError('maxSkewSeconds must be a non-negative number');
  }
  const timestamp = headerToken(input.timestamp);
  if (timestamp === null || !/^\d{1,12}$/.test(timestamp)) {
    return { outcome: 'malformed', reason: 'Wechatpay-Timestamp is missing or not Unix seconds' };
  }
  const nonce = headerToken(input.nonce);
  if (nonce === null) {
    return { outcome: 'malformed', reason: 'Wechatpay-Nonce is missing or malformed' };
  }
  const serial = headerToken(input.serial);
  if (serial === null) {
    return { outcome: 'malformed', reason: 'Wechatpay-Serial is missing or malformed' };
  }
  const signature = input.signature;
  if (typeof signature !== 'string' || signature === '') {
    return { outcome: 'malformed', reason: 'Wechatpay-Signature is missing' };
  }
  const body = input.body;
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) {
    return { outcome: 'malformed', reason: 'the body is not a string or Buffer' };
  }
  // rsaSha256Verify signs text; only bytes that are valid UTF-8 survive the
  // round trip exactly, and WeChat's JSON bodies always are.
  if (Buffer.isBuffer(body) && !isUtf8(body)) {
    return { outcome: 'malformed', reason: 'the body is not UTF-8' };
  }

  const skewSeconds = Number(timestamp) - unixSeconds(input.now);
  if (Math.abs(skewSeconds) > maxSkew) {
    return {
      outcome: 'stale_timestamp',
      reason: `Wechatpay-Timestamp is more than ${maxSkew} s from now`,
      skewSeconds,
    };
  }
  if (signature.startsWith(WECHATPAY_SIGNTEST_PREFIX)) {
    return {
      outcome: 'bad_signature',
      reason: 'Wechatpay-Signature is a WECHATPAY/SIGNTEST/ probe',
      serial,
      probe: true,
    };
  }
  const key = lookup(input.keys, serial);
  if (key === undefined) {
    return { outcome: 'unknown_serial', reason: 'Wechatpay-Serial names no known key', serial };
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (!rsaSha256Verify(responseSignatureMessage(timestamp, nonce, text), signature, key)) {
    return { outcome: 'bad_signature', reason: 'Wechatpay-Signature does not verify', serial };
  }
  return { outcome: 'ok', serial };
}

/** JSAPI / mini-program paySign message: appId, timeStamp, nonceStr, package. */
export function jsapiPaySignMessage(
  appId: string,
  timeStamp: string,
  nonceStr: string,
  pkg: string,
): string {
  for (const [name, value] of [
    ['appId', appId],
    ['timeStamp', timeStamp],
    ['nonceStr', nonceStr],
    ['package', pkg],
  ] as const) {
    assertLine(name, value);
  }
  return `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`;
}

/** APP sign message: appid, timestamp, noncestr, prepayid (the bare id, not "prepay_id=…"). */
export function appPaySignMessage(
  appid: string,
  timestamp: string,
  noncestr: string,
  prepayid: string,
): string {
  for (const [name, value] of [
    ['appid', appid],
    ['timestamp', timestamp],
    ['noncestr', noncestr],
    ['prepayid', prepayid],
  ] as const) {
    assertLine(name, value);
  }
  return `${appid}\n${timestamp}\n${noncestr}\n${prepayid}\n`;
}

export interface PaySignInput {
  appId: string;
  prepayId: string;
  privateKey: KeyObject;
  timestamp?: number | string;
  nonce?: string;
}

/** What wx.requestPayment / WeixinJSBridge getBrandWCPayRequest take; signType RSA for APIv3. */
export type JsapiPayParams = SharedJsapiPayParams & { signType: 'RSA' };

export function jsapiPayParams(input: PaySignInput): JsapiPayParams {
  const fields = jsapiPayFields({
    appId: input.appId,
    prepayId: input.prepayId,
    signType: 'RSA',
    timestamp: timestampLine(input.timestamp ?? unixSeconds()),
    nonce: input.nonce,
  });
  assertLine('prepay_id', input.prepayId);
  return {
    ...fields,
    signType: 'RSA',
    paySign: rsaSha256Sign(
      jsapiPaySignMessage(fields.appId, fields.timeStamp, fields.nonceStr, fields.package),
      input.privateKey,
    ),
  };
}

export function appPayParams(input: PaySignInput & { mchId: string }): AppPayParams {
  const fields = appPayFields({
    appId: input.appId,
    mchId: input.mchId,
    prepayId: input.prepayId,
    timestamp: timestampLine(input.timestamp ?? unixSeconds()),
    nonce: input.nonce,
  });
  return {
    ...fields,
    sign: rsaSha256Sign(
      appPaySignMessage(fields.appid, fields.timestamp, fields.noncestr, fields.prepayid),
      input.privateKey,
    ),
  };
}
