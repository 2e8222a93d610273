import { registerAs } from '@nestjs/config';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KeyFormatError, parsePrivateKey, parsePublicKey } from '../common/crypto/rsa-keys';
import { pemCertificates } from '../common/crypto/x509-fields';
import {
  alipayCertSn,
  alipayRootCertSn,
  isRsaSigned,
} from '../payments/channels/alipay/alipay.cert-sn';
import { ensureAlipaySandboxCertificates } from '../sandbox/alipay/alipay-sandbox.certificates';
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
  /** Public-key-certificate mode: absent when Alipay's public key is configured bare. */
  certificates?: AlipayCertificates;
}

/** What certificate mode adds to every request and expects in every answer. */
export interface AlipayCertificates {
  /** Sent as app_cert_sn. */
  appCertSn: string;
  /** Sent as alipay_root_cert_sn. */
  rootCertSn: string;
  /** The SN of Alipay's public certificate; an answer naming another alipay_cert_sn is refused. */
  alipayCertSn: string;
}

export const ALIPAY_CERT_FILES = [
  'ALIPAY_APP_CERT_FILE',
  'ALIPAY_PUBLIC_CERT_FILE',
  'ALIPAY_ROOT_CERT_FILE',
] as const;

const ALIPAY_CREDENTIALS = [
  'ALIPAY_APP_ID',
  'ALIPAY_PRIVATE_KEY',
  'ALIPAY_PRIVATE_KEY_FILE',
  'ALIPAY_PUBLIC_KEY',
  'ALIPAY_PUBLIC_KEY_FILE',
  ...ALIPAY_CERT_FILES,
];

/** None of Alipay's credentials is set: the channel runs on the built-in sandbox. */
export function alipayOnSandbox(env: Record<string, string | undefined>): boolean {
  const e = new EnvReader(env);
  return !ALIPAY_CREDENTIALS.some((name) => e.has(name));
}

/**
 * Alipay's credentials are app id, app private key and either Alipay's public
 * key or the three certificates of certificate mode: all of them for the real
 * gateway, none for the sandbox. Anything in between, both modes at once, or a
 * key or certificate that does not parse stops boot naming the variable.
 */
