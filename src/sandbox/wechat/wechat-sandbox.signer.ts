/**
 * SHA256withRSA as WeChat Pay APIv3 applies it, written independently of the
 * paygate WeChat provider on purpose (design.md "The sandbox"). Follows
 * protocols.md C1 (the request message and the Authorization header) and C2
 * (the answer / notification message `TS\nNONCE\nBODY\n` and its headers).
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { newNonce } from './wechat-sandbox.ids';

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

/** The five `k="v"` pairs of an Authorization header. */
export interface WechatAuthorization {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

const AUTH_FIELDS = ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'] as const;
const PAIR = /^\s*([a-z_]+)="([^"]*)"\s*$/;

/**
 * `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",…`: the scheme, then the
 * five pairs separated by commas in any order. Null when it is not that shape
 * (another scheme, a missing, repeated or unknown pair).
 */
export function parseAuthorization(header: string | undefined): WechatAuthorization | null {
  if (!header || !header.startsWith(`${AUTH_SCHEME} `)) return null;
  const found: Partial<Record<string, string>> = {};
  for (const part of header.slice(AUTH_SCHEME.length + 1).split(',')) {
    const m = PAIR.exec(part);
    if (!m || !(AUTH_FIELDS as readonly string[]).includes(m[1]) || m[1] in found) return null;
    found[m[1]] = m[2];
  }
  if (AUTH_FIELDS.some((f) => !found[f])) return null;
  return found as unknown as WechatAuthorization;
}

/** `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`: every line ends in `\n`, the last one too. */
export function requestMessage(
  method: string,
  canonicalUrl: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return `${method}\n${canonicalUrl}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** `TIMESTAMP\nNONCE\nBODY\n`; an empty body (204) gives `TS\nNONCE\n\n`. */
export function answerMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export function sha256RsaSign(message: string, privateKey: KeyObject): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(privateKey, 'base64');
}

export function sha256RsaVerify(message: string, signature: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  try {
    return createVerify('RSA-SHA256')
      .update(message, 'utf8')
      .verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

export interface SignedHeaders {
  'Wechatpay-Timestamp': string;
  'Wechatpay-Nonce': string;
  'Wechatpay-Signature': string;
  'Wechatpay-Serial': string;
}

/**
 * The headers that make an answer or a notification verifiable. `alter` lets a
 * caller sign something else than the message (a deliberately bad signature).
 */
export function signedHeaders(
  body: string,
  privateKey: KeyObject,
  serial: string,
  now = new Date(),
  alter: (message: string) => string = (m) => m,
): SignedHeaders {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const nonce = newNonce();
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': sha256RsaSign(alter(answerMessage(timestamp, nonce, body)), privateKey),
    'Wechatpay-Serial': serial,
  };
}

/** JSAPI / mini-program paySign message: `appId\ntimeStamp\nnonceStr\npackage\n` (C4). */
export function jsapiPayMessage(
  appId: string,
  timeStamp: string,
  nonceStr: string,
  pkg: string,
): string {
  return `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`;
}

/** APP sign message: `appid\ntimestamp\nnoncestr\nprepayid\n` (C4). */
export function appPayMessage(
  appId: string,
  timestamp: string,
  nonceStr: string,
  prepayId: string,
): string {
  return `${appId}\n${timestamp}\n${nonceStr}\n${prepayId}\n`;
}
