/**
 * AEAD_AES_256_GCM as WeChat Pay APIv3 uses it (protocols.md C3): notification
 * resources and the platform certificates of GET /v3/certificates arrive as
 * {nonce, associated_data, ciphertext} encrypted under the APIv3 key.
 *
 * - key: exactly 32 raw bytes. The APIv3 key is a 32-character ASCII string and
 *   is used as its own bytes, never hex- or base64-decoded.
 * - IV: the nonce string's UTF-8 bytes (WeChat sends 12; GCM takes any length).
 * - AAD: associated_data's UTF-8 bytes; absent means empty.
 * - ciphertext: base64(encrypted bytes ‖ 16-byte GCM tag).
 *
 * Decryption either returns the authenticated plaintext or throws
 * AeadDecryptError: a wrong key, tag, nonce or AAD never yields garbage. Error
 * messages name what failed, never the key or any plaintext.
 */
import { KeyObject, createCipheriv, createDecipheriv } from 'node:crypto';

export const AEAD_AES_256_GCM = 'AEAD_AES_256_GCM';
export const AEAD_KEY_BYTES = 32;
export const AEAD_TAG_BYTES = 16;

/** The key is not 32 bytes: a configuration or programming error, not bad input. */
export class AeadKeyError extends Error {
  constructor(reason: string) {
    super(`${AEAD_AES_256_GCM} key ${reason}`);
    this.name = 'AeadKeyError';
  }
}

/** The ciphertext could not be authenticated or decoded; nothing was decrypted. */
export class AeadDecryptError extends Error {
  constructor(reason: string) {
    super(`${AEAD_AES_256_GCM} decryption failed: ${reason}`);
    this.name = 'AeadDecryptError';
  }
}

/** A string key is taken as its UTF-8 bytes; a KeyObject must be a secret key. */
export type AeadKey = string | Buffer | KeyObject;

export interface AeadDecryptInput {
  key: AeadKey;
  nonce: string;
  /** `associated_data`; undefined, null and '' all mean an empty AAD. */
  associatedData?: string | null;
  /** base64(encrypted ‖ tag), as in `resource.ciphertext`. */
  ciphertext: string;
}

export interface AeadEncryptInput {
  key: AeadKey;
  /** Never reuse a nonce under one key: GCM then loses both secrecy and integrity. */
  nonce: string;
  associatedData?: string | null;
  plaintext: string;
}

const STRICT_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function keyBytes(key: AeadKey): Buffer | KeyObject {
  if (key instanceof KeyObject) {
    if (key.type !== 'secret')
      throw new AeadKeyError(`must be a secret key, got a ${key.type} key`);
    if (key.symmetricKeySize !== AEAD_KEY_BYTES) {
      throw new AeadKeyError(`must be ${AEAD_KEY_BYTES} bytes, got ${key.symmetricKeySize}`);
    }
    return key;
  }
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (!Buffer.isBuffer(bytes)) throw new AeadKeyError('must be a string, Buffer or KeyObject');
  if (bytes.length !== AEAD_KEY_BYTES) {
    throw new AeadKeyError(`must be ${AEAD_KEY_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function aadBytes(associatedData: string | null | undefined): Buffer {
  return Buffer.from(associatedData ?? '', 'utf8');
}

/**
 * Decrypts and authenticates; returns the plaintext as UTF-8 text (WeChat's
 * resources are JSON or PEM). Throws AeadKeyError for a key of the wrong size
 * and AeadDecryptError for anything wrong with the encrypted input.
 */
export function aeadAes256GcmDecrypt(input: AeadDecryptInput): string {
  const key = keyBytes(input.key);
  const { nonce, associatedData, ciphertext } = input;
  if (typeof nonce !== 'string' || nonce === '') throw new AeadDecryptError('nonce is empty');
  if (associatedData !== undefined && associatedData !== null && typeof associatedData !== 'string')
    throw new AeadDecryptError('associated_data is not a string');
  // Buffer.from(…, 'base64') skips characters it does not know; a ciphertext
  // that is not clean base64 was not produced by the channel.
  if (typeof ciphertext !== 'string' || ciphertext.length % 4 !== 0) {
    throw new AeadDecryptError('ciphertext is not base64');
  }
  if (!STRICT_BASE64.test(ciphertext)) throw new AeadDecryptError('ciphertext is not base64');
  const sealed = Buffer.from(ciphertext, 'base64');
  if (sealed.length < AEAD_TAG_BYTES) {
    throw new AeadDecryptError(`ciphertext is shorter than the ${AEAD_TAG_BYTES}-byte tag`);
  }
  const tagAt = sealed.length - AEAD_TAG_BYTES;

  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'utf8'), {
      authTagLength: AEAD_TAG_BYTES,
    });
    decipher.setAuthTag(sealed.subarray(tagAt));
    decipher.setAAD(aadBytes(associatedData));
    plain = Buffer.concat([decipher.update(sealed.subarray(0, tagAt)), decipher.final()]);
  } catch {
    // OpenSSL says only "unable to authenticate data": key, nonce, AAD and tag
    // are indistinguishable, by design.
    throw new AeadDecryptError(
      'the tag does not match (wrong key, nonce, associated_data or data)',
    );
  }
  try {
    return utf8Strict.decode(plain);
  } catch {
    throw new AeadDecryptError('the plaintext is not UTF-8');
  }
}

/** The inverse, for the sandbox and tests: base64(encrypted ‖ tag). */
export function aeadAes256GcmEncrypt(input: AeadEncryptInput): string {
  const key = keyBytes(input.key);
  if (typeof input.nonce !== 'string' || input.nonce === '') {
    throw new TypeError(`${AEAD_AES_256_GCM}: the nonce must be a non-empty string`);
  }
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(input.nonce, 'utf8'), {
    authTagLength: AEAD_TAG_BYTES,
  });
  cipher.setAAD(aadBytes(input.associatedData));
  return Buffer.concat([
    cipher.update(input.plaintext, 'utf8'),
    cipher.final(),
    cipher.getAuthTag(),
  ]).toString('base64');
}
