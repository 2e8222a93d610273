import { registerAs } from '@nestjs/config';
import { X509Certificate, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { KeyFormatError, parsePrivateKey, parsePublicKey } from '../common/crypto/rsa-keys';
import { ensureWechatSandboxKeys } from '../sandbox/sandbox-keys';
import { loadAppConfig } from './app.config';
import { ConfigError, EnvReader } from './env';

export const WECHAT_LIVE_BASE_URL = 'https://api.mch.weixin.qq.com';

export type WechatApiVersion = 'v3' | 'v2';
export type WechatV2SignType = 'MD5' | 'HMAC-SHA256';

export interface WechatNotifyUrls {
  /** PUBLIC_BASE_URL + /notify/wechat/v3 (payments and refunds) */
  v3: string;
  /** PUBLIC_BASE_URL + /notify/wechat/v2 */
  v2: string;
  /** PUBLIC_BASE_URL + /notify/wechat/v2/refund */
  v2Refund: string;
}

interface WechatCommonConfig {
  apiVersion: WechatApiVersion;
  baseUrl: string;
  notifyAllowIps: string[];
  notifyUrls: WechatNotifyUrls;
  timeoutMs: number;
}

/**
 * v3 on the built-in sandbox: the same credentials as a real merchant's, generated
 * once into DATA_DIR/sandbox/wechat-keys.json, in WeChat Pay public-key mode, or
 * in platform-certificate mode with WECHAT_SANDBOX_CERT_MODE=true.
 */
export interface WechatV3SandboxConfig extends Omit<WechatV3LiveConfig, 'mode'> {
  mode: 'sandbox';
}

/**
 * v2 on the built-in sandbox (/sandbox/wechat/v2): app id, mch id and API key
 * from DATA_DIR/sandbox/wechat-keys.json. No client certificate: the sandbox
 * speaks plain http, which cannot carry one.
 */
export interface WechatV2SandboxConfig extends WechatCommonConfig {
  mode: 'sandbox';
  apiVersion: 'v2';
  appId: string;
  mchId: string;
  apiKey: KeyObject;
  signType: WechatV2SignType;
}

export type WechatSandboxConfig = WechatV3SandboxConfig | WechatV2SandboxConfig;

/** WeChat Pay's key for responses and notifications, pinned by configuration. */
export interface WechatPlatformPublicKey {
  /** `PUB_KEY_ID_…` (public-key mode) or a platform certificate serial, upper-case hex. */
  id: string;
  publicKey: KeyObject;
}

export interface WechatV3LiveConfig extends WechatCommonConfig {
  mode: 'live';
  apiVersion: 'v3';
  appId: string;
  mchId: string;
  /** The APIv3 key as a 32-byte secret KeyObject (it never prints). */
  apiV3Key: KeyObject;
  privateKey: KeyObject;
  /** The merchant API certificate serial, upper-case hex (Authorization serial_no). */
  certSerial: string;
  /** Unset: platform-certificate mode, the certificates come from GET /v3/certificates. */
  platformPublicKey?: WechatPlatformPublicKey;
}

export type WechatClientCertificate =
  { kind: 'pem'; certFile: string; keyFile: string } | { kind: 'p12'; p12File: string };

export interface WechatV2LiveConfig extends WechatCommonConfig {
  mode: 'live';
  apiVersion: 'v2';
  appId: string;
  mchId: string;
  /** The 32-character API key as a secret KeyObject (it never prints). */
  apiKey: KeyObject;
  signType: WechatV2SignType;
  /** For refund calls; only checked to be readable files here. */
  clientCertificate: WechatClientCertificate;
}

export type WechatConfig = WechatSandboxConfig | WechatV3LiveConfig | WechatV2LiveConfig;

const WECHAT_V3_CREDENTIALS = [
  'WECHAT_APP_ID',
  'WECHAT_MCH_ID',
  'WECHAT_APIV3_KEY',
  'WECHAT_PRIVATE_KEY',
  'WECHAT_PRIVATE_KEY_FILE',
  'WECHAT_CERT_SERIAL',
  'WECHAT_PLATFORM_PUBLIC_KEY',
  'WECHAT_PLATFORM_PUBLIC_KEY_FILE',
  'WECHAT_PLATFORM_PUBLIC_KEY_ID',
];

const WECHAT_V2_CREDENTIALS = [
  'WECHAT_APP_ID',
  'WECHAT_MCH_ID',
  'WECHAT_API_KEY',
  'WECHAT_CLIENT_CERT_FILE',
  'WECHAT_CLIENT_KEY_FILE',
  'WECHAT_CLIENT_P12_FILE',
];

function apiVersionOf(e: EnvReader): WechatApiVersion {
  return e.oneOf('WECHAT_API_VERSION', ['v3', 'v2'] as const, 'v3');
}

/**
 * None of the selected version's credentials is set: the channel runs on the
 * built-in sandbox. The other version's variables do not count (contract).
 */
export function wechatOnSandbox(env: Record<string, string | undefined>): boolean {
  const e = new EnvReader(env);
  const names = apiVersionOf(e) === 'v3' ? WECHAT_V3_CREDENTIALS : WECHAT_V2_CREDENTIALS;
  return !names.some((name) => e.has(name));
}

/**
 * The v3 sandbox in platform-certificate mode (WECHAT_SANDBOX_CERT_MODE=true):
 * it signs with platform certificates, and paygate fetches them as from WeChat.
 * `migration`: the sandbox signs with certificates while paygate also holds the
 * sandbox's WeChat Pay public key, as a merchant half-way from one to the other.
 */
export function wechatSandboxCertMode(
  env: Record<string, string | undefined>,
): boolean | 'migration' {
  const e = new EnvReader(env);
  if (e.raw('WECHAT_SANDBOX_CERT_MODE')?.toLowerCase() === 'migration') return 'migration';
  return e.bool('WECHAT_SANDBOX_CERT_MODE', false);
}

/**
 * WeChat Pay's credentials are those of WECHAT_API_VERSION only: all of them for
 * the real API, none for the sandbox. Anything in between, a base URL without
 * them, or a key that does not parse, stops boot naming the variable. No message
 * carries a secret's value, only its name and, for keys, its length.
 */
export function loadWechatConfig(env: Record<string, string | undefined>): WechatConfig {
  const e = new EnvReader(env);
  const app = loadAppConfig(env);
  const apiVersion = apiVersionOf(e);
  const signType =
    apiVersion === 'v2'
      ? e.oneOf('WECHAT_SIGN_TYPE', ['MD5', 'HMAC-SHA256'] as const, 'HMAC-SHA256')
      : undefined;
  const baseUrlVar = e.httpUrl('WECHAT_BASE_URL');
  const common = {
    notifyAllowIps: e.cidrList('WECHAT_NOTIFY_ALLOW_IPS'),
    notifyUrls: {
      v3: `${app.publicBaseUrl}/notify/wechat/v3`,
      v2: `${app.publicBaseUrl}/notify/wechat/v2`,
      v2Refund: `${app.publicBaseUrl}/notify/wechat/v2/refund`,
    },
    timeoutMs: e.int('WECHAT_TIMEOUT_MS', 10_000, 100, 120_000),
  };

  if (wechatOnSandbox(env)) {
    if (baseUrlVar) {
      throw new ConfigError(
        'WECHAT_BASE_URL',
        `is set but none of the WeChat Pay ${apiVersion} credentials are`,
      );
    }
    // The service calls its own sandbox on the loopback address.
    const baseUrl = `http://127.0.0.1:${app.port}/sandbox/wechat`;
    const keys = ensureWechatSandboxKeys(app.dataDir);
    if (apiVersion === 'v2') {
      return {
        mode: 'sandbox',
        apiVersion,
        signType: signType!,
        // v2 paths (/pay/…, /secapi/…) follow the base, as they follow api.mch.weixin.qq.com.
        baseUrl: `${baseUrl}/v2`,
        appId: keys.appId,
        mchId: keys.mchId,
        apiKey: createSecretKey(Buffer.from(keys.apiKey, 'utf8')),
        ...common,
      };
    }
    return {
      mode: 'sandbox',
      apiVersion,
      baseUrl,
      appId: keys.appId,
      mchId: keys.mchId,
      apiV3Key: createSecretKey(Buffer.from(keys.apiV3Key, 'utf8')),
      privateKey: parsePrivateKey(keys.merchantPrivateKeyPem, 'sandbox merchant private key'),
      certSerial: keys.merchantCertSerial,
      ...(wechatSandboxCertMode(env) === true
        ? {}
        : {
            platformPublicKey: {
              id: keys.platformPublicKeyId,
              publicKey: parsePublicKey(keys.platformPublicKeyPem, 'sandbox platform public key'),
            },
          }),
      ...common,
    };
  }

  const appId = e.string('WECHAT_APP_ID');
  const mchId = e.string('WECHAT_MCH_ID');
  const live = { mode: 'live' as const, baseUrl: baseUrlVar ?? WECHAT_LIVE_BASE_URL, ...common };

  if (apiVersion === 'v3') {
    const apiV3Key = e.secret('WECHAT_APIV3_KEY');
    const privateKeyText = e.secret('WECHAT_PRIVATE_KEY', { file: true });
    const certSerial = e.string('WECHAT_CERT_SERIAL');
    requireAll({
      WECHAT_APP_ID: appId,
      WECHAT_MCH_ID: mchId,
      WECHAT_APIV3_KEY: apiV3Key,
      WECHAT_PRIVATE_KEY: privateKeyText,
      WECHAT_CERT_SERIAL: certSerial,
    });
    checkIds(appId!, mchId!);
    const keyBytes = Buffer.byteLength(apiV3Key!, 'utf8');
    if (keyBytes !== 32) {
      throw new ConfigError(
        'WECHAT_APIV3_KEY',
        `must be exactly 32 bytes (the APIv3 key set in the merchant platform), got ${keyBytes}`,
      );
    }
    if (!/^[0-9A-Fa-f]{1,40}$/.test(certSerial!)) {
      throw new ConfigError(
        'WECHAT_CERT_SERIAL',
        'must be the merchant API certificate serial number in hex (up to 40 digits)',
      );
    }
    const privateKey = parseKey(() =>
      parsePrivateKey(privateKeyText!, keyVariable(e, 'WECHAT_PRIVATE_KEY')),
    );
    return {
      ...live,
      apiVersion,
      appId: appId!,
      mchId: mchId!,
      apiV3Key: createSecretKey(Buffer.from(apiV3Key!, 'utf8')),
      privateKey,
      certSerial: certSerial!.toUpperCase(),
      platformPublicKey: loadPlatformPublicKey(e, certSerial!.toUpperCase(), privateKey),
    };
  }

  const apiKey = e.secret('WECHAT_API_KEY');
  const certFile = e.string('WECHAT_CLIENT_CERT_FILE');
  const keyFile = e.string('WECHAT_CLIENT_KEY_FILE');
  const p12File = e.string('WECHAT_CLIENT_P12_FILE');
  if (p12File !== undefined && (certFile !== undefined || keyFile !== undefined)) {
    throw new ConfigError(
      'WECHAT_CLIENT_P12_FILE',
      'set WECHAT_CLIENT_CERT_FILE and WECHAT_CLIENT_KEY_FILE, or WECHAT_CLIENT_P12_FILE, not both',
    );
  }
  requireAll({
    WECHAT_APP_ID: appId,
    WECHAT_MCH_ID: mchId,
    WECHAT_API_KEY: apiKey,
    ...(p12File === undefined
      ? { WECHAT_CLIENT_CERT_FILE: certFile, WECHAT_CLIENT_KEY_FILE: keyFile }
      : { WECHAT_CLIENT_P12_FILE: p12File }),
  });
  checkIds(appId!, mchId!);
  if (!/^[\x21-\x7e]{32}$/.test(apiKey!)) {
    throw new ConfigError(
      'WECHAT_API_KEY',
      'must be exactly 32 printable ASCII characters (the API key set in the merchant platform), ' +
        `got ${[...apiKey!].length} characters`,
    );
  }
  const clientCertificate: WechatClientCertificate =
    p12File === undefined
      ? {
          kind: 'pem',
          certFile: readableFile('WECHAT_CLIENT_CERT_FILE', certFile!),
          keyFile: readableFile('WECHAT_CLIENT_KEY_FILE', keyFile!),
        }
      : { kind: 'p12', p12File: readableFile('WECHAT_CLIENT_P12_FILE', p12File) };
  return {
    ...live,
    apiVersion,
    appId: appId!,
    mchId: mchId!,
    apiKey: createSecretKey(Buffer.from(apiKey!, 'utf8')),
    signType: signType!,
    clientCertificate,
  };
}

function requireAll(given: Record<string, string | undefined>): void {
  const missing = Object.entries(given)
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  if (missing.length > 0) {
    const orP12 = missing.some((k) => k.startsWith('WECHAT_CLIENT_'))
      ? ', or WECHAT_CLIENT_P12_FILE in place of the PEM pair'
      : '';
    throw new ConfigError(
      missing[0],
      `is missing: the WeChat Pay credentials are set only in part (missing ${missing.join(', ')}${orP12})`,
    );
  }
}

function checkIds(appId: string, mchId: string): void {
  if (!/^[0-9A-Za-z]{1,32}$/.test(appId)) {
    throw new ConfigError('WECHAT_APP_ID', 'must be the WeChat app id, e.g. wx8888888888888888');
  }
  if (!/^\d{1,32}$/.test(mchId)) {
    throw new ConfigError('WECHAT_MCH_ID', 'must be the numeric WeChat Pay merchant id');
  }
}

/** The variable the text actually came from, so the message points at it. */
function keyVariable(e: EnvReader, name: string): string {
  return e.has(`${name}_FILE`) ? `${name}_FILE` : name;
}

/**
 * Both or neither. Mistakes caught here rather than at the first notification:
 * the merchant's own serial or key in place of WeChat's, and a certificate whose
 * serial is not the configured id.
 */
function loadPlatformPublicKey(
  e: EnvReader,
  merchantSerial: string,
  merchantPrivateKey: KeyObject,
): WechatPlatformPublicKey | undefined {
  const text = e.secret('WECHAT_PLATFORM_PUBLIC_KEY', { file: true });
  const id = e.string('WECHAT_PLATFORM_PUBLIC_KEY_ID');
  if (text === undefined && id === undefined) return undefined;
  if (text === undefined) {
    throw new ConfigError(
      'WECHAT_PLATFORM_PUBLIC_KEY',
      'is missing: WECHAT_PLATFORM_PUBLIC_KEY_ID is set; set both or neither',
    );
  }
  if (id === undefined) {
    throw new ConfigError(
      'WECHAT_PLATFORM_PUBLIC_KEY_ID',
      'is missing: WECHAT_PLATFORM_PUBLIC_KEY is set; set both or neither',
    );
  }
  const isPublicKeyId = /^PUB_KEY_ID_[0-9A-Za-z_]{1,64}$/.test(id);
  if (!isPublicKeyId && !/^[0-9A-F]{1,40}$/.test(id)) {
    throw new ConfigError(
      'WECHAT_PLATFORM_PUBLIC_KEY_ID',
      'must be a WeChat Pay public key id (PUB_KEY_ID_…) or a platform certificate serial ' +
        'in upper-case hex, exactly as WeChat sends it in Wechatpay-Serial',
    );
  }
  if (id === merchantSerial) {
    throw new ConfigError(
      'WECHAT_PLATFORM_PUBLIC_KEY_ID',
      "is the merchant certificate serial (WECHAT_CERT_SERIAL); expected WeChat Pay's key id",
    );
  }
  const variable = keyVariable(e, 'WECHAT_PLATFORM_PUBLIC_KEY');
  const publicKey = parseKey(() => parsePublicKey(text, variable));
  const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
  if (spki(publicKey).equals(spki(createPublicKey(merchantPrivateKey)))) {
    throw new ConfigError(
      variable,
      "is the merchant's own public key (WECHAT_PRIVATE_KEY's); expected WeChat Pay's",
    );
  }
  const certificate = certificateOf(text);
  if (certificate && !isPublicKeyId && stripZeros(certificate.serialNumber) !== stripZeros(id)) {
    throw new ConfigError(
      'WECHAT_PLATFORM_PUBLIC_KEY_ID',
      `does not match the serial of the certificate in ${variable}`,
    );
  }
  return { id, publicKey };
}

function certificateOf(text: string): X509Certificate | null {
  if (!text.includes('-----BEGIN CERTIFICATE-----')) return null;
  try {
    return new X509Certificate(text.replace(/\\n/g, '\n'));
  } catch {
    return null;
  }
}

const stripZeros = (hex: string): string => hex.toUpperCase().replace(/^0+/, '');

/** Only readability is checked now; the provider loads the files. */
function readableFile(variable: string, path: string): string {
  try {
    accessSync(path, fsConstants.R_OK);
    if (!statSync(path).isFile()) throw Object.assign(new Error(), { code: 'ENOTFILE' });
  } catch (error) {
    throw new ConfigError(
      variable,
      `cannot read ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  return path;
}

function parseKey(parse: () => KeyObject): KeyObject {
  try {
    return parse();
  } catch (error) {
    if (error instanceof KeyFormatError)
      throw new ConfigError(error.variable, error.message.replace(`${error.variable}: `, ''));
    throw error;
  }
}

/** Not in CONFIG_LOADERS yet: the WeChat provider registers it when it lands. */
export const wechatConfig = registerAs('wechat', () => loadWechatConfig(process.env));
