import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { WechatSandboxKeys } from '../sandbox-keys';

export interface WechatSandboxSettings {
  /** Directory of paygate's data; keys live in `<dataDir>/sandbox/wechat-keys.json`. */
  dataDir: string;
  /** Where browsers reach this process, e.g. `http://localhost:3000` (no trailing slash). */
  publicBaseUrl: string;
  /**
   * Multiplies WeChat Pay's notification retry intervals and the time a refund
   * stays PROCESSING: 1 = real schedule, 0.001 in tests.
   */
  timeScale: number;
  /** Which WeChat Pay API the sandbox speaks: v3 (default) or v2 under /sandbox/wechat/v2. */
  apiVersion?: 'v2' | 'v3';
  /**
   * v3 in platform-certificate mode (WECHAT_SANDBOX_CERT_MODE): signs with a
   * platform certificate and serves GET /v3/certificates, instead of its PUB_KEY_ID key.
   */
  certMode?: boolean;
  /** Starts with GET /v3/certificates unreachable (WECHAT_SANDBOX_CERTIFICATES_DOWN), until told. */
  certificatesDown?: boolean;
}

export const WECHAT_SANDBOX_SETTINGS = Symbol('WECHAT_SANDBOX_SETTINGS');

/**
 * Append to the service's base URL to get the WeChat Pay base URL when WeChat
 * runs on the sandbox: the APIv3 paths (`/v3/...`) follow it, and the signed
 * canonical URL is the whole path, this prefix included.
 */
export const WECHAT_SANDBOX_BASE_PATH = '/sandbox/wechat';

/** Throws on settings that would only fail later, at the first payment. */
export function normaliseWechatSandboxSettings(
  settings: WechatSandboxSettings,
): WechatSandboxSettings {
  if (!settings.dataDir) throw new Error('WechatSandboxModule: dataDir is required');
  let url: URL;
  try {
    url = new URL(settings.publicBaseUrl);
  } catch {
    throw new Error(`WechatSandboxModule: publicBaseUrl is not a URL: ${settings.publicBaseUrl}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error('WechatSandboxModule: publicBaseUrl must be http(s)');
  }
  if (!Number.isFinite(settings.timeScale) || settings.timeScale < 0) {
    throw new Error('WechatSandboxModule: timeScale must be a number >= 0');
  }
  return { ...settings, publicBaseUrl: settings.publicBaseUrl.replace(/\/+$/, '') };
}

/**
 * What the simulated WeChat Pay holds: the merchant's public key (to verify
 * requests and client payment signatures), its own private key (to sign answers
 * and notifications) and the APIv3 key (to encrypt notification resources). The
 * merchant private key is not kept.
 */
export class WechatSandboxCredentials {
  private constructor(
    readonly appId: string,
    readonly mchId: string,
    readonly merchantCertSerial: string,
    readonly merchantPublicKey: KeyObject,
    readonly platformPublicKeyId: string,
    readonly platformPrivateKey: KeyObject,
    readonly apiV3Key: KeyObject,
  ) {}

  static fromKeys(keys: WechatSandboxKeys): WechatSandboxCredentials {
    return new WechatSandboxCredentials(
      keys.appId,
      keys.mchId,
      keys.merchantCertSerial,
      createPublicKey(keys.merchantPublicKeyPem),
      keys.platformPublicKeyId,
      createPrivateKey(keys.platformPrivateKeyPem),
      createSecretKey(Buffer.from(keys.apiV3Key, 'utf8')),
    );
  }
}
