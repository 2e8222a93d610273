import { createPrivateKey, createPublicKey, createSign, createVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureWechatSandboxKeys, wechatSandboxKeyFile } from '../sandbox-keys';

describe('ensureWechatSandboxKeys', () => {
  let root: string;
  let dataDir: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'paygate-wechat-keys-'));
    dataDir = join(root, 'nested', 'data');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('generates ids, keys and two 2048-bit key pairs once, in a 0600 file, then reads them back', () => {
    const first = ensureWechatSandboxKeys(dataDir);
    const file = wechatSandboxKeyFile(dataDir);
    expect(file).toBe(join(dataDir, 'sandbox', 'wechat-keys.json'));
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.appId).toMatch(/^wx[0-9a-f]{16}$/);
    expect(first.mchId).toMatch(/^1\d{9}$/);
    expect(first.apiV3Key).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(first.apiKey).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(first.apiKey).not.toBe(first.apiV3Key);
    expect(first.merchantCertSerial).toMatch(/^[0-9A-F]{40}$/);
    expect(first.platformPublicKeyId).toMatch(/^PUB_KEY_ID_\d{32}$/);
    for (const pem of [first.merchantPrivateKeyPem, first.platformPrivateKeyPem]) {
      expect(pem).toContain('BEGIN PRIVATE KEY');
      expect(createPrivateKey(pem).asymmetricKeyDetails?.modulusLength).toBe(2048);
    }
    expect(first.merchantPublicKeyPem).toContain('BEGIN PUBLIC KEY');
    expect(first.merchantPublicKeyPem).not.toBe(first.platformPublicKeyPem);
    const signature = createSign('RSA-SHA256')
      .update('x')
      .sign(first.platformPrivateKeyPem, 'base64');
    expect(
      createVerify('RSA-SHA256')
        .update('x')
        .verify(first.platformPublicKeyPem, signature, 'base64'),
    ).toBe(true);

    expect(ensureWechatSandboxKeys(dataDir)).toEqual(first);
  });

  it('refuses a damaged key file without quoting its content', () => {
    ensureWechatSandboxKeys(dataDir);
    const file = wechatSandboxKeyFile(dataDir);
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    const platformPublic = createPublicKey(createPrivateKey(data.platformPrivateKeyPem)).export({
      type: 'spki',
      format: 'pem',
    });
    writeFileSync(file, JSON.stringify({ ...data, merchantPublicKeyPem: platformPublic }));
    expect(() => ensureWechatSandboxKeys(dataDir)).toThrow(/merchant key pair/);
    writeFileSync(file, JSON.stringify({ ...data, mchId: '0123456789' }));
    expect(() => ensureWechatSandboxKeys(dataDir)).toThrow(/\(mchId\)/);

    for (const content of [
      `${data.merchantPrivateKeyPem} not json`,
      JSON.stringify({ ...data, apiV3Key: `${data.apiV3Key}!` }),
    ]) {
      writeFileSync(file, content);
      let message = '';
      try {
        ensureWechatSandboxKeys(dataDir);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/not a valid WeChat Pay sandbox key file/);
      expect(message).not.toContain('PRIVATE KEY');
      expect(message).not.toContain(data.apiV3Key);
    }
  });
});
