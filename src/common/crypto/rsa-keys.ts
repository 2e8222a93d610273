/**
 * RSA key loading and SHA256withRSA (RSASSA-PKCS1-v1_5) for every channel that
 * signs with RSA: Alipay RSA2 and WeChat Pay APIv3. Keys arrive from env vars in
 * whatever shape the merchant console handed out, so parsing is forgiving about
 * shape and strict about substance (RSA, >= 2048 bits, private vs public).
 *
 * Error messages name the variable and the expected shape only: a key that
 * fails to parse is still a secret, and these messages end up in boot logs.
 */
import {
  KeyObject,
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';

export const MIN_RSA_BITS = 2048;

export class KeyFormatError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'KeyFormatError';
  }
}

const PRIVATE_EXPECTED =
  'expected an RSA private key: PEM "PRIVATE KEY" (PKCS#8) or "RSA PRIVATE KEY" (PKCS#1), ' +
  'or the bare base64 DER printed by the Alipay key tool';
const PUBLIC_EXPECTED =
  'expected an RSA public key: PEM "PUBLIC KEY" or "RSA PUBLIC KEY", a PEM "CERTIFICATE", ' +
  'or bare base64 SPKI DER';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

interface Normalised {
  /** PEM label, or null for bare base64 DER. */
  label: string | null;
  /** The whole PEM block, or the DER bytes. */
  pem?: string;
  der?: Buffer;
}

/**
 * Env files and container secrets often carry keys with literal "\n" sequences
 * or CRLF line ends; both are layout, not content.
 */
function normalise(text: string, variable: string, expected: string): Normalised {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new KeyFormatError(variable, `is empty; ${expected}`);
  }
  const unescaped = text.replace(/\\r/g, '').replace(/\\n/g, '\n').replace(/\r/g, '');
  if (unescaped.includes('-----BEGIN')) {
    const match = PEM_BLOCK.exec(unescaped);
    if (!match) throw new KeyFormatError(variable, `has a broken PEM header/footer; ${expected}`);
    const label = match[1];
    const body = match[2].replace(/\s+/g, '');
    // Encrypted PEM (Proc-Type headers) would reach OpenSSL and ask for a passphrase.
    if (match[2].includes(':') || !BASE64.test(body)) {
      throw new KeyFormatError(variable, `PEM "${label}" body is not plain base64; ${expected}`);
    }
    const lines = body.match(/.{1,64}/g) ?? [];
    return {
      label,
      pem: `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`,
    };
  }
  const body = unescaped.replace(/\s+/g, '');
  if (!BASE64.test(body) || body.length % 4 !== 0) {
    throw new KeyFormatError(variable, `is neither PEM nor valid base64; ${expected}`);
  }
  return { label: null, der: Buffer.from(body, 'base64') };
}

function assertRsa(key: KeyObject, variable: string, kind: 'private' | 'public'): KeyObject {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new KeyFormatError(
      variable,
      `is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; expected an RSA ${kind} key`,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new KeyFormatError(
      variable,
      `is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`,
    );
  }
  return key;
}

function tryParse(parse: () => KeyObject): KeyObject | null {
  try {
    return parse();
  } catch {
    return null;
  }
}

export function parsePrivateKey(text: string, variable: string): KeyObject {
  const n = normalise(text, variable, PRIVATE_EXPECTED);
  let key: KeyObject | null = null;
  if (n.pem !== undefined) {
    if (n.label === 'ENCRYPTED PRIVATE KEY') {
      throw new KeyFormatError(variable, `is passphrase-protected; ${PRIVATE_EXPECTED}`);
    }
    if (n.label !== 'PRIVATE KEY' && n.label !== 'RSA PRIVATE KEY') {
      throw new KeyFormatError(variable, `is a PEM "${n.label}"; ${PRIVATE_EXPECTED}`);
    }
    const pem = n.pem;
    key = tryParse(() => createPrivateKey({ key: pem, format: 'pem' }));
  } else if (n.der !== undefined) {
    const der = n.der;
    // Alipay's tool prints PKCS#8 for "Java" and PKCS#1 for every other language.
    key =
      tryParse(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })) ??
      tryParse(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs1' }));
    if (!key && looksLikePublicDer(der)) {
      throw new KeyFormatError(variable, `holds a public key; ${PRIVATE_EXPECTED}`);
    }
  }
  if (!key) throw new KeyFormatError(variable, `could not be parsed; ${PRIVATE_EXPECTED}`);
  return assertRsa(key, variable, 'private');
}

export function parsePublicKey(text: string, variable: string): KeyObject {
  const n = normalise(text, variable, PUBLIC_EXPECTED);
  let key: KeyObject | null = null;
  if (n.pem !== undefined) {
    const pem = n.pem;
    if (/PRIVATE KEY$/.test(n.label ?? '')) {
      // createPublicKey would derive the public half and hide a secret in the wrong place.
      throw new KeyFormatError(variable, `holds a private key; ${PUBLIC_EXPECTED}`);
    }
    if (n.label === 'CERTIFICATE') {
      key = tryParse(() => new X509Certificate(pem).publicKey);
    } else if (n.label === 'PUBLIC KEY' || n.label === 'RSA PUBLIC KEY') {
      key = tryParse(() => createPublicKey({ key: pem, format: 'pem' }));
    } else {
      throw new KeyFormatError(variable, `is a PEM "${n.label}"; ${PUBLIC_EXPECTED}`);
    }
  } else if (n.der !== undefined) {
    const der = n.der;
    // Checked first: createPublicKey also accepts private DER and derives the public half.
    if (looksLikePrivateDer(der)) {
      throw new KeyFormatError(variable, `holds a private key; ${PUBLIC_EXPECTED}`);
    }
    key =
      tryParse(() => createPublicKey({ key: der, format: 'der', type: 'spki' })) ??
      tryParse(() => createPublicKey({ key: der, format: 'der', type: 'pkcs1' })) ??
      tryParse(() => new X509Certificate(der).publicKey);
  }
  if (!key) throw new KeyFormatError(variable, `could not be parsed; ${PUBLIC_EXPECTED}`);
  return assertRsa(key, variable, 'public');
}

function looksLikePublicDer(der: Buffer): boolean {
  return (
    tryParse(() => createPublicKey({ key: der, format: 'der', type: 'spki' })) !== null ||
    tryParse(() => createPublicKey({ key: der, format: 'der', type: 'pkcs1' })) !== null
  );
}

function looksLikePrivateDer(der: Buffer): boolean {
  return (
    tryParse(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })) !== null ||
    tryParse(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs1' })) !== null
  );
}

/** SHA256withRSA over the UTF-8 bytes of `data`, standard base64 with padding. */
export function rsaSha256Sign(data: string, key: KeyObject): string {
  return cryptoSign('sha256', Buffer.from(data, 'utf8'), key).toString('base64');
}

/**
 * Never throws: a signature arrives from the network, and "cannot be checked"
 * must mean the same as "does not verify" to every caller.
 */
export function rsaSha256Verify(data: string, signatureB64: string, key: KeyObject): boolean {
  try {
    if (typeof signatureB64 !== 'string' || signatureB64.length % 4 !== 0) return false;
    if (!BASE64.test(signatureB64)) return false;
    const signature = Buffer.from(signatureB64, 'base64');
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (bits === undefined || signature.length !== Math.ceil(bits / 8)) return false;
    return cryptoVerify('sha256', Buffer.from(data, 'utf8'), key, signature);
  } catch {
    return false;
  }
}

/** A fresh 2048-bit pair for the sandbox and tests; never for production keys. */
export function generateRsaKeyPairPem(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: MIN_RSA_BITS,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}
