/**
 * The simulated WeChat Pay API v2's own wire format (protocols.md B1, B2, B8),
 * written apart from the provider's so that a misreading in one is caught by
 * the other: flat `<xml>` messages in CDATA, the MD5 / HMAC-SHA256 sign, and
 * the AES-256-ECB req_info of refund notifications. Hostile XML (DOCTYPE,
 * ENTITY) is refused unread, as the real gateway must.
 */
import { createCipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

export type SandboxSignType = 'MD5' | 'HMAC-SHA256';
export const SANDBOX_MAX_XML_BYTES = 64 * 1024;

const parser = new XMLParser({
  processEntities: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  parseTagValue: false,
  cdataPropName: '__cdata',
  isArray: () => false,
});
const builder = new XMLBuilder({ cdataPropName: '__cdata' });

/** Null when the body is not one flat `<xml>` message. */
export function readXml(text: string, root = 'xml'): Record<string, string> | null {
  if (Buffer.byteLength(text) > SANDBOX_MAX_XML_BYTES) return null;
  if (/<!(DOCTYPE|ENTITY)/i.test(text) || XMLValidator.validate(text) !== true) return null;
  const doc = parser.parse(text) as Record<string, unknown>;
  const top = doc[root];
  if (Object.keys(doc).length !== 1 || !top || typeof top !== 'object') return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(top as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v.trim();
    else if (v && typeof v === 'object' && typeof (v as { __cdata?: unknown }).__cdata === 'string')
      out[k] = (v as { __cdata: string }).__cdata;
    else if (k !== '#text') return null;
  }
  return out;
}

export function writeXml(fields: Record<string, string | number>, root = 'xml'): string {
  const content: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) content[k] = { __cdata: String(v) };
  return builder.build({ [root]: content });
}

/** B2: sorted non-empty fields but sign, `&key=`, then MD5 or HMAC-SHA256 (keyed with the API key), upper hex. */
export function signFields(
  fields: Record<string, string | number | undefined>,
  apiKey: string,
  type: SandboxSignType,
): string {
  const text =
    Object.entries(fields)
      .filter(([k, v]) => k !== 'sign' && v !== undefined && v !== '')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&') + `&key=${apiKey}`;
  const hex =
    type === 'MD5'
      ? createHash('md5').update(text, 'utf8').digest('hex')
      : createHmac('sha256', apiKey).update(text, 'utf8').digest('hex');
  return hex.toUpperCase();
}

export function signOk(
  fields: Record<string, string>,
  apiKey: string,
  type: SandboxSignType,
): boolean {
  const given = Buffer.from(fields.sign ?? '');
  const wanted = Buffer.from(signFields(fields, apiKey, type));
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** B8: AES-256-ECB, PKCS#7, the key being the 32 ASCII characters of md5hex(API key). */
export function encryptReqInfo(plainXml: string, apiKey: string): string {
  const key = Buffer.from(createHash('md5').update(apiKey, 'utf8').digest('hex'), 'utf8');
  const cipher = createCipheriv('aes-256-ecb', key, null);
  return Buffer.concat([cipher.update(plainXml, 'utf8'), cipher.final()]).toString('base64');
}
