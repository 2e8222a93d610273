/**
 * Certificates shaped like the ones Alipay issues (a root, an app certificate,
 * an "Alipay public" certificate, a root bundle with non-RSA roots in it), made
 * with the openssl command line in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ANT_CLASS2_SUBJECT =
  '/C=CN/O=Ant Financial/OU=Certification Authority/CN=Ant Financial Certification Authority Class 2 R1';

export class CertificateWorkshop {
  readonly dir = mkdtempSync(join(tmpdir(), 'paygate-certs-'));
  private counter = 0;

  private path(name: string): string {
    return join(this.dir, `${name}-${++this.counter}`);
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A fresh RSA-2048 private key as PKCS#8 PEM. */
  rsaKey(): string {
    return generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
  }

  ecKey(): string {
    return generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
  }

  /** Self-signed root: `subject` in openssl's `/C=CN/O=…` form, serial in hex. */
  root(opts: { subject: string; serialHex: string; keyPem?: string; days?: number }): {
    certPem: string;
    keyPem: string;
  } {
    const keyPem = opts.keyPem ?? this.rsaKey();
    const keyFile = this.path('root.key');
    const certFile = this.path('root.crt');
    writeFileSync(keyFile, keyPem);
    this.openssl([
      'req',
      '-x509',
      '-new',
      '-utf8',
      '-key',
      keyFile,
      '-subj',
      opts.subject,
      '-set_serial',
      `0x${opts.serialHex}`,
      '-days',
      String(opts.days ?? 3650),
      '-sha256',
      '-out',
      certFile,
    ]);
    return { certPem: readFileSync(certFile, 'utf8'), keyPem };
  }

  /** A certificate for `subjectKeyPem`'s public key, signed by the issuer. */
  issue(opts: {
    issuer: { certPem: string; keyPem: string };
    subject: string;
    subjectKeyPem: string;
    serialHex: string;
    /** Negative: already expired. */
    days?: number;
  }): string {
    const caCert = this.path('ca.crt');
    const caKey = this.path('ca.key');
    const key = this.path('leaf.key');
    const csr = this.path('leaf.csr');
    const out = this.path('leaf.crt');
    writeFileSync(caCert, opts.issuer.certPem);
    writeFileSync(caKey, opts.issuer.keyPem);
    writeFileSync(key, opts.subjectKeyPem);
    this.openssl(['req', '-new', '-utf8', '-key', key, '-subj', opts.subject, '-out', csr]);
    this.openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-set_serial',
      `0x${opts.serialHex}`,
      '-days',
      String(opts.days ?? 3650),
      '-sha256',
      '-out',
      out,
    ]);
    return readFileSync(out, 'utf8');
  }

  /** Writes text into the workshop directory and returns the file's path. */
  file(name: string, content: string): string {
    const file = join(this.dir, name);
    writeFileSync(file, content);
    return file;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * What a merchant downloads from Alipay: app certificate (for `appKeyPem`),
 * Alipay public certificate (for `alipayKeyPem`) and a root bundle of an EC
 * root and two RSA roots, written to files.
 */
export function alipayCertificateSet(
  shop: CertificateWorkshop,
  keys: { appKeyPem: string; alipayKeyPem: string; appCertDays?: number },
): {
  appCertFile: string;
  alipayCertFile: string;
  rootCertFile: string;
  appCertPem: string;
  alipayCertPem: string;
  rootBundlePem: string;
} {
  const rsaRoot = shop.root({
    subject:
      '/C=CN/O=Ant Financial/OU=Certification Authority/CN=Ant Financial Certification Authority R1',
    serialHex: '1FCFA18D6A480D11',
  });
  const ecRoot = shop.root({
    subject:
      '/C=CN/O=Ant Financial/OU=Certification Authority/CN=Ant Financial Certification Authority E1',
    serialHex: '2A3F1E',
    keyPem: shop.ecKey(),
  });
  const secondRoot = shop.root({
    subject:
      '/C=CN/O=iTrusChina Co.,Ltd./OU=China Trust Network/CN=iTrusChina Class 2 Root CA - G3',
    serialHex: '10C764E9D560384212D9C08FD10E373FDD0FB396',
  });
  const classOneKey = shop.rsaKey();
  const classOneCa = {
    certPem: shop.issue({
      issuer: rsaRoot,
      subject:
        '/C=CN/O=Ant Financial/OU=Certification Authority/CN=Ant Financial Certification Authority Class 1 R1',
      subjectKeyPem: classOneKey,
      serialHex: '0101',
    }),
    keyPem: classOneKey,
  };
  const classTwoKey = shop.rsaKey();
  const classTwoCa = {
    certPem: shop.issue({
      issuer: rsaRoot,
      subject: ANT_CLASS2_SUBJECT,
      subjectKeyPem: classTwoKey,
      serialHex: '0102',
    }),
    keyPem: classTwoKey,
  };
  const appCertPem = shop.issue({
    issuer: classOneCa,
    subject: '/C=CN/O=杭州某某科技有限公司/OU=Alipay/CN=2021000000000001',
    subjectKeyPem: keys.appKeyPem,
    serialHex: '2020051862039D4090897BA4D51C2126',
    days: keys.appCertDays,
  });
  const alipayCertPem = shop.issue({
    issuer: classTwoCa,
    subject: '/C=CN/O=支付宝(中国)网络技术有限公司/OU=Alipay/CN=支付宝(中国)网络技术有限公司',
    subjectKeyPem: keys.alipayKeyPem,
    serialHex: '20200514E63C2FE04D538716FE21358B',
  });
  const rootBundlePem = [ecRoot.certPem, rsaRoot.certPem, secondRoot.certPem].join('');
  return {
    appCertFile: shop.file('appCertPublicKey_2021000000000001.crt', appCertPem),
    alipayCertFile: shop.file('alipayCertPublicKey_RSA2.crt', alipayCertPem),
    rootCertFile: shop.file('alipayRootCert.crt', rootBundlePem),
    appCertPem,
    alipayCertPem,
    rootBundlePem,
  };
}
