/**
 * Keys of the built-in Alipay sandbox. Generated once per data directory so that
 * paygate (which signs with the app private key and verifies with the gateway
 * public key) and the sandbox gateway (the other way round) agree across
 * restarts and across instances sharing the directory.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomInt,
} from 'node:crypto';
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export interface AlipaySandboxKeys {
  /** 16 digits, like a real Alipay app id. */
  appId: string;
  /** `2088` + 12 digits, the merchant (seller) id put into notifications. */
  sellerId: string;
  /** PKCS#8 PEM: paygate signs requests with it. */
  appPrivateKeyPem: string;
  /** SPKI PEM: the sandbox verifies requests with it. */
  appPublicKeyPem: string;
  /** PKCS#8 PEM: the sandbox signs responses and notifications with it. */
  gatewayPrivateKeyPem: string;
  /** SPKI PEM: paygate's "Alipay public key" when it runs on the sandbox. */
  gatewayPublicKeyPem: string;
}

const KEY_FIELDS = [
  'appPrivateKeyPem',
  'appPublicKeyPem',
  'gatewayPrivateKeyPem',
  'gatewayPublicKeyPem',
] as const;

export function alipaySandboxKeyFile(dataDir: string): string {
  return join(dataDir, 'sandbox', 'alipay-keys.json');
}

/** Reads `<dataDir>/sandbox/alipay-keys.json`, creating it (mode 0600) on first use. */
export function ensureAlipaySandboxKeys(dataDir: string): AlipaySandboxKeys {
  const file = alipaySandboxKeyFile(dataDir);
  const existing = readKeyFile(file);
  if (existing) return existing;

  mkdirSync(join(dataDir, 'sandbox'), { recursive: true, mode: 0o700 });
  const content = `${JSON.stringify({ createdAt: new Date().toISOString(), ...generateKeys() }, null, 2)}\n`;
  publishExclusively(file, content);
  // Whoever won a concurrent first start, every instance now reads the same keys.
  const keys = readKeyFile(file);
  if (!keys) throw new Error(`could not create the Alipay sandbox key file ${file}`);
  return keys;
}

function generateKeys(): AlipaySandboxKeys {
  const pair = () =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
  const app = pair();
  const gateway = pair();
  return {
    appId: `2021${digits(12)}`,
    sellerId: `2088${digits(12)}`,
    appPrivateKeyPem: app.privateKey,
    appPublicKeyPem: app.publicKey,
    gatewayPrivateKeyPem: gateway.privateKey,
    gatewayPublicKeyPem: gateway.publicKey,
  };
}

function digits(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String(randomInt(10));
  return out;
}

/**
 * Writes a complete temporary file, then hard-links it into place: the link
 * fails if the file appeared meanwhile, so a reader never sees half a file and
 * a second instance never overwrites the first one's keys.
 */
function publishExclusively(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      // Filesystems without hard links: an exclusive create is the next best thing.
      try {
        writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
      } catch (inner) {
        if ((inner as NodeJS.ErrnoException).code !== 'EEXIST') throw inner;
      }
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

function readKeyFile(file: string): AlipaySandboxKeys | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // Never quote the file's content in an error: it holds private keys.
  const invalid = (why: string) =>
    new Error(
      `${file} is not a valid Alipay sandbox key file (${why}); delete it to generate new keys`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  if (!raw || typeof raw !== 'object') throw invalid('not a JSON object');
  const data = raw as Record<string, unknown>;
  if (typeof data.appId !== 'string' || !/^\d{16}$/.test(data.appId)) throw invalid('appId');
  if (typeof data.sellerId !== 'string' || !/^2088\d{12}$/.test(data.sellerId)) {
    throw invalid('sellerId');
  }
  for (const field of KEY_FIELDS) {
    if (typeof data[field] !== 'string') throw invalid(field);
  }
  const keys: AlipaySandboxKeys = {
    appId: data.appId,
    sellerId: data.sellerId,
    appPrivateKeyPem: data.appPrivateKeyPem as string,
    appPublicKeyPem: data.appPublicKeyPem as string,
    gatewayPrivateKeyPem: data.gatewayPrivateKeyPem as string,
    gatewayPublicKeyPem: data.gatewayPublicKeyPem as string,
  };
  if (!isPair(keys.appPrivateKeyPem, keys.appPublicKeyPem)) throw invalid('app key pair');
  if (!isPair(keys.gatewayPrivateKeyPem, keys.gatewayPublicKeyPem)) {
    throw invalid('gateway key pair');
  }
  tightenMode(file);
  return keys;
}

function isPair(privatePem: string, publicPem: string): boolean {
  try {
    const derived = createPublicKey(createPrivateKey(privatePem)).export({
      type: 'spki',
      format: 'der',
    });
    const given = createPublicKey(publicPem).export({ type: 'spki', format: 'der' });
    return derived.equals(given);
  } catch {
    return false;
  }
}

/** A key file copied around with a loose mode is put back to 0600 (best effort). */
function tightenMode(file: string): void {
  try {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  } catch {
    // Read-only mounts and the like: the keys are still usable.
  }
}
