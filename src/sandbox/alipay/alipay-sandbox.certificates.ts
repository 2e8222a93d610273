/**
 * Sandbox certificate mode (ALIPAY_SANDBOX_CERT_MODE): the three files a
 * merchant downloads from Alipay in public-key-certificate mode, issued here
 * for the sandbox's own keys: a root bundle (an RSA root the SNs count and an
 * EC root they must skip), an app certificate for the sandbox app key and an
 * "Alipay public" certificate for the sandbox gateway key. protocols.md A8.
 *
 * Made once per data directory with the openssl command line (no X.509 writer
 * is among paygate's dependencies; this is sandbox-only). The SNs the gateway
 * expects are computed from the names and serials chosen here, not read back
 * from the files, so they check paygate's reading of the certificates.
 */
import { execFileSync } from 'node:child_process';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlipaySandboxKeys } from '../sandbox-keys';

export interface AlipaySandboxCertificateFiles {
  appCertFile: string;
  alipayCertFile: string;
  rootCertFile: string;
}

export interface AlipaySandboxCertificateSns {
  appCertSn: string;
  rootCertSn: string;
  alipayCertSn: string;
}

type Dn = ReadonlyArray<readonly [string, string]>;

const ROOT_DN: Dn = [
  ['C', 'CN'],
  ['O', 'paygate sandbox'],
  ['OU', 'Certification Authority'],
  ['CN', 'paygate sandbox Alipay Root CA R1'],
];
const EC_ROOT_DN: Dn = [
  ['C', 'CN'],
  ['O', 'paygate sandbox'],
  ['OU', 'Certification Authority'],
  ['CN', 'paygate sandbox Alipay Root CA E1'],
];

export function alipaySandboxCertificateDir(dataDir: string): string {
  return join(dataDir, 'sandbox', 'alipay-certs');
}

function files(dir: string, appId: string): AlipaySandboxCertificateFiles {
  return {
    appCertFile: join(dir, `appCertPublicKey_${appId}.crt`),
    alipayCertFile: join(dir, 'alipayCertPublicKey_RSA2.crt'),
    rootCertFile: join(dir, 'alipayRootCert.crt'),
  };
}

/** The files under `<dataDir>/sandbox/alipay-certs/`, issued on first use. */
export function ensureAlipaySandboxCertificates(
  dataDir: string,
  keys: AlipaySandboxKeys,
): AlipaySandboxCertificateFiles {
  const dir = alipaySandboxCertificateDir(dataDir);
  if (existsSync(join(dir, 'sns.json')) && !certifiesKeys(files(dir, keys.appId), keys)) {
    // The sandbox keys were made anew (their file was deleted): so are the certificates.
    rmSync(dir, { recursive: true, force: true });
  }
  if (!existsSync(join(dir, 'sns.json'))) issue(dir, keys);
  return files(dir, keys.appId);
}

function certifiesKeys(issued: AlipaySandboxCertificateFiles, keys: AlipaySandboxKeys): boolean {
  try {
    const certKey = (file: string) => new X509Certificate(readFileSync(file)).publicKey;
    return (
      certKey(issued.appCertFile).equals(createPublicKey(keys.appPublicKeyPem)) &&
      certKey(issued.alipayCertFile).equals(createPublicKey(keys.gatewayPublicKeyPem))
    );
  } catch {
    return false;
  }
}

/** What the sandbox gateway expects in requests and writes into answers. */
export function readAlipaySandboxCertificateSns(dataDir: string): AlipaySandboxCertificateSns {
  return JSON.parse(
    readFileSync(join(alipaySandboxCertificateDir(dataDir), 'sns.json'), 'utf8'),
  ) as AlipaySandboxCertificateSns;
}

/** Alipay's SN: md5 of the issuer DN written most specific first, then the decimal serial. */
function sandboxSn(issuer: Dn, serialHex: string): string {
  const dn = [...issuer]
    .reverse()
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return createHash('md5')
    .update(dn + BigInt(`0x${serialHex}`).toString(10), 'utf8')
    .digest('hex');
}

