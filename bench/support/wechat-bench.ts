/**
 * The WeChat Pay APIv3 pieces both sides of a bench need (protocols.md C2, C3),
 * written here rather than imported from src/ so the bench measures the service
 * against an independent reading of the protocol: the notification the
 * platform would send (resource encrypted with AEAD_AES_256_GCM under the
 * APIv3 key, the whole body signed SHA256-RSA with the platform key), and the
 * check a receiver makes of it.
 */
import {
  KeyObject,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttemptFixture, alnum } from './fixtures';

export interface WechatBenchKeys {
  appId: string;
  mchId: string;
  /** The 32 bytes of the APIv3 key. */
  apiV3Key: Buffer;
  platformPrivateKey: KeyObject;
  platformPublicKey: KeyObject;
  platformPublicKeyId: string;
}

/** `<DATA_DIR>/sandbox/wechat-keys.json`, as the service generated it on first start. */
export function readWechatKeys(dataDir: string): WechatBenchKeys {
  const raw = JSON.parse(
    readFileSync(join(dataDir, 'sandbox', 'wechat-keys.json'), 'utf8'),
  ) as Record<string, string>;
  return {
    appId: raw.appId,
    mchId: raw.mchId,
    apiV3Key: Buffer.from(raw.apiV3Key, 'utf8'),
    platformPrivateKey: createPrivateKey(raw.platformPrivateKeyPem),
    platformPublicKey: createPublicKey(raw.platformPublicKeyPem),
    platformPublicKeyId: raw.platformPublicKeyId,
  };
}

/** RFC 3339 in Beijing time, as WeChat writes times: 2024-05-01T12:00:00+08:00. */
export function rfc3339Beijing(date: Date): string {
  return `${new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

function encrypt(key: Buffer, nonce: string, associatedData: string, plain: string): string {
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]).toString('base64');
}

/** The plaintext of a resource, or null when the tag does not verify. */
export function decryptResource(
  key: Buffer,
  nonce: string,
  associatedData: string,
  ciphertext: string,
): string | null {
  try {
    const bytes = Buffer.from(ciphertext, 'base64');
    if (bytes.length < 17) return null;
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'utf8'));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([
      decipher.update(bytes.subarray(0, bytes.length - 16)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return null;
  }
}

/** C2: `timestamp\nnonce\nbody\n`. */
export function signedMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

/**
 * The body of a TRANSACTION.SUCCESS notification for one attempt, as the
 * platform sends it. A retry carries the same body (same id, same resource)
 * under fresh Wechatpay-* headers: see signWechatBody.
 */
export function wechatNotificationBody(
  attempt: AttemptFixture,
  keys: WechatBenchKeys,
  now: Date,
): Buffer {
  const transaction = {
    mchid: keys.mchId,
    appid: keys.appId,
    out_trade_no: attempt.outTradeNo,
    transaction_id: `4200${alnum(24).replace(/\D/g, '3')}`,
    trade_type: 'NATIVE',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    attach: '',
    success_time: rfc3339Beijing(new Date(now.getTime() - 5_000)),
    payer: { openid: `o${alnum(27)}` },
    amount: {
      total: attempt.amountFen,
      payer_total: attempt.amountFen,
      currency: 'CNY',
      payer_currency: 'CNY',
    },
    promotion_detail: [],
  };
  const nonce = alnum(12);
  return Buffer.from(
    JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339Beijing(now),
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: {
        original_type: 'transaction',
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: encrypt(keys.apiV3Key, nonce, 'transaction', JSON.stringify(transaction)),
        associated_data: 'transaction',
        nonce,
      },
    }),
    'utf8',
  );
}

/** The Wechatpay-* headers of one sending of `body`, signed with the platform key at `now`. */
export function signWechatBody(
  body: Buffer,
  keys: WechatBenchKeys,
  now: Date,
): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const headerNonce = randomBytes(16).toString('hex').toUpperCase();
  const signature = sign(
    'sha256',
    Buffer.from(signedMessage(timestamp, headerNonce, body.toString('utf8')), 'utf8'),
    keys.platformPrivateKey,
  ).toString('base64');
  return {
    'content-type': 'application/json',
    'wechatpay-timestamp': timestamp,
    'wechatpay-nonce': headerNonce,
    'wechatpay-signature': signature,
    'wechatpay-serial': keys.platformPublicKeyId,
    'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
  };
}

export function rsaSha256Verify(message: string, signature: string, key: KeyObject): boolean {
  try {
    return verify('sha256', Buffer.from(message, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
