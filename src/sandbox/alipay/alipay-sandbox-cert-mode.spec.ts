/**
 * The sandbox gateway in certificate mode over real HTTP, driven by the
 * official Alipay Node SDK configured with the three files the sandbox issued:
 * the SDK computes the SNs it sends on its own, so the sandbox's issued
 * certificates and its SN checks are pinned against Alipay's reading.
 */
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AlipaySdk } from 'alipay-sdk';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  alipaySandboxKeyFile,
  ensureAlipaySandboxKeys,
  type AlipaySandboxKeys,
} from '../sandbox-keys';
import {
  ensureAlipaySandboxCertificates,
  readAlipaySandboxCertificateSns,
} from './alipay-sandbox.certificates';
import { AlipaySandboxModule } from './alipay-sandbox.module';

describe('Alipay sandbox gateway in certificate mode (official alipay-sdk)', () => {
  let dataDir: string;
  let keys: AlipaySandboxKeys;
  let app: NestExpressApplication;
  let base: string;
  let sdk: AlipaySdk;
  let counter = 0;
  const newOutTradeNo = () => `C${Date.now()}${String(++counter).padStart(4, '0')}`;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'paygate-alipay-sandbox-cert-'));
    keys = ensureAlipaySandboxKeys(dataDir);
    const files = ensureAlipaySandboxCertificates(dataDir, keys);
    const moduleRef = await Test.createTestingModule({
      imports: [
        AlipaySandboxModule.register({
          dataDir,
          publicBaseUrl: 'http://paygate.test',
          timeScale: 0.001,
          certMode: true,
        }),
      ],
    }).compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    app.useBodyParser('urlencoded', { extended: false });
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    sdk = new AlipaySdk({
      appId: keys.appId,
      privateKey: keys.appPrivateKeyPem,
      keyType: 'PKCS8',
      appCertContent: readFileSync(files.appCertFile),
      alipayPublicCertContent: readFileSync(files.alipayCertFile),
      alipayRootCertContent: readFileSync(files.rootCertFile),
      gateway: `${base}/sandbox/alipay/gateway.do`,
    });
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const precreateParams = () =>
    new URLSearchParams(
      sdk.sdkExecute('alipay.trade.precreate', {
        bizContent: { out_trade_no: newOutTradeNo(), total_amount: '1.00', subject: 'x' },
      }),
    );

  const post = async (params: URLSearchParams) => {
    const res = await fetch(`${base}/sandbox/alipay/gateway.do`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
      body: params.toString(),
    });
    return JSON.parse(await res.text()) as Record<string, Record<string, string> | string>;
  };

  it('accepts what the SDK sends and answers with a signature the SDK verifies', async () => {
    const res = await sdk.exec(
      'alipay.trade.precreate',
      { bizContent: { out_trade_no: newOutTradeNo(), total_amount: '88.80', subject: '咖啡' } },
      { validateSign: true },
    );
    expect(res.code).toBe('10000');
  });

  it('names alipay_cert_sn in its answers, the SN the SDK computes for its certificate', async () => {
    const params = precreateParams();
    expect(params.get('app_cert_sn')).toBe(readAlipaySandboxCertificateSns(dataDir).appCertSn);
    const body = await post(params);
    expect(body.alipay_cert_sn).toBe(
      (sdk.config as unknown as { alipayCertSn: string }).alipayCertSn,
    );
  });

  it.each([
    ['app_cert_sn', 'isv.invalid-app-cert-sn'],
    ['alipay_root_cert_sn', 'isv.invalid-alipay-root-cert-sn'],
  ])('refuses another %s', async (name, subCode) => {
    const params = precreateParams();
    params.set(name, '0123456789abcdef0123456789abcdef');
    expect((await post(params)).error_response).toMatchObject({ code: '40002', sub_code: subCode });
  });

  it('refuses a request without alipay_root_cert_sn', async () => {
    const params = precreateParams();
    params.delete('alipay_root_cert_sn');
    expect((await post(params)).error_response).toMatchObject({
      code: '40001',
      sub_code: 'isv.missing-alipay-root-cert-sn',
    });
  });
});

describe('sandbox certificate files', () => {
  it('are issued once, and anew when the sandbox keys were made anew', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paygate-alipay-sandbox-cert-'));
    try {
      const first = ensureAlipaySandboxCertificates(dir, ensureAlipaySandboxKeys(dir));
      const sns = readAlipaySandboxCertificateSns(dir);
      const appCert = readFileSync(first.appCertFile, 'utf8');
      ensureAlipaySandboxCertificates(dir, ensureAlipaySandboxKeys(dir));
      expect(readFileSync(first.appCertFile, 'utf8')).toBe(appCert);

      rmSync(alipaySandboxKeyFile(dir));
      const keys = ensureAlipaySandboxKeys(dir);
      const again = ensureAlipaySandboxCertificates(dir, keys);
      const reissued = new X509Certificate(readFileSync(again.appCertFile));
      expect(reissued.publicKey.equals(createPublicKey(keys.appPublicKeyPem))).toBe(true);
      expect(readAlipaySandboxCertificateSns(dir).appCertSn).not.toBe(sns.appCertSn);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
