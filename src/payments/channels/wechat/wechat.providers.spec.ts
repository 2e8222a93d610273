import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../config/env';
import { clientCertificateAgent } from './wechat.providers';

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
