// Which WeChat Pay provider runs, from the configuration (WECHAT_API_VERSION; real or sandbox).
import { ConfigError } from '../../../config/env';
import type { WechatConfig } from '../../../config/wechat.config';
import type { MetricsService } from '../../../metrics/metrics.service';
import type { PaymentProvider } from '../../payment-provider';
import { WechatV3Provider } from './wechat-v3.provider';

/**
 * The provider for channel `wechat`. Stops boot, naming the variable, for the
 * modes this version of paygate does not have yet: API v2, and v3's
 * platform-certificate mode (without WECHAT_PLATFORM_PUBLIC_KEY).
 */
export function createWechatProvider(
  config: WechatConfig,
  metrics: MetricsService,
): PaymentProvider {
  if (config.apiVersion === 'v2' || !('privateKey' in config)) {
    throw new ConfigError(
      'WECHAT_API_VERSION',
      'v2 is not built yet in this version of paygate; use v3 (the default)',
    );
  }
  if (!config.platformPublicKey) {
    throw new ConfigError(
      'WECHAT_PLATFORM_PUBLIC_KEY',
      'is required for now: platform-certificate mode (GET /v3/certificates) is not built yet',
    );
  }
  return new WechatV3Provider(
    {
      appId: config.appId,
      mchId: config.mchId,
      apiV3Key: config.apiV3Key,
      privateKey: config.privateKey,
      certSerial: config.certSerial,
      platformKeys: new Map([[config.platformPublicKey.id, config.platformPublicKey.publicKey]]),
      baseUrl: config.baseUrl,
      notifyUrl: config.notifyUrls.v3,
      timeoutMs: config.timeoutMs,
    },
    metrics,
  );
}
