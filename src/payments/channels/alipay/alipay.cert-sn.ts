/**
 * Alipay public-key-certificate mode (公钥证书模式): the certificate SNs sent as
 * app_cert_sn / alipay_root_cert_sn and answered as alipay_cert_sn, computed
 * as the official SDKs do (Node SDK antcertutil.ts getCertSN / getRootCertSN).
 * Our summary: protocols.md A8. Pure functions over certificate bytes.
 */
import { createHash } from 'node:crypto';
import { pemCertificates, readX509Fields } from '../../../common/crypto/x509-fields';

/**
 * The attribute names the SDK writes; its X.509 reader names only these, so
 * these are the only ones an Alipay-issued DN can carry for the SN to agree.
 */
const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '1.2.840.113549.1.9.1': 'E',
};

/** sha1WithRSA, sha256WithRSA, …: the root bundle's SM2 and ECDSA roots are left out. */
const RSA_SIGNATURE_PREFIX = '1.2.840.113549.1.1.';

export class AlipayCertificateError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AlipayCertificateError';
  }
}

/**
 * md5 hex of the issuer DN, most specific attribute first (`CN=…,OU=…,O=…,C=…`,
 * the reverse of the usual encoding order, values unescaped), followed by the
 * serial number in decimal.
 */
export function alipayCertSn(der: Buffer): string {
  const { issuer, serialNumberHex } = readX509Fields(der);
  const dn = [...issuer]
    .reverse()
    .map((attribute) => {
      const name = SHORT_NAMES[attribute.oid];
      if (name === undefined) {
        throw new AlipayCertificateError(
          `issuer attribute ${attribute.oid} has no name in Alipay's SN rule`,
        );
      }
      return `${name}=${attribute.value}`;
    })
    .join(',');
  const serialDecimal = BigInt(`0x${serialNumberHex}`).toString(10);
  return createHash('md5')
    .update(dn + serialDecimal, 'utf8')
    .digest('hex');
}

/** The SN of the one certificate in a PEM file (the app or Alipay public certificate). */
export function alipayCertSnFromPem(pem: string): string {
  const certificates = pemCertificates(pem);
  if (certificates.length === 0) throw new AlipayCertificateError('no PEM certificate found');
  return alipayCertSn(certificates[0]);
}

/** Whether a root of the bundle counts for alipay_root_cert_sn. */
export function isRsaSigned(der: Buffer): boolean {
  return readX509Fields(der).signatureAlgorithmOid.startsWith(RSA_SIGNATURE_PREFIX);
}

/** alipay_root_cert_sn: the SNs of the bundle's RSA-signed roots, in file order, joined by `_`. */
export function alipayRootCertSn(bundlePem: string): string {
  const certificates = pemCertificates(bundlePem);
  if (certificates.length === 0) throw new AlipayCertificateError('no PEM certificate found');
  const sns = certificates.filter(isRsaSigned).map(alipayCertSn);
  if (sns.length === 0) throw new AlipayCertificateError('holds no RSA-signed root certificate');
  return sns.join('_');
}
