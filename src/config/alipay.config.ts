import { registerAs } from '@nestjs/config';
import type { KeyObject } from 'node:crypto';
import { KeyFormatError, parsePrivateKey, parsePublicKey } from '../common/crypto/rsa-keys';
import { ensureAlipaySandboxKeys } from '../sandbox/sandbox-keys';
import { loadAppConfig } from './app.config';
import { ConfigError, EnvReader } from './env';

export const ALIPAY_LIVE_GATEWAY = 'https://openapi.alipay.com/gateway.do';

export interface AlipayConfig {
  /** live: real credentials; sandbox: the built-in simulated gateway with generated keys. */
  mode: 'live' | 'sandbox';
  appId: string;
  privateKey: KeyObject;
  alipayPublicKey: KeyObject;
  gateway: string;
  /** Where buyers' browsers are sent for page.pay / wap.pay. */
  browserGateway: string;
  sellerId?: string;
  notifyAllowIps: string[];
  /** PUBLIC_BASE_URL + /notify/alipay */
  notifyUrl: string;
  timeoutMs: number;
}

const ALIPAY_CREDENTIALS = [
  'ALIPAY_APP_ID',
  'ALIPAY_PRIVATE_KEY',
  'ALIPAY_PRIVATE_KEY_FILE',
  'ALIPAY_PUBLIC_KEY',
  'ALIPAY_PUBLIC_KEY_FILE',
];

/** None of Alipay's credentials is set: the channel runs on the built-in sandbox. */
export function alipayOnSandbox(env: Record<string, string | undefined>): boolean {
  const e = new EnvReader(env);
  return !ALIPAY_CREDENTIALS.some((name) => e.has(name));
}

/**
 * Alipay's credentials are app id, app private key and Alipay public key: all
 * three for the real gateway, none for the sandbox. Anything in between, or a
 * key that does not parse, stops boot naming the variable.
 */
export function loadAlipayConfig(env: Record<string, string | undefined>): AlipayConfig {
  const e = new EnvReader(env);
  const app = loadAppConfig(env);
  const appId = e.string('ALIPAY_APP_ID');
  const privateKeyText = e.secret('ALIPAY_PRIVATE_KEY', { file: true });
  const publicKeyText = e.secret('ALIPAY_PUBLIC_KEY', { file: true });
  const gatewayVar = e.httpUrl('ALIPAY_GATEWAY');
  const given = {
    ALIPAY_APP_ID: appId,
    ALIPAY_PRIVATE_KEY: privateKeyText,
    ALIPAY_PUBLIC_KEY: publicKeyText,
  };
  const missing = Object.entries(given)
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  const common = {
    notifyAllowIps: e.cidrList('ALIPAY_NOTIFY_ALLOW_IPS'),
    notifyUrl: `${app.publicBaseUrl}/notify/alipay`,
    timeoutMs: e.int('ALIPAY_TIMEOUT_MS', 10_000, 100, 120_000),
  };

  if (alipayOnSandbox(env)) {
    if (gatewayVar)
      throw new ConfigError(
        'ALIPAY_GATEWAY',
        'is set but ALIPAY_APP_ID, ALIPAY_PRIVATE_KEY and ALIPAY_PUBLIC_KEY are not',
      );
    if (e.has('ALIPAY_SELLER_ID'))
      throw new ConfigError('ALIPAY_SELLER_ID', 'is set but the Alipay credentials are not');
    const keys = ensureAlipaySandboxKeys(app.dataDir);
    return {
      mode: 'sandbox',
      appId: keys.appId,
      privateKey: parsePrivateKey(keys.appPrivateKeyPem, 'sandbox app private key'),
      alipayPublicKey: parsePublicKey(keys.gatewayPublicKeyPem, 'sandbox gateway public key'),
      // The service calls its own sandbox on the loopback address, whatever PUBLIC_BASE_URL says.
      gateway: `http://127.0.0.1:${app.port}/sandbox/alipay/gateway.do`,
      // ...but a buyer's browser (a phone, too) reaches it where PUBLIC_BASE_URL says.
      browserGateway: `${app.publicBaseUrl}/sandbox/alipay/gateway.do`,
      sellerId: keys.sellerId,
      ...common,
    };
  }
  if (missing.length > 0) {
    throw new ConfigError(
      missing[0],
      `is missing: the Alipay credentials are set only in part (missing ${missing.join(', ')})`,
    );
  }
  if (!/^\d{10,32}$/.test(appId!))
    throw new ConfigError('ALIPAY_APP_ID', 'must be the numeric Alipay app id');
  const sellerId = e.string('ALIPAY_SELLER_ID');
  if (sellerId !== undefined && !/^2088\d{12}$/.test(sellerId)) {
    throw new ConfigError(
      'ALIPAY_SELLER_ID',
      'must be the 16-digit Alipay partner id starting with 2088',
    );
  }
  return {
    mode: 'live',
    appId: appId!,
    privateKey: parseKey(() => parsePrivateKey(privateKeyText!, 'ALIPAY_PRIVATE_KEY')),
    alipayPublicKey: parseKey(() => parsePublicKey(publicKeyText!, 'ALIPAY_PUBLIC_KEY')),
    gateway: gatewayVar ?? ALIPAY_LIVE_GATEWAY,
    browserGateway: gatewayVar ?? ALIPAY_LIVE_GATEWAY,
    sellerId,
    ...common,
  };
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

export const alipayConfig = registerAs('alipay', () => loadAlipayConfig(process.env));
