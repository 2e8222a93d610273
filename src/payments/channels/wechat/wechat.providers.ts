// Which WeChat Pay provider runs, from the configuration (WECHAT_API_VERSION; real or sandbox).
import { Logger } from '@nestjs/common';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../../../config/env';
import type { WechatClientCertificate, WechatConfig } from '../../../config/wechat.config';
import type { MetricsService } from '../../../metrics/metrics.service';
import type { PaymentProvider } from '../../payment-provider';
import { WechatV2Provider } from './wechat-v2.provider';
import { WechatPlatformKeys } from './wechat-platform-keys';
import { WechatV3Provider } from './wechat-v3.provider';

/** Injection token of the one `wechat` provider, whichever API version it speaks. */
export const WECHAT_PROVIDER = Symbol('WECHAT_PROVIDER');

/**
 * The provider for channel `wechat`: API v2 or v3, the same channel name and
 * merchant API either way. v3 without WECHAT_PLATFORM_PUBLIC_KEY runs in
 * platform-certificate mode (WechatPlatformKeys). Stops boot, naming the variable, for a v2 merchant certificate that cannot be read or does not match its key.
 */
export function createWechatProvider(
  config: WechatConfig,
  metrics: MetricsService,
): PaymentProvider {
  if (config.apiVersion === 'v2') {
    if (!('apiKey' in config)) throw new Error('WeChat Pay v2 configuration without an API key');
    return new WechatV2Provider(
      {
        appId: config.appId,
        mchId: config.mchId,
        apiKey: config.apiKey,
        signType: config.signType,
        baseUrl: config.baseUrl,
        notifyUrl: config.notifyUrls.v2,
        refundNotifyUrl: config.notifyUrls.v2Refund,
        timeoutMs: config.timeoutMs,
        ...(config.mode === 'live'
          ? {
              clientCertificateAgent: clientCertificateAgent(
                config.clientCertificate,
                config.mchId,
              ),
            }
          : {}),
      },
      metrics,
    );
  }
  if (!('privateKey' in config))
    throw new Error('WeChat Pay v3 configuration without a private key');
  const pinned = config.platformPublicKey;
  // Without a public key: platform-certificate mode. With a PUB_KEY_ID_ one, certificates
  // are still fetched when WeChat names one (a merchant migrating between the two).
  const certificates =
    !pinned || pinned.id.startsWith('PUB_KEY_ID_')
      ? new WechatPlatformKeys({
          apiV3Key: config.apiV3Key,
          ...(pinned ? { pinned } : {}),
          fetchAtStart: !pinned,
          countFetch: (outcome) => metrics.wechatCertificateFetches.inc({ outcome }),
          logger: new Logger('WechatPlatformKeys'),
        })
      : undefined;
  return new WechatV3Provider(
    {
      appId: config.appId,
      mchId: config.mchId,
      apiV3Key: config.apiV3Key,
      privateKey: config.privateKey,
      certSerial: config.certSerial,
      ...(pinned ? { platformKeys: new Map([[pinned.id, pinned.publicKey]]) } : {}),
      ...(certificates ? { certificates } : {}),
      baseUrl: config.baseUrl,
      notifyUrl: config.notifyUrls.v3,
      timeoutMs: config.timeoutMs,
    },
    metrics,
  );
}

function readOrStop(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(
      variable,
      `cannot read ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/**
 * The https.Agent that carries the merchant certificate to /secapi/pay/refund,
 * built once at boot so that a wrong file stops boot instead of the first refund.
 * A .p12's password is, by WeChat's convention, the mch id (protocols.md B1).
 */
export function clientCertificateAgent(cert: WechatClientCertificate, mchId: string): HttpsAgent {
  if (cert.kind === 'p12') {
    const pfx = readOrStop('WECHAT_CLIENT_P12_FILE', cert.p12File);
    try {
      createSecureContext({ pfx, passphrase: mchId });
    } catch (error) {
      throw new ConfigError(
        'WECHAT_CLIENT_P12_FILE',
        `is not a PKCS#12 bundle that opens with the mch id as its password (${(error as Error).message})`,
      );
    }
    return new HttpsAgent({ pfx, passphrase: mchId, keepAlive: true });
  }
  const certPem = readOrStop('WECHAT_CLIENT_CERT_FILE', cert.certFile);
  const keyPem = readOrStop('WECHAT_CLIENT_KEY_FILE', cert.keyFile);
  try {
    new X509Certificate(certPem);
  } catch {
    throw new ConfigError(
      'WECHAT_CLIENT_CERT_FILE',
      'is not a PEM certificate (apiclient_cert.pem)',
    );
  }
  try {
    // Checks that the key parses and belongs to the certificate ("key values mismatch").
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (error) {
    throw new ConfigError(
      'WECHAT_CLIENT_KEY_FILE',
      `does not fit WECHAT_CLIENT_CERT_FILE (${(error as Error).message})`,
    );
  }
  return new HttpsAgent({ cert: certPem, key: keyPem, keepAlive: true });
}
