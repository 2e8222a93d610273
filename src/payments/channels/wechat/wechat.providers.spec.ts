import { execFileSync } from 'node:child_process';
import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../config/env';
import type { WechatV3LiveConfig } from '../../../config/wechat.config';
import { MetricsService } from '../../../metrics/metrics.service';
import { ChannelCallError } from '../../payment-provider';
import { clientCertificateAgent, createWechatProvider } from './wechat.providers';

const MCH_ID = '1900000109';

/** A merchant certificate as WeChat issues them (PEM pair and a .p12 locked with the mch id), made with openssl. */
describe('WeChat Pay v2 merchant certificate, checked at boot', () => {
  let dir: string;
  const at = (name: string) => join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'paygate-cert-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${MCH_ID}`,
        '-keyout',
        at('apiclient_key.pem'),
        '-out',
        at('apiclient_cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    execFileSync(
      'openssl',
      [
        'pkcs12',
        '-export',
        '-inkey',
        at('apiclient_key.pem'),
        '-in',
        at('apiclient_cert.pem'),
        '-out',
        at('apiclient_cert.p12'),
        '-passout',
        `pass:${MCH_ID}`,
      ],
      { stdio: 'ignore' },
    );
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(at('other_key.pem'), other.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(
      at('not_a_cert.pem'),
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const variableOf = (run: () => unknown): string | undefined => {
    try {
      run();
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).variable;
    }
  };

  it('builds one agent from a matching PEM pair, or from the .p12 opened with the mch id', () => {
    const pem = clientCertificateAgent(
      { kind: 'pem', certFile: at('apiclient_cert.pem'), keyFile: at('apiclient_key.pem') },
      MCH_ID,
    );
    expect(pem).toBeInstanceOf(Agent);
    expect(
      clientCertificateAgent({ kind: 'p12', p12File: at('apiclient_cert.p12') }, MCH_ID),
    ).toBeInstanceOf(Agent);
    pem.destroy();
  });

  it('stops boot naming the variable: a key of another certificate, not a certificate, unreadable, wrong .p12 password', () => {
    expect(
      variableOf(() =>
        clientCertificateAgent(
          { kind: 'pem', certFile: at('apiclient_cert.pem'), keyFile: at('other_key.pem') },
          MCH_ID,
        ),
      ),
    ).toBe('WECHAT_CLIENT_KEY_FILE');
    expect(
      variableOf(() =>
        clientCertificateAgent(
          { kind: 'pem', certFile: at('not_a_cert.pem'), keyFile: at('apiclient_key.pem') },
          MCH_ID,
        ),
      ),
    ).toBe('WECHAT_CLIENT_CERT_FILE');
    expect(
      variableOf(() =>
        clientCertificateAgent(
          { kind: 'pem', certFile: at('missing.pem'), keyFile: at('apiclient_key.pem') },
          MCH_ID,
        ),
      ),
    ).toBe('WECHAT_CLIENT_CERT_FILE');
    expect(
      variableOf(() =>
        clientCertificateAgent({ kind: 'p12', p12File: at('apiclient_cert.p12') }, '1900000110'),
      ),
    ).toBe('WECHAT_CLIENT_P12_FILE');
  });
});

describe('WeChat Pay v3 without a WeChat Pay public key', () => {
  const config = (): WechatV3LiveConfig => ({
    mode: 'live',
    apiVersion: 'v3',
    appId: 'wx8888888888888888',
    mchId: MCH_ID,
    apiV3Key: createSecretKey(Buffer.from('abcdefghijklmnopqrstuvwxyz012345')),
    privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    certSerial: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
    // Nothing listens here: a call that went out would fail differently.
    baseUrl: 'http://127.0.0.1:9',
    notifyAllowIps: [],
    notifyUrls: { v3: 'https://pay.example.com/notify/wechat/v3', v2: '', v2Refund: '' },
    timeoutMs: 1000,
  });

  it('boots in platform-certificate mode and refuses calls as unavailable until certificates arrive', async () => {
    const provider = createWechatProvider(config(), new MetricsService());
    expect(provider.health?.()).toMatchObject({ mode: 'platform-certificate', state: 'starting' });
    const attempt = provider.queryPayment('T1');
    await expect(attempt).rejects.toBeInstanceOf(ChannelCallError);
    await expect(attempt).rejects.toMatchObject({ kind: 'unavailable' });
  });
});