/** 16 random bytes, positive. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x10;
  return bytes.toString('hex');
}

const subject = (dn: Dn): string => dn.map(([k, v]) => `/${k}=${v}`).join('');

/**
 * Issued into a private directory and then renamed into place, so that
 * instances starting together on one data directory all end up with the
 * same, complete set.
 */
function issue(dir: string, keys: AlipaySandboxKeys): void {
  const work = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  mkdirSync(work, { recursive: true, mode: 0o700 });
  try {
    const path = (name: string) => join(work, name);
    const openssl = (args: string[]) =>
      execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    const rootSerial = serial();
    const ecSerial = serial();
    const appSerial = serial();
    const alipaySerial = serial();
    const ecKey = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
    const rootKey = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
    writeFileSync(path('root.key'), rootKey, { mode: 0o600 });
    writeFileSync(path('ec-root.key'), ecKey, { mode: 0o600 });
    writeFileSync(path('app.key'), keys.appPrivateKeyPem, { mode: 0o600 });
    writeFileSync(path('alipay.key'), keys.gatewayPrivateKeyPem, { mode: 0o600 });
    const selfSigned = (key: string, dn: Dn, serialHex: string, out: string) =>
      openssl([
        'req', '-x509', '-new', '-key', key, '-subj', subject(dn), '-set_serial',
        `0x${serialHex}`, '-days', '3650', '-sha256', '-out', out,
      ]); // prettier-ignore
    const leaf = (key: string, dn: Dn, serialHex: string, out: string) => {
      openssl(['req', '-new', '-key', key, '-subj', subject(dn), '-out', `${out}.csr`]);
      openssl([
        'x509', '-req', '-in', `${out}.csr`, '-CA', 'root.crt', '-CAkey', 'root.key',
        '-set_serial', `0x${serialHex}`, '-days', '3650', '-sha256', '-out', out,
      ]); // prettier-ignore
    };
    selfSigned('root.key', ROOT_DN, rootSerial, 'root.crt');
    selfSigned('ec-root.key', EC_ROOT_DN, ecSerial, 'ec-root.crt');
    const appDn: Dn = [['C', 'CN'], ['O', 'paygate sandbox merchant'], ['OU', 'Alipay'], ['CN', keys.appId]]; // prettier-ignore
    const alipayDn: Dn = [['C', 'CN'], ['O', 'paygate sandbox Alipay'], ['OU', 'Alipay'], ['CN', 'paygate sandbox Alipay']]; // prettier-ignore
    leaf('app.key', appDn, appSerial, 'app.crt');
    leaf('alipay.key', alipayDn, alipaySerial, 'alipay.crt');

    const target = files(work, keys.appId);
    writeFileSync(target.appCertFile, readFileSync(path('app.crt')));
    writeFileSync(target.alipayCertFile, readFileSync(path('alipay.crt')));
    // EC root first: certificate-mode clients must skip it.
    writeFileSync(
      target.rootCertFile,
      `${readFileSync(path('ec-root.crt'), 'utf8')}${readFileSync(path('root.crt'), 'utf8')}`,
    );
    for (const name of ['root.key', 'ec-root.key', 'app.key', 'alipay.key']) rmSync(path(name));
    const sns: AlipaySandboxCertificateSns = {
      appCertSn: sandboxSn(ROOT_DN, appSerial),
      rootCertSn: sandboxSn(ROOT_DN, rootSerial),
      alipayCertSn: sandboxSn(ROOT_DN, alipaySerial),
    };
    writeFileSync(path('sns.json'), `${JSON.stringify(sns, null, 2)}\n`);
    try {
      renameSync(work, dir);
    } catch (error) {
      // Another instance published its set first: use that one.
      if (!existsSync(join(dir, 'sns.json'))) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
