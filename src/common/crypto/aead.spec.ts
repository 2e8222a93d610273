import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Aes } from 'wechatpay-axios-plugin';
import {
  AeadDecryptError,
  AeadKeyError,
  aeadAes256GcmDecrypt,
  aeadAes256GcmEncrypt,
  type AeadDecryptInput,
} from './aead';

// protocols.md D5.
const KEY = '0123456789abcdef0123456789abcdef';
const REALISTIC = {
  key: KEY,
  nonce: '0123456789ab',
  associatedData: 'transaction',
  plaintext: '{"out_trade_no":"T1","trade_state":"SUCCESS"}',
  ciphertext:
    '4ouITzeV7GmUYUbi3WteHWDS5e076h4ZReuqRrqM+N1PXV1boadmhiW9LEO2a7PGvKtw1AMKIESyCxKlSw==',
};
// wechatpay-axios-plugin tests/lib/aes.test.js: a 16-byte IV (WeChat's nonces are 12).
const AXIOS_PLUGIN = [
  {
    nonce: '0123456789abcdef',
    aad: 'world',
    plaintext: 'hello',
    ciphertext: 'APoZlYpivU3HjbAiB4CvW1rAFr8J',
  },
  { nonce: '0123456789abcdef', aad: '', plaintext: '', ciphertext: 'GvpmmdtYwexXIPhySs9Tlg==' },
];
// wechatpay-go utils/aes_test.go: its key is 16 bytes, so it is AES-128-GCM and not a
// WeChat APIv3 vector. aead.ts is AES-256 only; the vector shows that such a key is refused.
const WECHATPAY_GO = {
  key: 'testAPIv3Key0000',
  nonce: 'wCq51qZv4Yfg',
  associatedData: 'Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8',
  ciphertext: 'FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC',
};

function flipByte(b64: string, at: number): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[at < 0 ? bytes.length + at : at] ^= 0x01;
  return bytes.toString('base64');
}

function expectDecryptError(input: AeadDecryptInput): AeadDecryptError {
  let caught: unknown;
  let result: unknown;
  try {
    result = aeadAes256GcmDecrypt(input);
  } catch (error) {
    caught = error;
  }
  expect(result).toBeUndefined();
  expect(caught).toBeInstanceOf(AeadDecryptError);
  const message = (caught as Error).message;
  expect(message).toMatch(/^AEAD_AES_256_GCM decryption failed: /);
  expect(message).not.toContain(KEY);
  return caught as AeadDecryptError;
}

