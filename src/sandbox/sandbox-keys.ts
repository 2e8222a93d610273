/**
 * Keys of the built-in Alipay and WeChat Pay sandboxes. Generated once per data
 * directory so that paygate (which signs with the app / merchant private key and
 * verifies with the gateway / platform public key) and the sandbox gateway (the
 * other way round) agree across restarts and across instances sharing the
 * directory.
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
import { dirname, join } from 'node:path';
import { randomAlphanumeric } from '../common/ids/ids';

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
  return readOrCreate(alipaySandboxKeyFile(dataDir), readKeyFile, generateKeys, 'Alipay');
}

/**
 * The key file, created on first use. Whoever wins a concurrent first start,
 * every instance then reads the same keys.
 */
function readOrCreate<K extends object>(
  file: string,
  read: (file: string) => K | null,
  generate: () => K,
  channel: string,
): K {
  const existing = read(file);
  if (existing) return existing;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const content = `${JSON.stringify({ createdAt: new Date().toISOString(), ...generate() }, null, 2)}\n`;
  publishExclusively(file, content);
  const keys = read(file);
  if (!keys) throw new Error(`could not create the ${channel} sandbox key file ${file}`);
  return keys;
}

/** A fresh RSA-2048 pair as PKCS#8 / SPKI PEM. */
function rsaPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function generateKeys(): AlipaySandboxKeys {
  const app = rsaPair();
  const gateway = rsaPair();
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

// ---- WeChat Pay APIv3 ----------------------------------------------------------

/**
 * Keys of the built-in WeChat Pay sandbox, in WeChat Pay's public-key mode
 * (protocols.md C2): paygate signs requests with the merchant private key and
 * verifies answers and notifications with the platform public key; the sandbox
 * does the opposite. The APIv3 key encrypts notification resources (C3).
 */
export interface WechatSandboxKeys {
  /** `wx` + 16 lower-case hex, like a real app id. */
  appId: string;
  /** 10 digits starting with 1, like a real merchant id. */
  mchId: string;
  /** 32 alphanumerics, used as its own 32 bytes (AEAD_AES_256_GCM key). */
  apiV3Key: string;
  /** 32 alphanumerics: the APIv2 key, for a v2 sandbox. */
  apiKey: string;
  /** PKCS#8 PEM: paygate signs requests with it (`apiclient_key.pem`). */
  merchantPrivateKeyPem: string;
  /** SPKI PEM: the sandbox verifies requests with it. */
  merchantPublicKeyPem: string;
  /** 40 upper-case hex: the merchant API certificate serial (Authorization serial_no). */
  merchantCertSerial: string;
  /** PKCS#8 PEM: the sandbox signs answers and notifications with it. */
  platformPrivateKeyPem: string;
  /** SPKI PEM: paygate's "WeChat Pay public key" when it runs on the sandbox. */
  platformPublicKeyPem: string;
  /** `PUB_KEY_ID_` + 32 digits: sent as Wechatpay-Serial. */
  platformPublicKeyId: string;
}

const WECHAT_ID_RULES: ReadonlyArray<[keyof WechatSandboxKeys, RegExp]> = [
  ['appId', /^wx[0-9a-f]{16}$/],
  ['mchId', /^1\d{9}$/],
  ['apiV3Key', /^[0-9A-Za-z]{32}$/],
  ['apiKey', /^[0-9A-Za-z]{32}$/],
  ['merchantCertSerial', /^[0-9A-F]{40}$/],
  ['platformPublicKeyId', /^PUB_KEY_ID_\d{32}$/],
];

const WECHAT_KEY_FIELDS = [
  'merchantPrivateKeyPem',
  'merchantPublicKeyPem',
  'platformPrivateKeyPem',
  'platformPublicKeyPem',
] as const;

export function wechatSandboxKeyFile(dataDir: string): string {
  return join(dataDir, 'sandbox', 'wechat-keys.json');
}

/** Reads `<dataDir>/sandbox/wechat-keys.json`, creating it (mode 0600) on first use. */
export function ensureWechatSandboxKeys(dataDir: string): WechatSandboxKeys {
  return readOrCreate(
    wechatSandboxKeyFile(dataDir),
    readWechatKeyFile,
    generateWechatKeys,
    'WeChat Pay',
  );
}

function generateWechatKeys(): WechatSandboxKeys {
  const merchant = rsaPair();
  const platform = rsaPair();
  const mchId = `1${digits(9)}`;
  return {
    appId: `wx${randomBytes(8).toString('hex')}`,
    mchId,
    apiV3Key: randomAlphanumeric(32),
    apiKey: randomAlphanumeric(32),
    merchantPrivateKeyPem: merchant.privateKey,
    merchantPublicKeyPem: merchant.publicKey,
    merchantCertSerial: randomBytes(20).toString('hex').toUpperCase(),
    platformPrivateKeyPem: platform.privateKey,
    platformPublicKeyPem: platform.publicKey,
    // Real ids read `PUB_KEY_ID_01` + the merchant id + 20 more digits.
    platformPublicKeyId: `PUB_KEY_ID_01${mchId}${digits(20)}`,
  };
}

function readWechatKeyFile(file: string): WechatSandboxKeys | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // Never quote the file's content in an error: it holds private keys and the APIv3 key.
  const invalid = (why: string) =>
    new Error(
      `${file} is not a valid WeChat Pay sandbox key file (${why}); delete it to generate new keys`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  if (!raw || typeof raw !== 'object') throw invalid('not a JSON object');
  const data = raw as Record<string, unknown>;
  for (const [field, rule] of WECHAT_ID_RULES) {
    const value = data[field];
    if (typeof value !== 'string' || !rule.test(value)) throw invalid(field);
  }
  for (const field of WECHAT_KEY_FIELDS) {
    if (typeof data[field] !== 'string') throw invalid(field);
  }
  const keys = Object.fromEntries(
    [...WECHAT_ID_RULES.map(([field]) => field), ...WECHAT_KEY_FIELDS].map((f) => [f, data[f]]),
  ) as unknown as WechatSandboxKeys;
  if (!isPair(keys.merchantPrivateKeyPem, keys.merchantPublicKeyPem)) {
    throw invalid('merchant key pair');
  }
  if (!isPair(keys.platformPrivateKeyPem, keys.platformPublicKeyPem)) {
    throw invalid('platform key pair');
  }
  if (keys.merchantPublicKeyPem === keys.platformPublicKeyPem) {
    throw invalid('the merchant and platform keys are the same');
  }
  tightenMode(file);
  return keys;
}
