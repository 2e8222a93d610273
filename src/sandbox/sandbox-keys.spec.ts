import { createPrivateKey, createPublicKey, createSign, createVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alipaySandboxKeyFile, ensureAlipaySandboxKeys } from './sandbox-keys';

describe('ensureAlipaySandboxKeys', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = join(mkdtempSync(join(tmpdir(), 'paygate-keys-')), 'nested', 'data');
  });
  afterEach(() => rmSync(join(dataDir, '..', '..'), { recursive: true, force: true }));

  it('generates 2048-bit key pairs and ids once, in a 0600 file, then reads them back', () => {
    const first = ensureAlipaySandboxKeys(dataDir);
    const file = alipaySandboxKeyFile(dataDir);
    expect(file).toBe(join(dataDir, 'sandbox', 'alipay-keys.json'));
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.appId).toMatch(/^\d{16}$/);
    expect(first.sellerId).toMatch(/^2088\d{12}$/);
    expect(createPrivateKey(first.appPrivateKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(first.appPrivateKeyPem).toContain('BEGIN PRIVATE KEY');
    expect(first.gatewayPublicKeyPem).toContain('BEGIN PUBLIC KEY');
    expect(first.appPublicKeyPem).not.toBe(first.gatewayPublicKeyPem);

    const signature = createSign('RSA-SHA256').update('x').sign(first.appPrivateKeyPem, 'base64');
    expect(
      createVerify('RSA-SHA256').update('x').verify(first.appPublicKeyPem, signature, 'base64'),
    ).toBe(true);

    expect(ensureAlipaySandboxKeys(dataDir)).toEqual(first);
  });

  it('refuses a damaged key file without quoting its content', () => {
    ensureAlipaySandboxKeys(dataDir);
    const file = alipaySandboxKeyFile(dataDir);
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    // A public key that does not belong to the private key.
    const other = createPublicKey(createPrivateKey(data.gatewayPrivateKeyPem)).export({
      type: 'spki',
      format: 'pem',
    });
    writeFileSync(file, JSON.stringify({ ...data, appPublicKeyPem: other }));
    expect(() => ensureAlipaySandboxKeys(dataDir)).toThrow(/app key pair/);

    writeFileSync(file, `${data.appPrivateKeyPem} not json`);
    let message = '';
    try {
      ensureAlipaySandboxKeys(dataDir);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/not JSON/);
    expect(message).not.toContain('PRIVATE KEY');
  });
});
