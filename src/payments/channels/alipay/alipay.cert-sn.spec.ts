import { dirname, join } from 'node:path';
import {
  alipayCertificateSet,
  ANT_CLASS2_SUBJECT,
  CertificateWorkshop,
} from '../../../../test/support/alipay-certificates';
import { pemCertificates } from '../../../common/crypto/x509-fields';
import { alipayCertSn, alipayCertSnFromPem, alipayRootCertSn } from './alipay.cert-sn';

// The SDK's own SN functions (antcertutil.ts) are not among its package exports.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getSN } = require(
  join(dirname(require.resolve('alipay-sdk/package.json')), 'dist/commonjs/antcertutil.js'),
) as { getSN(pem: string, isRoot?: boolean): string };

describe('Alipay certificate SNs', () => {
  const shop = new CertificateWorkshop();
  const set = alipayCertificateSet(shop, { appKeyPem: shop.rsaKey(), alipayKeyPem: shop.rsaKey() });
  afterAll(() => shop.cleanup());

  it('computes app_cert_sn and the Alipay certificate SN as alipay-sdk getSN does', () => {
    expect(alipayCertSnFromPem(set.appCertPem)).toBe(getSN(set.appCertPem));
    expect(alipayCertSnFromPem(set.alipayCertPem)).toBe(getSN(set.alipayCertPem));
  });

  it('matches the SDK test vectors rebuilt from their issuer DN and serial', () => {
    // Issuer ...Class 1 R1 / serial 2020051862039D4090897BA4D51C2126 (protocols.md A8).
    expect(alipayCertSnFromPem(set.appCertPem)).toBe('866efef280dec9137a87d047ac446315');
    // Issuer ...Class 2 R1 / serial 20200514E63C2FE04D538716FE21358B.
    expect(alipayCertSnFromPem(set.alipayCertPem)).toBe('7513daaaa48aa3ba2e4018d84402479c');
  });

  it('computes alipay_root_cert_sn over the RSA roots only, as alipay-sdk getSN(isRoot) does', () => {
    const sn = alipayRootCertSn(set.rootBundlePem);
    expect(sn).toBe(getSN(set.rootBundlePem, true));
    const parts = sn.split('_');
    expect(parts).toHaveLength(2);
    // The first half of the SDK test bundle's published value: the RSA root
    // "Ant Financial Certification Authority R1", serial 1FCFA18D6A480D11.
    expect(parts[0]).toBe('687b59193f3f462dd5336e5abf83c5d8');
  });

  it("gives the published root-bundle value for the two RSA roots of Alipay's bundle", () => {
    // The second RSA root of Alipay's alipayRootCert.crt, rebuilt from its
    // issuer DN and serial (10C764E9…B396); the first is Ant R1 above.
    const itrus = shop.root({
      subject: '/C=CN/O=iTrusChina/OU=China Trust Network/CN=iTrusChina Class 2 Root CA - G3',
      serialHex: '10C764E9D560384212D9C08FD10E373FDD0FB396',
    });
    const second = alipayRootCertSn(itrus.certPem);
    expect(second).toBe(getSN(itrus.certPem, true));
    const first = alipayRootCertSn(set.rootBundlePem).split('_')[0];
    expect(`${first}_${second}`).toBe(
      '687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6',
    );
  });

  it('keeps the issuer values unescaped (commas, UTF-8) like the SDK', () => {
    const root = shop.root({
      subject:
        '/C=CN/ST=浙江省/L=杭州市/O=Example Co.,Ltd./OU=A+B/CN=Root "X"/emailAddress=ca@example.com',
      serialHex: '00FF01',
    });
    expect(alipayCertSn(pemCertificates(root.certPem)[0])).toBe(getSN(root.certPem));
    const leaf = shop.issue({
      issuer: root,
      subject: ANT_CLASS2_SUBJECT,
      subjectKeyPem: shop.rsaKey(),
      serialHex: '7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF',
    });
    expect(alipayCertSnFromPem(leaf)).toBe(getSN(leaf));
  });

  it('refuses a bundle without an RSA root and text without a certificate', () => {
    const ec = shop.root({ subject: '/C=CN/CN=EC only', serialHex: '01', keyPem: shop.ecKey() });
    expect(() => alipayRootCertSn(ec.certPem)).toThrow(/RSA/);
    expect(() => alipayCertSnFromPem('not a certificate')).toThrow(/no PEM certificate/);
  });
});
