import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { alipayCertificateSet, CertificateWorkshop } from '../../test/support/alipay-certificates';
import { loadAlipayConfig } from './alipay.config';
import { ConfigError } from './env';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getSN } = require(
  join(dirname(require.resolve('alipay-sdk/package.json')), 'dist/commonjs/antcertutil.js'),
) as { getSN(pem: string, isRoot?: boolean): string };

const expectConfigError = (fn: () => unknown, variable: string, message?: RegExp): void => {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).variable).toBe(variable);
  expect((caught as Error).message.startsWith(`${variable}:`)).toBe(true);
  if (message) expect((caught as Error).message).toMatch(message);
};

describe('Alipay certificate mode config', () => {
  const shop = new CertificateWorkshop();
  const appKeyPem = shop.rsaKey();
  const set = alipayCertificateSet(shop, { appKeyPem, alipayKeyPem: shop.rsaKey() });
  const dataDir = mkdtempSync(join(tmpdir(), 'paygate-alipay-config-'));
  const base = {
    DATA_DIR: dataDir,
    ALIPAY_APP_ID: '2021000000000001',
    ALIPAY_PRIVATE_KEY: appKeyPem,
    ALIPAY_APP_CERT_FILE: set.appCertFile,
    ALIPAY_PUBLIC_CERT_FILE: set.alipayCertFile,
    ALIPAY_ROOT_CERT_FILE: set.rootCertFile,
  };
  afterAll(() => {
    shop.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loads the three files: SNs as alipay-sdk computes them, the Alipay certificate key', () => {
    const config = loadAlipayConfig(base);
    expect(config.mode).toBe('live');
    expect(config.certificates).toEqual({
      appCertSn: getSN(set.appCertPem),
      rootCertSn: getSN(set.rootBundlePem, true),
      alipayCertSn: getSN(set.alipayCertPem),
    });
    const certKey = new X509Certificate(set.alipayCertPem).publicKey;
    expect(config.alipayPublicKey.equals(certKey)).toBe(true);
  });

  it('public-key mode has no certificates', () => {
    const publicPem = createPublicKey(shop.rsaKey()).export({ type: 'spki', format: 'pem' });
    const config = loadAlipayConfig({
      ...base,
      ALIPAY_APP_CERT_FILE: '',
      ALIPAY_PUBLIC_CERT_FILE: '',
      ALIPAY_ROOT_CERT_FILE: '',
      ALIPAY_PUBLIC_KEY: publicPem as string,
    });
    expect(config.certificates).toBeUndefined();
  });

  it('refuses both modes at once, naming the public key variable', () => {
    const publicPem = createPublicKey(appKeyPem).export({ type: 'spki', format: 'pem' }) as string;
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_PUBLIC_KEY: publicPem }),
      'ALIPAY_PUBLIC_KEY',
      /not both/,
    );
  });

  it('refuses some of the three files, naming the first missing one', () => {
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_PUBLIC_CERT_FILE: '' }),
      'ALIPAY_PUBLIC_CERT_FILE',
    );
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_APP_CERT_FILE: '', ALIPAY_ROOT_CERT_FILE: '' }),
      'ALIPAY_APP_CERT_FILE',
      /missing ALIPAY_APP_CERT_FILE, ALIPAY_ROOT_CERT_FILE/,
    );
  });

  it('refuses an unreadable or malformed certificate, naming its variable', () => {
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_ROOT_CERT_FILE: join(shop.dir, 'absent.crt') }),
      'ALIPAY_ROOT_CERT_FILE',
      /cannot read/,
    );
    const notPem = shop.file('not-a-cert.crt', 'hello');
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_APP_CERT_FILE: notPem }),
      'ALIPAY_APP_CERT_FILE',
      /no PEM certificate/,
    );
    const broken = shop.file(
      'broken.crt',
      '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUAAAA\n-----END CERTIFICATE-----\n',
    );
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_PUBLIC_CERT_FILE: broken }),
      'ALIPAY_PUBLIC_CERT_FILE',
      /malformed/,
    );
  });

  it('refuses an app certificate for another key than ALIPAY_PRIVATE_KEY', () => {
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_PRIVATE_KEY: shop.rsaKey() }),
      'ALIPAY_APP_CERT_FILE',
      /ALIPAY_PRIVATE_KEY/,
    );
  });

  it('refuses an expired certificate, naming its variable', () => {
    const expired = alipayCertificateSet(shop, {
      appKeyPem,
      alipayKeyPem: shop.rsaKey(),
      appCertDays: -1,
    });
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_APP_CERT_FILE: expired.appCertFile }),
      'ALIPAY_APP_CERT_FILE',
      /valid only from/,
    );
  });

  it('ALIPAY_SANDBOX_CERT_MODE is for the sandbox only', () => {
    expectConfigError(
      () => loadAlipayConfig({ ...base, ALIPAY_SANDBOX_CERT_MODE: 'true' }),
      'ALIPAY_SANDBOX_CERT_MODE',
    );
  });
});
