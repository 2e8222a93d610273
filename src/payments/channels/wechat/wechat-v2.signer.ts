/**
 * WeChat Pay API v2 signatures (protocols.md B2): the fields other than `sign`,
 * empty ones dropped, sorted by name in ASCII order, joined `k=v&…`, then
 * `&key=<API key>` appended; MD5 of that, or HMAC-SHA256 keyed with the API key
 * over that same text; upper-case hex. Also the client pay parameters' signs
 * (B3) and the refund notification's req_info (B8: AES-256-ECB, PKCS#7, key =
 * lower-case hex MD5 of the API key). Pure functions, no I/O.
 */
import {
  createDecipheriv,
  createHash,
  createHmac,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import {
  appPayFields,
  jsapiPayFields,
  type AppPayParams,
  type JsapiPayParams,
} from './wechat-pay-params';

export type WechatV2SignType = 'MD5' | 'HMAC-SHA256';

/** B2 steps 1–2: `stringA`. Values are raw, never URL-encoded. */
export function v2SignString(fields: Record<string, string | number | undefined>): string {
  return Object.keys(fields)
    .filter((k) => k !== 'sign' && fields[k] !== undefined && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
}

const keyBytes = (apiKey: KeyObject): Buffer => apiKey.export();

/** B2 steps 3–4: the upper-case hex sign of the fields under the API key. */
export function v2Sign(
  fields: Record<string, string | number | undefined>,
  apiKey: KeyObject,
  signType: WechatV2SignType,
): string {
  const key = keyBytes(apiKey);
  const text = Buffer.concat([Buffer.from(`${v2SignString(fields)}&key=`, 'utf8'), key]);
  const digest =
    signType === 'MD5'
      ? createHash('md5').update(text).digest('hex')
      : createHmac('sha256', apiKey).update(text).digest('hex');
  return digest.toUpperCase();
}

/**
 * Whether `fields.sign` is the sign of the other fields under `signType`, in
 * constant time. The sign type is the configured one, never the message's own
 * word: a message cannot choose a weaker algorithm.
 */
export function v2Verify(
  fields: Record<string, string | undefined>,
  apiKey: KeyObject,
  signType: WechatV2SignType,
): boolean {
  const given = fields.sign;
  if (typeof given !== 'string' || !/^[0-9A-Fa-f]+$/.test(given)) return false;
  const expected = Buffer.from(v2Sign(fields, apiKey, signType), 'ascii');
  const actual = Buffer.from(given.toUpperCase(), 'ascii');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The fields with their sign (and `sign_type` when it is not the MD5 default, B2 step 5). */
export function v2Signed(
  fields: Record<string, string | number | undefined>,
  apiKey: KeyObject,
  signType: WechatV2SignType,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') out[k] = String(v);
  if (signType === 'HMAC-SHA256') out.sign_type = 'HMAC-SHA256';
  out.sign = v2Sign(out, apiKey, signType);
  return out;
}

/** JSAPI: paySign over appId, timeStamp, nonceStr, package and signType (the configured type). */
export function v2JsapiPayParams(input: {
  appId: string;
  prepayId: string;
  apiKey: KeyObject;
  signType: WechatV2SignType;
  timestamp?: number | string;
  nonce?: string;
}): JsapiPayParams {
  const fields = jsapiPayFields({ ...input, signType: input.signType });
  return { ...fields, paySign: v2Sign({ ...fields }, input.apiKey, input.signType) };
}

/** APP: sign over appid, partnerid, prepayid, package, noncestr, timestamp. */
export function v2AppPayParams(input: {
  appId: string;
  mchId: string;
  prepayId: string;
  apiKey: KeyObject;
  signType: WechatV2SignType;
  timestamp?: number | string;
  nonce?: string;
}): AppPayParams {
  const fields = appPayFields(input);
  return { ...fields, sign: v2Sign({ ...fields }, input.apiKey, input.signType) };
}

export class ReqInfoDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReqInfoDecryptError';
  }
}

/**
 * B8: base64 → AES-256-ECB with the 32 ASCII characters of md5hex(API key) as
 * the key, PKCS#7 removed by node (a wrong key almost always fails there).
 */
export function decryptReqInfo(reqInfo: string, apiKey: KeyObject): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(reqInfo) || reqInfo.length % 4 !== 0) {
    throw new ReqInfoDecryptError('req_info is not base64');
  }
  const cipherText = Buffer.from(reqInfo, 'base64');
  if (cipherText.length === 0 || cipherText.length % 16 !== 0) {
    throw new ReqInfoDecryptError('req_info is not whole AES blocks');
  }
  const aesKey = Buffer.from(createHash('md5').update(keyBytes(apiKey)).digest('hex'), 'ascii');
  try {
    const decipher = createDecipheriv('aes-256-ecb', aesKey, null);
    return Buffer.concat([decipher.update(cipherText), decipher.final()]).toString('utf8');
  } catch {
    throw new ReqInfoDecryptError('req_info does not decrypt under the API key');
  }
}
