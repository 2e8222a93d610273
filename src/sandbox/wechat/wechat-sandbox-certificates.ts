/**
 * The simulated WeChat Pay's platform certificates (protocols.md C2,
 * "平台证书"), used when the sandbox runs in certificate mode
 * (WECHAT_SANDBOX_CERT_MODE=true): answers and notifications are signed with
 * the newest certificate's key and carry its serial in Wechatpay-Serial; GET
 * /v3/certificates lists every certificate not yet expired, encrypted under the
 * APIv3 key. A rotation issues a new certificate (new key, new serial); the old
 * one stays listed until it expires. Kept in
 * `<dataDir>/sandbox/wechat-platform-certificates.json` so a restart signs with
 * the same one. Without certificate mode the sandbox signs with its WeChat Pay
 * public key (PUB_KEY_ID_…), as before.
 *
 * node:crypto cannot issue X.509 certificates, so the sandbox (and only the
 * sandbox) asks the openssl command line for them.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { X509Certificate, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AEAD_AES_256_GCM, aeadAes256GcmEncrypt } from '../../common/crypto/aead';
import { formatRfc3339Beijing } from './wechat-sandbox.time';
import {
  WECHAT_SANDBOX_SETTINGS,
  WechatSandboxCredentials,
  type WechatSandboxSettings,
} from './wechat-sandbox.settings';

/** Platform certificates are issued for five years. */
const VALID_DAYS = 1825;

interface StoredCertificate {
  serial: string;
  certificatePem: string;
  privateKeyPem: string;
}

export interface SandboxSigningKey {
  privateKey: KeyObject;
  /** Wechatpay-Serial: a platform certificate serial (upper-case hex) or the PUB_KEY_ID. */
  serial: string;
}

@Injectable()
export class WechatSandboxCertificates {
  private readonly logger = new Logger('WechatSandbox');
  private readonly file: string;
  private certificates: StoredCertificate[] = [];
  /** Told by the control API: GET /v3/certificates drops the connection. */
  private down: boolean;

  constructor(
    @Inject(WECHAT_SANDBOX_SETTINGS) private readonly settings: WechatSandboxSettings,
    private readonly credentials: WechatSandboxCredentials,
  ) {
    this.file = join(settings.dataDir, 'sandbox', 'wechat-platform-certificates.json');
    this.down = settings.certificatesDown === true;
    if (settings.certMode) {
      this.certificates = this.load();
      if (this.certificates.length === 0) this.rotate();
    }
  }

  get certMode(): boolean {
    return this.settings.certMode === true;
  }

  /** The key answers and notifications are signed with now, and the serial to send. */
  current(): SandboxSigningKey {
    if (!this.certMode) {
      return {
        privateKey: this.credentials.platformPrivateKey,
        serial: this.credentials.platformPublicKeyId,
      };
    }
    const newest = this.certificates[this.certificates.length - 1];
    return { privateKey: createPrivateKey(newest.privateKeyPem), serial: newest.serial };
  }

  /** Issues a new certificate (new key, new serial) and signs with it from now on. */
  rotate(): { serial: string; listed: string[] } {
    const issued = issueCertificate(this.credentials.mchId);
    this.certificates.push(issued);
    this.save();
    this.logger.log(`platform certificate ${issued.serial} issued`);
    return { serial: issued.serial, listed: this.listed().map((c) => c.serial) };
  }

  setDown(down: boolean): void {
    this.down = down;
  }

  get isDown(): boolean {
    return this.down;
  }

  /** The body of GET /v3/certificates: every certificate still valid, encrypted. */
  listing(): { data: Record<string, unknown>[] } {
    return {
      data: this.listed().map((c) => {
        const x509 = new X509Certificate(c.certificatePem);
        const nonce = randomBytes(6).toString('hex');
        return {
          serial_no: c.serial,
          effective_time: formatRfc3339Beijing(new Date(x509.validFrom)),
          expire_time: formatRfc3339Beijing(new Date(x509.validTo)),
          encrypt_certificate: {
            algorithm: AEAD_AES_256_GCM,
            nonce,
            associated_data: 'certificate',
            ciphertext: aeadAes256GcmEncrypt({
              key: this.credentials.apiV3Key,
              nonce,
              associatedData: 'certificate',
              plaintext: c.certificatePem,
            }),
          },
        };
      }),
    };
  }

  private listed(): StoredCertificate[] {
    const now = Date.now();
    return this.certificates.filter(
      (c) => Date.parse(new X509Certificate(c.certificatePem).validTo) > now,
    );
  }

  private load(): StoredCertificate[] {
    if (!existsSync(this.file)) return [];
    return JSON.parse(readFileSync(this.file, 'utf8')) as StoredCertificate[];
  }

  private save(): void {
    mkdirSync(join(this.settings.dataDir, 'sandbox'), { recursive: true });
    writeFileSync(this.file, JSON.stringify(this.certificates, null, 2), { mode: 0o600 });
  }
}

/** A self-signed RSA 2048 certificate with a random 20-byte serial, as WeChat's look. */
function issueCertificate(mchId: string): StoredCertificate {
  // A first byte in 0x10…0x7f keeps the serial positive and all 40 hex digits significant.
  const serialBytes = randomBytes(20);
  serialBytes[0] = 0x10 + (serialBytes[0] % 0x70);
  const serial = serialBytes.toString('hex').toUpperCase();
  const dir = mkdtempSync(join(tmpdir(), 'paygate-wxcert-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        String(VALID_DAYS),
        '-set_serial',
        `0x${serial}`,
        '-subj',
        `/C=CN/O=Tenpay.com sandbox/OU=${mchId}/CN=Tenpay.com sandbox platform certificate`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return {
      serial,
      certificatePem: readFileSync(certFile, 'utf8'),
      privateKeyPem: readFileSync(keyFile, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
