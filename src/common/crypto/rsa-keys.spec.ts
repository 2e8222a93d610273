import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
} from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KeyFormatError,
  generateRsaKeyPairPem,
  parsePrivateKey,
  parsePublicKey,
  rsaSha256Sign,
  rsaSha256Verify,
} from './rsa-keys';

// protocols.md D0: wechatpay-go's published TESTING KEY, relabelled.
const D0_PRIVATE_PEM = `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd
fL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7
6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1
FSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR
0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW
3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm
LDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km
OFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4
C9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN
0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF
+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y
gEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam
AZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi
hhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2
6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ
WtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT
D1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/
aSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2
ZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V
YeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV
BgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC
EY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h
Tq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq
+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/
jWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe
BDa+8mDLkWu5nHEhOxy2JJZl
-----END PRIVATE KEY-----
`;

const D0_PUBLIC_PEM = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2VCTd91fnUn73Xy9DLvt
/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXagHQ4vGeZN0yqm++rDsGK+
U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOmDeJf2vg6byms9RUipiq4
SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B834uxl1zNLYQCrkdBzb8oU
xwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGfy8wus7hwKz6clt3Whmmd
a7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtkaSef4FdEEgEXJiw0VAJT
8wIDAQAB
-----END PUBLIC KEY-----
`;

// protocols.md D1: SHA256withRSA(D0, "source"), published by wechatpay-go.
const D1_SIGNATURE =
  'BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==';

const pemBody = (pem: string): string => pem.replace(/-----[^-]+-----|\s/g, '');

/** Every encoding of one key pair that merchants paste into env vars. */
function encodingsOf(privatePem: string) {
  const key = createPrivateKey(privatePem);
  const pub = createPublicKey(key);
  const pkcs8Pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  const pkcs1Pem = key.export({ type: 'pkcs1', format: 'pem' }) as string;
  const spkiPem = pub.export({ type: 'spki', format: 'pem' }) as string;
  const pkcs1PubPem = pub.export({ type: 'pkcs1', format: 'pem' }) as string;
  return {
    private: {
      pkcs8Pem,
      pkcs1Pem,
      pkcs8Bare: pemBody(pkcs8Pem),
      pkcs1Bare: pemBody(pkcs1Pem),
    },
    public: { spkiPem, pkcs1PubPem, spkiBare: pemBody(spkiPem) },
  };
}

function expectKeyFormatError(
  fn: () => unknown,
  variable: string,
  secret?: string,
): KeyFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(KeyFormatError);
  const error = caught as KeyFormatError;
  expect(error.variable).toBe(variable);
  expect(error.message.startsWith(`${variable}: `)).toBe(true);
  expect(error.message).toMatch(/expected|required/);
  if (secret) {
    // No run of 16 input characters (or the whole input, when shorter) may surface.
    const compact = secret.replace(/\s/g, '');
    const width = Math.min(16, compact.length);
    const serialised = `${error.message} ${JSON.stringify(error)} ${String(error.stack)}`;
    for (let i = 0; width >= 3 && i + width <= compact.length; i += 4) {
      expect(serialised).not.toContain(compact.slice(i, i + width));
    }
  }
  return error;
}

describe('rsa-keys', () => {
  describe('D1 vector', () => {
    it('signs "source" with the D0 key exactly as published', () => {
      expect(rsaSha256Sign('source', parsePrivateKey(D0_PRIVATE_PEM, 'D0'))).toBe(D1_SIGNATURE);
    });

    it('verifies the published signature with the derived public key, and nothing else', () => {
      const pub = parsePublicKey(D0_PUBLIC_PEM, 'D0_PUB');
      expect(rsaSha256Verify('source', D1_SIGNATURE, pub)).toBe(true);
      expect(rsaSha256Verify('Source', D1_SIGNATURE, pub)).toBe(false);
    });
  });

  describe('parsePrivateKey', () => {
    const d0 = encodingsOf(D0_PRIVATE_PEM);

    it.each(Object.entries(d0.private))(
      '%s of the same key gives the identical D1 signature',
      (_name, text) => {
        expect(rsaSha256Sign('source', parsePrivateKey(text, 'APP_KEY'))).toBe(D1_SIGNATURE);
      },
    );

    it('tolerates the layouts env files produce', () => {
      const bare = d0.private.pkcs1Bare;
      const layouts = [
        bare.replace(/(.{64})/g, '$1\n'),
        bare.replace(/(.{76})/g, '$1\r\n'),
        `  ${bare}  \n`,
        d0.private.pkcs8Pem.replace(/\n/g, '\\n'),
        d0.private.pkcs1Pem.replace(/\n/g, '\r\n'),
        d0.private.pkcs8Pem.replace(/\n(?!-----END)/g, ' '),
      ];
      for (const text of layouts) {
        expect(rsaSha256Sign('source', parsePrivateKey(text, 'APP_KEY'))).toBe(D1_SIGNATURE);
      }
    });

    it.each([
      ['empty', ''],
      ['whitespace', '   \n'],
      ['not base64', 'this is not a key!'],
      ['truncated base64', d0.private.pkcs8Bare.slice(0, 400)],
      ['corrupted DER', `MIIE${'A'.repeat(1600)}`],
      ['PEM with the wrong label', D0_PRIVATE_PEM.replace(/PRIVATE KEY/g, 'TESTING KEY')],
      ['PEM without footer', D0_PRIVATE_PEM.replace(/-----END[^\n]+\n/, '')],
      ['PEM with a mangled body', D0_PRIVATE_PEM.replace('MIIEvgIBADAN', 'MIIEvgIB!DAN')],
      ['a public key', D0_PUBLIC_PEM],
      ['a bare public key', pemBody(D0_PUBLIC_PEM)],
    ])('refuses %s without echoing it', (_name, text) => {
      expectKeyFormatError(
        () => parsePrivateKey(text, 'ALIPAY_APP_PRIVATE_KEY'),
        'ALIPAY_APP_PRIVATE_KEY',
        text,
      );
    });

    it('says so when a public key sits in the private key variable', () => {
      const error = expectKeyFormatError(
        () => parsePrivateKey(pemBody(D0_PUBLIC_PEM), 'ALIPAY_APP_PRIVATE_KEY'),
        'ALIPAY_APP_PRIVATE_KEY',
      );
      expect(error.message).toContain('public key');
    });

    it('refuses a 1024-bit key in every encoding', () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const weak = encodingsOf(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
      for (const text of Object.values(weak.private)) {
        const error = expectKeyFormatError(() => parsePrivateKey(text, 'WEAK'), 'WEAK', text);
        expect(error.message).toContain('1024-bit');
      }
      for (const text of Object.values(weak.public)) {
        expectKeyFormatError(() => parsePublicKey(text, 'WEAK_PUB'), 'WEAK_PUB', text);
      }
    });

    it('refuses keys that are not RSA', () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const ecPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      expect(
        expectKeyFormatError(() => parsePrivateKey(ecPem, 'EC'), 'EC', ecPem).message,
      ).toContain('ec key');
      const ecPub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
      expectKeyFormatError(() => parsePublicKey(ecPub, 'EC_PUB'), 'EC_PUB', ecPub);
    });

    it('refuses a passphrase-protected key', () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const encrypted = privateKey.export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'secret',
      }) as string;
      expectKeyFormatError(() => parsePrivateKey(encrypted, 'ENC'), 'ENC', encrypted);
    });
  });

  describe('parsePublicKey', () => {
    const d0 = encodingsOf(D0_PRIVATE_PEM);

    it.each(Object.entries(d0.public))('%s verifies the D1 signature', (_name, text) => {
      expect(rsaSha256Verify('source', D1_SIGNATURE, parsePublicKey(text, 'PUB'))).toBe(true);
    });

    // openssl is the simplest honest source of a certificate; images without it skip visibly.
    const opensslCert = (): string | null => {
      const dir = mkdtempSync(join(tmpdir(), 'rsa-keys-'));
      try {
        const keyFile = join(dir, 'key.pem');
        writeFileSync(keyFile, D0_PRIVATE_PEM);
        return execFileSync(
          'openssl',
          ['req', '-new', '-x509', '-key', keyFile, '-subj', '/CN=paygate test', '-days', '1'],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
        );
      } catch {
        return null;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const certPem = opensslCert();

    (certPem ? it : it.skip)('takes the public key out of a certificate, PEM or bare DER', () => {
      const pem = certPem as string;
      expect(new X509Certificate(pem).subject).toContain('paygate test');
      for (const text of [pem, pemBody(pem)]) {
        expect(rsaSha256Verify('source', D1_SIGNATURE, parsePublicKey(text, 'CERT'))).toBe(true);
      }
    });

    it.each([
      ['a PKCS#8 private key PEM', D0_PRIVATE_PEM],
      ['a bare PKCS#8 private key', pemBody(D0_PRIVATE_PEM)],
      ['a bare PKCS#1 private key', encodingsOf(D0_PRIVATE_PEM).private.pkcs1Bare],
    ])('refuses %s and does not leak it', (_name, text) => {
      const error = expectKeyFormatError(
        () => parsePublicKey(text, 'ALIPAY_PUBLIC_KEY'),
        'ALIPAY_PUBLIC_KEY',
        text,
      );
      expect(error.message).toContain('private key');
    });

    it.each([
      ['empty', ''],
      ['garbage', '%%%'],
      ['truncated', pemBody(D0_PUBLIC_PEM).slice(0, 200)],
      ['a PEM of another kind', '-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----'],
    ])('refuses %s', (_name, text) => {
      expectKeyFormatError(
        () => parsePublicKey(text, 'ALIPAY_PUBLIC_KEY'),
        'ALIPAY_PUBLIC_KEY',
        text,
      );
    });
  });

  describe('rsaSha256Verify', () => {
    const pub = parsePublicKey(D0_PUBLIC_PEM, 'PUB');

    it.each([
      ['empty', ''],
      ['not base64', '!!!!'],
      ['URL-safe alphabet', D1_SIGNATURE.replace(/\+/g, '-').replace(/\//g, '_')],
      ['missing padding', D1_SIGNATURE.replace(/=+$/, '')],
      ['too short', D1_SIGNATURE.slice(4)],
      ['too long', `AAAA${D1_SIGNATURE}`],
      ['embedded whitespace', `${D1_SIGNATURE.slice(0, 100)}\n${D1_SIGNATURE.slice(100)}`],
      ['one flipped byte', `C${D1_SIGNATURE.slice(1)}`],
    ])('returns false for a signature that is %s', (_name, signature) => {
      expect(rsaSha256Verify('source', signature, pub)).toBe(false);
    });

    it('returns false rather than throwing on a non-string signature', () => {
      expect(rsaSha256Verify('source', undefined as unknown as string, pub)).toBe(false);
    });
  });

  describe('generateRsaKeyPairPem', () => {
    it('makes a fresh 2048-bit PKCS#8/SPKI pair that signs and verifies', () => {
      const { privateKeyPem, publicKeyPem } = generateRsaKeyPairPem();
      expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
      const key = parsePrivateKey(privateKeyPem, 'GEN');
      expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
      const signature = rsaSha256Sign('中文 payload', key);
      expect(
        rsaSha256Verify('中文 payload', signature, parsePublicKey(publicKeyPem, 'GEN_PUB')),
      ).toBe(true);
      expect(rsaSha256Verify('中文 payload', signature, parsePublicKey(D0_PUBLIC_PEM, 'D0'))).toBe(
        false,
      );
      expect(generateRsaKeyPairPem().privateKeyPem).not.toBe(privateKeyPem);
    });
  });
});