export function loadAlipayConfig(env: Record<string, string | undefined>): AlipayConfig {
  const e = new EnvReader(env);
  const app = loadAppConfig(env);
  const appId = e.string('ALIPAY_APP_ID');
  const privateKeyText = e.secret('ALIPAY_PRIVATE_KEY', { file: true });
  const publicKeyText = e.secret('ALIPAY_PUBLIC_KEY', { file: true });
  const gatewayVar = e.httpUrl('ALIPAY_GATEWAY');
  const certFiles = ALIPAY_CERT_FILES.filter((name) => e.has(name));
  const certMode = certFiles.length > 0;
  if (certMode && publicKeyText !== undefined) {
    const publicKeyVar = e.has('ALIPAY_PUBLIC_KEY')
      ? 'ALIPAY_PUBLIC_KEY'
      : 'ALIPAY_PUBLIC_KEY_FILE';
    throw new ConfigError(
      publicKeyVar,
      `is set together with ${certFiles[0]}: configure Alipay's public key or its certificates (certificate mode), not both`,
    );
  }
  if (certMode && certFiles.length < ALIPAY_CERT_FILES.length) {
    const absent = ALIPAY_CERT_FILES.filter((name) => !e.has(name));
    throw new ConfigError(
      absent[0],
      `is missing: certificate mode needs ${ALIPAY_CERT_FILES.join(', ')} (missing ${absent.join(', ')})`,
    );
  }
  const given = {
    ALIPAY_APP_ID: appId,
    ALIPAY_PRIVATE_KEY: privateKeyText,
    ...(certMode ? {} : { ALIPAY_PUBLIC_KEY: publicKeyText }),
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
    const privateKey = parsePrivateKey(keys.appPrivateKeyPem, 'sandbox app private key');
    // Sandbox certificate mode: the sandbox issues the three files and paygate
    // reads them exactly as it reads a merchant's.
    let sandboxCerts: ReturnType<typeof loadAlipayCertificates> | undefined;
    if (e.bool('ALIPAY_SANDBOX_CERT_MODE', false)) {
      const issued = ensureAlipaySandboxCertificates(app.dataDir, keys);
      sandboxCerts = loadAlipayCertificates(
        {
          ALIPAY_APP_CERT_FILE: issued.appCertFile,
          ALIPAY_PUBLIC_CERT_FILE: issued.alipayCertFile,
          ALIPAY_ROOT_CERT_FILE: issued.rootCertFile,
        },
        privateKey,
      );
    }
    return {
      mode: 'sandbox',
      appId: keys.appId,
      privateKey,
      alipayPublicKey:
        sandboxCerts?.alipayPublicKey ??
        parsePublicKey(keys.gatewayPublicKeyPem, 'sandbox gateway public key'),
      certificates: sandboxCerts?.certificates,
      // The service calls its own sandbox on the loopback address, whatever PUBLIC_BASE_URL says.
      gateway: `http://127.0.0.1:${app.port}/sandbox/alipay/gateway.do`,
      // ...but a buyer's browser (a phone, too) reaches it where PUBLIC_BASE_URL says.
      browserGateway: `${app.publicBaseUrl}/sandbox/alipay/gateway.do`,
      sellerId: keys.sellerId,
      ...common,
    };
  }
  if (e.bool('ALIPAY_SANDBOX_CERT_MODE', false)) {
    throw new ConfigError(
      'ALIPAY_SANDBOX_CERT_MODE',
      'applies to the built-in sandbox only, but Alipay credentials are set',
    );
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
  const privateKey = parseKey(() => parsePrivateKey(privateKeyText!, 'ALIPAY_PRIVATE_KEY'));
  const certs = certMode
    ? loadAlipayCertificates(
        {
          ALIPAY_APP_CERT_FILE: e.string('ALIPAY_APP_CERT_FILE')!,
          ALIPAY_PUBLIC_CERT_FILE: e.string('ALIPAY_PUBLIC_CERT_FILE')!,
          ALIPAY_ROOT_CERT_FILE: e.string('ALIPAY_ROOT_CERT_FILE')!,
        },
        privateKey,
      )
    : undefined;
  return {
    mode: 'live',
    appId: appId!,
    privateKey,
    alipayPublicKey:
      certs?.alipayPublicKey ?? parseKey(() => parsePublicKey(publicKeyText!, 'ALIPAY_PUBLIC_KEY')),
    certificates: certs?.certificates,
    gateway: gatewayVar ?? ALIPAY_LIVE_GATEWAY,
    browserGateway: gatewayVar ?? ALIPAY_LIVE_GATEWAY,
    sellerId,
    ...common,
  };
}

type AlipayCertFiles = Record<(typeof ALIPAY_CERT_FILES)[number], string>;

/**
 * Reads the three certificate files. The app certificate must certify the
 * public half of ALIPAY_PRIVATE_KEY (else Alipay rejects every request), and
 * no certificate in use may be outside its validity.
 */
export function loadAlipayCertificates(
  files: AlipayCertFiles,
  privateKey: KeyObject,
  now: Date = new Date(),
): { certificates: AlipayCertificates; alipayPublicKey: KeyObject } {
  const app = readCertificates('ALIPAY_APP_CERT_FILE', files.ALIPAY_APP_CERT_FILE)[0];
  const alipay = readCertificates('ALIPAY_PUBLIC_CERT_FILE', files.ALIPAY_PUBLIC_CERT_FILE)[0];
  const roots = readCertificates('ALIPAY_ROOT_CERT_FILE', files.ALIPAY_ROOT_CERT_FILE);

  if (!app.cert.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      'ALIPAY_APP_CERT_FILE',
      "certifies another key than ALIPAY_PRIVATE_KEY's public key (the app certificate and the private key do not belong together)",
    );
  }
  const alipayPublicKey = alipay.cert.publicKey;
  if (alipayPublicKey.asymmetricKeyType !== 'rsa') {
    throw new ConfigError(
      'ALIPAY_PUBLIC_CERT_FILE',
      'does not hold an RSA public key (RSA2 is used)',
    );
  }
  const rootCertSn = sn('ALIPAY_ROOT_CERT_FILE', () =>
    alipayRootCertSn(roots.map((r) => r.pem).join('\n')),
  );
  for (const [variable, entries] of [
    ['ALIPAY_APP_CERT_FILE', [app]],
    ['ALIPAY_PUBLIC_CERT_FILE', [alipay]],
    // The roots alipay_root_cert_sn counts; the others are not used.
    ['ALIPAY_ROOT_CERT_FILE', roots.filter((r) => isRsaSigned(r.der))],
  ] as const) {
    for (const { cert } of entries) {
      if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) {
        throw new ConfigError(
          variable,
          `holds a certificate (serial ${cert.serialNumber}) valid only from ${cert.validFrom} to ${cert.validTo}`,
        );
      }
    }
  }
  return {
    alipayPublicKey,
    certificates: {
      appCertSn: sn('ALIPAY_APP_CERT_FILE', () => alipayCertSn(app.der)),
      rootCertSn,
      alipayCertSn: sn('ALIPAY_PUBLIC_CERT_FILE', () => alipayCertSn(alipay.der)),
    },
  };
}

interface ReadCertificate {
  cert: X509Certificate;
  der: Buffer;
  pem: string;
}

function readCertificates(variable: string, file: string): ReadCertificate[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      variable,
      `cannot read ${JSON.stringify(file)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const ders = pemCertificates(text);
  if (ders.length === 0) {
    throw new ConfigError(variable, `${JSON.stringify(file)} holds no PEM certificate`);
  }
  return ders.map((der) => {
    try {
      const cert = new X509Certificate(der);
      return { cert, der, pem: cert.toString() };
    } catch {
      throw new ConfigError(variable, `${JSON.stringify(file)} holds a malformed certificate`);
    }
  });
}

function sn(variable: string, compute: () => string): string {
  try {
    return compute();
  } catch (error) {
    throw new ConfigError(variable, (error as Error).message);
  }
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
