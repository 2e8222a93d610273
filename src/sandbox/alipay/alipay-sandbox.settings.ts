import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { AlipaySandboxKeys } from '../sandbox-keys';
import type { AlipaySandboxCertificateSns } from './alipay-sandbox.certificates';

export interface AlipaySandboxSettings {
  /** Directory of paygate's data; keys live in `<dataDir>/sandbox/alipay-keys.json`. */
  dataDir: string;
  /** Where browsers reach this process, e.g. `http://localhost:3000` (no trailing slash). */
  publicBaseUrl: string;
  /** Multiplies Alipay's notification retry intervals: 1 = real schedule, 0.001 in tests. */
  timeScale: number;
  /** Public-key-certificate mode (ALIPAY_SANDBOX_CERT_MODE): requests must name the issued certificates. */
  certMode?: boolean;
}

export const ALIPAY_SANDBOX_SETTINGS = Symbol('ALIPAY_SANDBOX_SETTINGS');

/** Append to the service's base URL to get ALIPAY_GATEWAY when Alipay runs on the sandbox. */
export const ALIPAY_SANDBOX_GATEWAY_PATH = '/sandbox/alipay/gateway.do';

/** Throws on settings that would only fail later, at the first payment. */
export function normaliseAlipaySandboxSettings(
  settings: AlipaySandboxSettings,
): AlipaySandboxSettings {
  if (!settings.dataDir) throw new Error('AlipaySandboxModule: dataDir is required');
  let url: URL;
  try {
    url = new URL(settings.publicBaseUrl);
  } catch {
    throw new Error(`AlipaySandboxModule: publicBaseUrl is not a URL: ${settings.publicBaseUrl}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error('AlipaySandboxModule: publicBaseUrl must be http(s)');
  }
  if (!Number.isFinite(settings.timeScale) || settings.timeScale < 0) {
    throw new Error('AlipaySandboxModule: timeScale must be a number >= 0');
  }
  return { ...settings, publicBaseUrl: settings.publicBaseUrl.replace(/\/+$/, '') };
}

/**
 * What the simulated gateway holds: the app's public key (to verify requests)
 * and its own private key (to sign answers). The app private key is not kept.
 */
export class AlipaySandboxCredentials {
  private constructor(
    readonly appId: string,
    readonly sellerId: string,
    readonly appPublicKey: KeyObject,
    readonly gatewayPrivateKey: KeyObject,
    /** Certificate mode only: the SNs requests must carry and answers name. */
    readonly certificateSns?: AlipaySandboxCertificateSns,
  ) {}

  static fromKeys(
    keys: AlipaySandboxKeys,
    certificateSns?: AlipaySandboxCertificateSns,
  ): AlipaySandboxCredentials {
    return new AlipaySandboxCredentials(
      keys.appId,
      keys.sellerId,
      createPublicKey(keys.appPublicKeyPem),
      createPrivateKey(keys.gatewayPrivateKeyPem),
      certificateSns,
    );
  }
}