describe('aead (AEAD_AES_256_GCM)', () => {
  describe('D5 vectors', () => {
    it('decrypts the realistic 32-byte-key, 12-byte-nonce vector', () => {
      expect(aeadAes256GcmDecrypt(REALISTIC)).toBe(REALISTIC.plaintext);
    });

    it('encrypts the realistic vector to the expected ciphertext', () => {
      expect(aeadAes256GcmEncrypt(REALISTIC)).toBe(REALISTIC.ciphertext);
    });

    it.each(AXIOS_PLUGIN)(
      'reproduces the axios-plugin vector "$plaintext"/"$aad" both ways (16-byte IV)',
      ({ nonce, aad, plaintext, ciphertext }) => {
        expect(aeadAes256GcmEncrypt({ key: KEY, nonce, associatedData: aad, plaintext })).toBe(
          ciphertext,
        );
        expect(aeadAes256GcmDecrypt({ key: KEY, nonce, associatedData: aad, ciphertext })).toBe(
          plaintext,
        );
      },
    );

    it('treats absent, null and empty associated_data alike', () => {
      const { nonce, ciphertext } = AXIOS_PLUGIN[1];
      for (const associatedData of [undefined, null, '']) {
        expect(aeadAes256GcmDecrypt({ key: KEY, nonce, associatedData, ciphertext })).toBe('');
      }
    });

    it('takes the key as a string, a Buffer or a secret KeyObject', () => {
      for (const key of [KEY, Buffer.from(KEY), createSecretKey(Buffer.from(KEY))]) {
        expect(aeadAes256GcmDecrypt({ ...REALISTIC, key })).toBe(REALISTIC.plaintext);
      }
    });
  });

  describe('keys', () => {
    it('refuses the 16-byte wechatpay-go key (an AES-128 vector) with AeadKeyError', () => {
      expect(() => aeadAes256GcmDecrypt(WECHATPAY_GO)).toThrow(AeadKeyError);
      expect(() => aeadAes256GcmDecrypt(WECHATPAY_GO)).toThrow(
        'AEAD_AES_256_GCM key must be 32 bytes, got 16',
      );
    });

    it.each([
      ['31 bytes', KEY.slice(1)],
      ['33 bytes', `${KEY}0`],
      ['empty', ''],
      ['32 characters but 34 UTF-8 bytes', `${KEY.slice(2)}密`],
      ['a 32-byte hex string decoded to 16 bytes', Buffer.from(KEY, 'hex')],
      ['a 16-byte secret KeyObject', createSecretKey(randomBytes(16))],
    ])('refuses a key that is %s, for both directions', (_name, key) => {
      expect(() => aeadAes256GcmDecrypt({ ...REALISTIC, key })).toThrow(AeadKeyError);
      expect(() => aeadAes256GcmEncrypt({ ...REALISTIC, key })).toThrow(AeadKeyError);
    });

    it('refuses an asymmetric KeyObject', () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      expect(() => aeadAes256GcmDecrypt({ ...REALISTIC, key: privateKey })).toThrow(
        'must be a secret key',
      );
    });
  });

  describe('tampering', () => {
    it.each([
      ['another key', { key: 'abcdef0123456789abcdef0123456789' }],
      ['another nonce', { nonce: '0123456789ac' }],
      ['another associated_data', { associatedData: 'refund' }],
      ['no associated_data', { associatedData: undefined }],
      ['a flipped data byte', { ciphertext: flipByte(REALISTIC.ciphertext, 0) }],
      ['a flipped tag byte', { ciphertext: flipByte(REALISTIC.ciphertext, -1) }],
      [
        'a truncated tag',
        {
          ciphertext: Buffer.from(REALISTIC.ciphertext, 'base64')
            .subarray(0, -4)
            .toString('base64'),
        },
      ],
      [
        'data with the tag cut off',
        {
          ciphertext: Buffer.from(REALISTIC.ciphertext, 'base64')
            .subarray(0, -16)
            .toString('base64'),
        },
      ],
    ])('throws AeadDecryptError for %s, never garbage', (_name, change) => {
      expectDecryptError({ ...REALISTIC, ...change });
    });

    it.each([
      ['empty', ''],
      ['shorter than a tag', 'AAAA'],
      ['not base64', '!!!!'],
      ['URL-safe base64', REALISTIC.ciphertext.replace(/\+/g, '-').replace(/\//g, '_')],
      ['missing its padding', REALISTIC.ciphertext.replace(/=+$/, '')],
      [
        'broken by whitespace',
        `${REALISTIC.ciphertext.slice(0, 8)} ${REALISTIC.ciphertext.slice(8)}`,
      ],
    ])('throws AeadDecryptError for a ciphertext that is %s', (_name, ciphertext) => {
      expectDecryptError({ ...REALISTIC, ciphertext });
    });

    it('throws AeadDecryptError for an empty nonce or non-string fields', () => {
      expectDecryptError({ ...REALISTIC, nonce: '' });
      expectDecryptError({ ...REALISTIC, nonce: undefined as unknown as string });
      expectDecryptError({ ...REALISTIC, ciphertext: 42 as unknown as string });
      expectDecryptError({ ...REALISTIC, associatedData: {} as unknown as string });
    });

    it('refuses authenticated bytes that are not UTF-8', () => {
      const key = Buffer.from(KEY);
      // Encrypted straight with the plugin's AES-GCM so the plaintext can be any bytes.
      const ciphertext = Aes.AesGcm.encrypt(
        Buffer.from([0xc3, 0x28]) as unknown as string,
        key,
        '0123456789ab',
        '',
      );
      expect(expectDecryptError({ key, nonce: '0123456789ab', ciphertext }).message).toContain(
        'not UTF-8',
      );
    });
  });

  describe('round trips', () => {
    it('decrypts what it encrypts: JSON, Chinese text, a PEM, nothing', () => {
      const key = randomBytes(32);
      for (const plaintext of [
        REALISTIC.plaintext,
        '{"summary":"支付成功","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}',
        '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
        '',
      ]) {
        const nonce = randomBytes(6).toString('hex');
        const ciphertext = aeadAes256GcmEncrypt({
          key,
          nonce,
          associatedData: 'certificate',
          plaintext,
        });
        expect(Buffer.from(ciphertext, 'base64').length).toBe(
          Buffer.byteLength(plaintext, 'utf8') + 16,
        );
        expect(
          aeadAes256GcmDecrypt({ key, nonce, associatedData: 'certificate', ciphertext }),
        ).toBe(plaintext);
      }
    });

    it('agrees with wechatpay-axios-plugin Aes.AesGcm in both directions', () => {
      const key = Buffer.from(KEY);
      const nonce = 'Kj7QIyUiYx1q';
      const plaintext = '{"mchid":"1230000109","amount":{"total":8880}}';
      const ours = aeadAes256GcmEncrypt({ key, nonce, associatedData: 'transaction', plaintext });
      expect(Aes.AesGcm.decrypt(ours, key, nonce, 'transaction')).toBe(plaintext);
      const theirs = Aes.AesGcm.encrypt(plaintext, key, nonce, 'transaction');
      expect(theirs).toBe(ours);
      expect(
        aeadAes256GcmDecrypt({ key, nonce, associatedData: 'transaction', ciphertext: theirs }),
      ).toBe(plaintext);
    });

    it('refuses an empty nonce when encrypting', () => {
      expect(() => aeadAes256GcmEncrypt({ ...REALISTIC, nonce: '' })).toThrow(TypeError);
    });
  });
});
