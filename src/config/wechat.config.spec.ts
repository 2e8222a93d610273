import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './env';
import { loadWechatConfig, wechatOnSandbox } from './wechat.config';

const expectConfigError = (fn: () => unknown, variable: string): void => {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).variable).toBe(variable);
  expect((caught as Error).message.startsWith(`${variable}:`)).toBe(true);
};

describe('wechat config', () => {
  // Sandbox mode generates keys into DATA_DIR: never the working directory's ./data.
  const sandboxDir = mkdtempSync(join(tmpdir(), 'paygate-wechat-data-'));
  const load = (env: Record<string, string | undefined>) =>
    loadWechatConfig({ DATA_DIR: sandboxDir, ...env });
  const dir = mkdtempSync(join(tmpdir(), 'paygate-wechat-'));
  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const rsaPem = () =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
  const merchant = rsaPem();
  const wechat = rsaPem();
  const APIV3_KEY = 'Aa0Bb1Cc2Dd3Ee4Ff5Gg6Hh7Ii8Jj9Kk';
  const API_KEY = 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp';
  const PUB_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000TEST';
  const V3: Record<string, string> = {
    WECHAT_APP_ID: 'wxd678efh567hg6787',
    WECHAT_MCH_ID: '1230000109',
    WECHAT_APIV3_KEY: APIV3_KEY,
    WECHAT_PRIVATE_KEY: merchant.privateKey,
    WECHAT_CERT_SERIAL: '1dde55ad98ed71d6edd4a4a16996de7b47773a8c',
  };
  const certFile = file('apiclient_cert.pem', '-----BEGIN CERTIFICATE-----\n');
  const keyFile = file('apiclient_key.pem', merchant.privateKey);
  const p12File = file('apiclient_cert.p12', 'p12');
  const V2: Record<string, string> = {
    WECHAT_API_VERSION: 'v2',
    WECHAT_APP_ID: 'wx8888888888888888',
    WECHAT_MCH_ID: '1900000109',
    WECHAT_API_KEY: API_KEY,
    WECHAT_CLIENT_CERT_FILE: certFile,
    WECHAT_CLIENT_KEY_FILE: keyFile,
  };
  const without = (env: Record<string, string>, name: string) => {
    const { [name]: _removed, ...rest } = env;
    return rest;
  };
  const errorOf = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected a ConfigError');
  };
  /** No run of 12 characters of any secret may appear in the message. */
  const expectNoSecret = (error: Error): void => {
    const text = `${error.message} ${String(error.stack)}`;
    for (const secret of [APIV3_KEY, API_KEY, merchant.privateKey, wechat.privateKey]) {
      const compact = secret.replace(/-----[^-]+-----|\s/g, '');
      for (let i = 0; i + 12 <= compact.length; i += 6) {
        expect(text).not.toContain(compact.slice(i, i + 12));
      }
    }
  };

  describe('sandbox', () => {
    it('runs v3 on the sandbox with no credentials, on keys generated once into DATA_DIR', () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'paygate-wechat-sandbox-'));
      const env = { PUBLIC_BASE_URL: 'https://pay.example.com', PORT: '8080', DATA_DIR: dataDir };
      const c = load(env);
      expect(c).toMatchObject({
        mode: 'sandbox',
        apiVersion: 'v3',
        baseUrl: 'http://127.0.0.1:8080/sandbox/wechat',
        appId: expect.stringMatching(/^wx[0-9a-f]{16}$/),
        mchId: expect.stringMatching(/^1\d{9}$/),
        certSerial: expect.stringMatching(/^[0-9A-F]{40}$/),
        platformPublicKey: { id: expect.stringMatching(/^PUB_KEY_ID_\d{32}$/) },
        notifyAllowIps: [],
        notifyUrls: {
          v3: 'https://pay.example.com/notify/wechat/v3',
          v2: 'https://pay.example.com/notify/wechat/v2',
          v2Refund: 'https://pay.example.com/notify/wechat/v2/refund',
        },
        timeoutMs: 10_000,
      });
      // The same keys on every start; the APIv3 key never prints.
      const again = load(env);
      expect(again).toMatchObject({ appId: (c as { appId: string }).appId });
      const { apiV3Key } = JSON.parse(
        readFileSync(join(dataDir, 'sandbox', 'wechat-keys.json'), 'utf8'),
      ) as { apiV3Key: string };
      expect(JSON.stringify(c)).not.toContain(apiV3Key);
      expect(wechatOnSandbox({})).toBe(true);
    });

    it('runs v2 on the sandbox with its sign type, HMAC-SHA256 by default', () => {
      expect(load({ WECHAT_API_VERSION: 'v2' })).toMatchObject({
        mode: 'sandbox',
        apiVersion: 'v2',
        signType: 'HMAC-SHA256',
      });
      expect(load({ WECHAT_API_VERSION: 'V2', WECHAT_SIGN_TYPE: 'md5' })).toMatchObject({
        apiVersion: 'v2',
        signType: 'MD5',
      });
    });

    it("counts only the selected version's credentials", () => {
      expect(load({ WECHAT_API_KEY: API_KEY, WECHAT_CLIENT_P12_FILE: p12File }).mode).toBe(
        'sandbox',
      );
      expect(wechatOnSandbox({ WECHAT_API_VERSION: 'v2', WECHAT_APIV3_KEY: APIV3_KEY })).toBe(true);
      expect(wechatOnSandbox({ WECHAT_API_VERSION: 'v2', WECHAT_API_KEY: API_KEY })).toBe(false);
    });

    it.each([
      ['v3', {}],
      ['v2', { WECHAT_API_VERSION: 'v2' }],
    ])('a WECHAT_BASE_URL without %s credentials stops boot', (_version, env) => {
      expectConfigError(
        () => load({ ...env, WECHAT_BASE_URL: 'https://api.mch.weixin.qq.com' }),
        'WECHAT_BASE_URL',
      );
    });

    it.each([
      ['WECHAT_API_VERSION', { WECHAT_API_VERSION: 'v4' }],
      ['WECHAT_SIGN_TYPE', { WECHAT_API_VERSION: 'v2', WECHAT_SIGN_TYPE: 'SHA1' }],
      ['WECHAT_NOTIFY_ALLOW_IPS', { WECHAT_NOTIFY_ALLOW_IPS: '10.0.0.0/8, not-an-ip' }],
      ['WECHAT_TIMEOUT_MS', { WECHAT_TIMEOUT_MS: '50' }],
      ['WECHAT_BASE_URL', { ...V3, WECHAT_BASE_URL: 'api.mch.weixin.qq.com' }],
    ])('a bad %s stops boot naming it', (variable, env) => {
      expectConfigError(() => load(env), variable);
    });

    it('reads the allowlist and the timeout', () => {
      expect(
        load({
          WECHAT_NOTIFY_ALLOW_IPS: '101.226.103.0/25, ::1',
          WECHAT_TIMEOUT_MS: '5000',
        }),
      ).toMatchObject({ notifyAllowIps: ['101.226.103.0/25', '::1'], timeoutMs: 5000 });
    });
  });

  describe('v3', () => {
    it('loads a full credential set: keys parsed, serial upper-cased, live base URL', () => {
      const c = load(V3);
      if (c.mode !== 'live' || c.apiVersion !== 'v3') throw new Error(`unexpected ${c.mode}`);
      expect(c).toMatchObject({
        appId: 'wxd678efh567hg6787',
        mchId: '1230000109',
        certSerial: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
        baseUrl: 'https://api.mch.weixin.qq.com',
        notifyUrls: { v3: 'http://localhost:3000/notify/wechat/v3' },
      });
      expect(c.platformPublicKey).toBeUndefined();
      expect(c.privateKey.type).toBe('private');
      expect(c.apiV3Key.symmetricKeySize).toBe(32);
      expect(c.apiV3Key.export().toString('utf8')).toBe(APIV3_KEY);
      expect(JSON.stringify(c)).not.toContain(APIV3_KEY);
      expect(load({ ...V3, WECHAT_BASE_URL: 'https://api2.mch.weixin.qq.com/' }).baseUrl).toBe(
        'https://api2.mch.weixin.qq.com',
      );
    });

    it('reads the private key from WECHAT_PRIVATE_KEY_FILE', () => {
      const env = { ...without(V3, 'WECHAT_PRIVATE_KEY'), WECHAT_PRIVATE_KEY_FILE: keyFile };
      expect(load(env).mode).toBe('live');
    });

    it.each(Object.keys(V3))('a set without %s stops boot naming it', (name) => {
      const error = errorOf(() => load(without(V3, name)));
      expectConfigError(() => load(without(V3, name)), name);
      expect(error.message).toContain('set only in part');
      expectNoSecret(error);
    });

    it('a lone platform public key is a partial set too, naming the first missing variable', () => {
      expectConfigError(() => load({ WECHAT_PLATFORM_PUBLIC_KEY_ID: PUB_KEY_ID }), 'WECHAT_APP_ID');
    });

    it.each([
      ['WECHAT_APIV3_KEY', { WECHAT_APIV3_KEY: APIV3_KEY.slice(1) }],
      ['WECHAT_APIV3_KEY', { WECHAT_APIV3_KEY: `${APIV3_KEY}0` }],
      ['WECHAT_APIV3_KEY', { WECHAT_APIV3_KEY: `${APIV3_KEY.slice(2)}密` }],
      ['WECHAT_PRIVATE_KEY', { WECHAT_PRIVATE_KEY: merchant.privateKey.slice(0, 600) }],
      ['WECHAT_PRIVATE_KEY', { WECHAT_PRIVATE_KEY: merchant.publicKey }],
      ['WECHAT_PRIVATE_KEY', { WECHAT_PRIVATE_KEY_FILE: keyFile }],
      ['WECHAT_CERT_SERIAL', { WECHAT_CERT_SERIAL: 'not-hex' }],
      ['WECHAT_APP_ID', { WECHAT_APP_ID: 'wx 1' }],
      ['WECHAT_MCH_ID', { WECHAT_MCH_ID: 'M1230000109' }],
    ])('a malformed %s stops boot naming it, without its value', (variable, change) => {
      const env = { ...V3, ...change };
      expectConfigError(() => load(env), variable);
      expectNoSecret(errorOf(() => load(env)));
    });

    it('names WECHAT_PRIVATE_KEY_FILE when the key in the file is broken', () => {
      const broken = file(
        'broken_key.pem',
        merchant.privateKey.replace(/[A-Za-z]{8}\n/, '!!!!!!!!\n'),
      );
      const env = { ...without(V3, 'WECHAT_PRIVATE_KEY'), WECHAT_PRIVATE_KEY_FILE: broken };
      expectConfigError(() => load(env), 'WECHAT_PRIVATE_KEY_FILE');
      expectNoSecret(errorOf(() => load(env)));
    });

    describe('platform public key', () => {
      it('takes the WeChat Pay public key and its PUB_KEY_ID_ id, inline or as a file', () => {
        for (const env of [
          { ...V3, WECHAT_PLATFORM_PUBLIC_KEY: wechat.publicKey },
          { ...V3, WECHAT_PLATFORM_PUBLIC_KEY_FILE: file('pub_key.pem', wechat.publicKey) },
        ]) {
          const c = load({ ...env, WECHAT_PLATFORM_PUBLIC_KEY_ID: PUB_KEY_ID });
          if (c.mode !== 'live' || c.apiVersion !== 'v3') throw new Error(`unexpected ${c.mode}`);
          expect(c.platformPublicKey?.id).toBe(PUB_KEY_ID);
          expect(c.platformPublicKey?.publicKey.equals(createPublicKey(wechat.publicKey))).toBe(
            true,
          );
        }
      });

      it('accepts an upper-case hex serial as the id', () => {
        const c = load({
          ...V3,
          WECHAT_PLATFORM_PUBLIC_KEY: wechat.publicKey,
          WECHAT_PLATFORM_PUBLIC_KEY_ID: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
        });
        expect(c.mode === 'live' && c.apiVersion === 'v3' && c.platformPublicKey?.id).toBe(
          '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
        );
      });

      it.each([
        ['WECHAT_PLATFORM_PUBLIC_KEY_ID', { WECHAT_PLATFORM_PUBLIC_KEY: wechat.publicKey }],
        ['WECHAT_PLATFORM_PUBLIC_KEY', { WECHAT_PLATFORM_PUBLIC_KEY_ID: PUB_KEY_ID }],
        [
          'WECHAT_PLATFORM_PUBLIC_KEY_ID',
          {
            WECHAT_PLATFORM_PUBLIC_KEY: wechat.publicKey,
            WECHAT_PLATFORM_PUBLIC_KEY_ID: '5157f09efdc096de15ebe81a47057a7232f1b8e1',
          },
        ],
        [
          'WECHAT_PLATFORM_PUBLIC_KEY_ID',
          { WECHAT_PLATFORM_PUBLIC_KEY: wechat.publicKey, WECHAT_PLATFORM_PUBLIC_KEY_ID: 'KEY-1' },
        ],
        [
          'WECHAT_PLATFORM_PUBLIC_KEY_ID',
          {
            WECHAT_PLATFORM_PUBLIC_KEY: wechat.publicKey,
            WECHAT_PLATFORM_PUBLIC_KEY_ID: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
          },
        ],
        [
          'WECHAT_PLATFORM_PUBLIC_KEY',
          { WECHAT_PLATFORM_PUBLIC_KEY: 'garbage', WECHAT_PLATFORM_PUBLIC_KEY_ID: PUB_KEY_ID },
        ],
        [
          'WECHAT_PLATFORM_PUBLIC_KEY',
          {
            WECHAT_PLATFORM_PUBLIC_KEY: wechat.privateKey,
            WECHAT_PLATFORM_PUBLIC_KEY_ID: PUB_KEY_ID,
          },
        ],
        [
          'WECHAT_PLATFORM_PUBLIC_KEY',
          {
            WECHAT_PLATFORM_PUBLIC_KEY: merchant.publicKey,
            WECHAT_PLATFORM_PUBLIC_KEY_ID: PUB_KEY_ID,
          },
        ],
      ])(
        'stops boot naming %s: both or neither, a well-formed id, WeChat’s key',
        (variable, change) => {
          const env = { ...V3, ...change };
          expectConfigError(() => load(env), variable);
          expectNoSecret(errorOf(() => load(env)));
        },
      );

      // openssl makes a certificate with a chosen serial; images without it skip visibly.
      const serial = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
      const certificate = ((): string | null => {
        try {
          return execFileSync(
            'openssl',
            [
              'req',
              '-new',
              '-x509',
              '-key',
              file('wechat_key.pem', wechat.privateKey),
              '-subj',
              '/CN=Tenpay.com Root CA',
              '-days',
              '1',
              '-set_serial',
              `0x${serial}`,
            ],
            { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
          );
        } catch {
          return null;
        }
      })();

      (certificate ? it : it.skip)(
        'takes a platform certificate whose serial is the id, and only then',
        () => {
          const env = { ...V3, WECHAT_PLATFORM_PUBLIC_KEY: certificate! };
          const c = load({ ...env, WECHAT_PLATFORM_PUBLIC_KEY_ID: serial });
          expect(c.mode === 'live' && c.apiVersion === 'v3' && c.platformPublicKey?.id).toBe(
            serial,
          );
          expectConfigError(
            () =>
              load({
                ...env,
                WECHAT_PLATFORM_PUBLIC_KEY_ID: `${serial.slice(0, -1)}2`,
              }),
            'WECHAT_PLATFORM_PUBLIC_KEY_ID',
          );
        },
      );
    });
  });

  describe('v2', () => {
    it('loads a full set with a PEM client certificate, HMAC-SHA256 by default', () => {
      const c = load(V2);
      if (c.mode !== 'live' || c.apiVersion !== 'v2') throw new Error(`unexpected ${c.mode}`);
      expect(c).toMatchObject({
        appId: 'wx8888888888888888',
        mchId: '1900000109',
        signType: 'HMAC-SHA256',
        clientCertificate: { kind: 'pem', certFile, keyFile },
        baseUrl: 'https://api.mch.weixin.qq.com',
        notifyUrls: {
          v2: 'http://localhost:3000/notify/wechat/v2',
          v2Refund: 'http://localhost:3000/notify/wechat/v2/refund',
        },
      });
      expect(c.apiKey.export().toString('utf8')).toBe(API_KEY);
      expect(JSON.stringify(c)).not.toContain(API_KEY);
    });

    it('takes a .p12 instead of the PEM pair, and MD5', () => {
      const env = {
        ...without(without(V2, 'WECHAT_CLIENT_CERT_FILE'), 'WECHAT_CLIENT_KEY_FILE'),
        WECHAT_CLIENT_P12_FILE: p12File,
        WECHAT_SIGN_TYPE: 'MD5',
      };
      expect(load(env)).toMatchObject({
        signType: 'MD5',
        clientCertificate: { kind: 'p12', p12File },
      });
    });

    it.each(Object.keys(V2).filter((k) => k !== 'WECHAT_API_VERSION'))(
      'a set without %s stops boot naming it',
      (name) => {
        expectConfigError(() => load(without(V2, name)), name);
        expectNoSecret(errorOf(() => load(without(V2, name))));
      },
    );

    it('names WECHAT_CLIENT_CERT_FILE when no client certificate is given at all', () => {
      const env = without(without(V2, 'WECHAT_CLIENT_CERT_FILE'), 'WECHAT_CLIENT_KEY_FILE');
      expectConfigError(() => load(env), 'WECHAT_CLIENT_CERT_FILE');
    });

    it.each([
      ['WECHAT_CLIENT_P12_FILE', { WECHAT_CLIENT_P12_FILE: p12File }],
      ['WECHAT_CLIENT_CERT_FILE', { WECHAT_CLIENT_CERT_FILE: join(dir, 'missing.pem') }],
      ['WECHAT_CLIENT_KEY_FILE', { WECHAT_CLIENT_KEY_FILE: dir }],
      ['WECHAT_API_KEY', { WECHAT_API_KEY: API_KEY.slice(1) }],
      ['WECHAT_API_KEY', { WECHAT_API_KEY: `${API_KEY.slice(1)}密` }],
      ['WECHAT_MCH_ID', { WECHAT_MCH_ID: '1900-000109' }],
    ])('a bad %s stops boot naming it, without its value', (variable, change) => {
      const env = { ...V2, ...change };
      expectConfigError(() => load(env), variable);
      expectNoSecret(errorOf(() => load(env)));
    });

    it('says which file cannot be read and why', () => {
      const missing = join(dir, 'missing.pem');
      expect(errorOf(() => load({ ...V2, WECHAT_CLIENT_CERT_FILE: missing })).message).toBe(
        `WECHAT_CLIENT_CERT_FILE: cannot read ${JSON.stringify(missing)}: ENOENT`,
      );
    });
  });
});
