import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Decorator, Formatter, Rsa } from 'wechatpay-axios-plugin';
import { parsePrivateKey, rsaSha256Sign, rsaSha256Verify } from '../../../common/crypto/rsa-keys';
import {
  appPaySignMessage,
  appPayParams,
  authorizationHeader,
  canonicalUrlOf,
  jsapiPayParams,
  jsapiPaySignMessage,
  requestSignatureMessage,
  responseSignatureMessage,
  unixSeconds,
  verifyWechatSignature,
  type WechatSignatureInput,
} from './wechat-v3.signer';

// protocols.md D0 (wechatpay-go's published test key).
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
-----END PRIVATE KEY-----`;

// protocols.md D1: SHA256withRSA(D0, "source"), published by wechatpay-go.
const D1_SIGNATURE =
  'BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==';

// protocols.md D2: the two WeChat v3 request vectors.
const D2_TIMESTAMP = 1704081600;
const D2_NONCE = '5K8264ILTKCH16CQ2502SI8ZNMTM67VS';
const D2_GET = {
  method: 'GET',
  canonicalUrl: '/v3/pay/transactions/out-trade-no/T20240101001?mchid=1230000109',
  body: '',
  message:
    'GET\n/v3/pay/transactions/out-trade-no/T20240101001?mchid=1230000109\n1704081600\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n\n',
  signature:
    'vsO64GTlv0DXHy0doBIBGgqE1bSwoc8kqfj4K0orJPO3xaZNFh7GH7wqZk+Bi9/Z3JxV27H5pHszw9mtzFunqufUW/CZAFoUmjBbY3yXl/vOnL57l8XFD3YCIW7Vq+E61qPex93PS0Sqf76rJ5Xek4c5O2E5SCMoORZvIYzkbJhquba1/n4frzkZIN9F2PJZnrRWcy3u3Tm4M0UAZr9rQqntN0Hf6eyXpgfpLP9SHMbZ7ZLeIO+MHQKLucgVMUQTTCVpyL4M1GwHwomkMOxed6SNeNNMACn+SfA2xwFJH6xGEQ4weVR3e0STKaWrvoiYHPmqOVh4H//xP7vyIoed7A==',
};
const D2_POST_BODY =
  '{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Test","out_trade_no":"T20240101001","notify_url":"https://example.com/wx/notify","amount":{"total":1,"currency":"CNY"}}';
const D2_POST = {
  method: 'POST',
  canonicalUrl: '/v3/pay/transactions/native',
  body: D2_POST_BODY,
  message: `POST\n/v3/pay/transactions/native\n1704081600\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n${D2_POST_BODY}\n`,
  signature:
    'H88E78gJF3qdQo1wVTCKybdFMopIg6taJuXrvRduJjPTNB6NNrfoAFk+fKKs7WTj8nl+5CHeiLDOx9dac2d5suOCg/9g0bTdmkBRHl4+cFH9RvWFM6tgXXBf/SeR0QgCrf6l0Ui7ZxSEL4Uf5VWpS3xsNeO1iklIq6ZBnEh7zaT92wyQalN+d1zoUsGddnAqPMeBHmLE1bFyO3LBYs125ooVPWqHVOvlgtPwgsUO4+f3x2qR6Dw1pUEFXUd4EBtsxXuEx0//mXuvSG/vxz/Aw7MVtykShkxqT69+lofKPZCv/gxcZudLVc7w2kr4cw5gKxPSpgNy9HR1jo34HXN0cQ==',
};

const MCH_ID = '1230000109';
const MERCHANT_SERIAL = '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C';
const PLATFORM_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const PUB_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000TEST';

/** `k="v"` pairs of an Authorization header, whatever their order. */
function parseAuthorization(header: string): { schema: string; fields: Record<string, string> } {
  const space = header.indexOf(' ');
  const fields: Record<string, string> = {};
  for (const match of header.slice(space + 1).matchAll(/(\w+)="([^"]*)"/g)) {
    fields[match[1]] = match[2];
  }
  return { schema: header.slice(0, space), fields };
}

describe('wechat-v3.signer', () => {
  const d0 = parsePrivateKey(D0_PRIVATE_PEM, 'D0');
  const d0Public = createPublicKey(d0);
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

  describe('D1 vector', () => {
    it('SHA256withRSA of "source" with the D0 key, ours and the plugin Rsa.sign alike', () => {
      expect(rsaSha256Sign('source', d0)).toBe(D1_SIGNATURE);
      expect(Rsa.sign('source', d0)).toBe(D1_SIGNATURE);
      expect(Rsa.verify('source', D1_SIGNATURE, d0Public)).toBe(true);
    });
  });

  describe('requestSignatureMessage and authorizationHeader (D2)', () => {
    it.each([
      ['GET', D2_GET],
      ['POST', D2_POST],
    ])('%s: the message and the signature are exactly the D2 ones', (_name, v) => {
      const message = requestSignatureMessage(
        v.method,
        v.canonicalUrl,
        D2_TIMESTAMP,
        D2_NONCE,
        v.body,
      );
      expect(message).toBe(v.message);
      expect(message.split('\n')).toHaveLength(6);
      expect(message.endsWith('\n')).toBe(true);
      expect(rsaSha256Sign(message, d0)).toBe(v.signature);

      const header = authorizationHeader({
        mchId: MCH_ID,
        serialNo: MERCHANT_SERIAL,
        privateKey: d0,
        method: v.method,
        canonicalUrl: v.canonicalUrl,
        body: v.body,
        timestamp: D2_TIMESTAMP,
        nonce: D2_NONCE,
      });
      expect(header).toBe(
        `WECHATPAY2-SHA256-RSA2048 mchid="${MCH_ID}",nonce_str="${D2_NONCE}",` +
          `signature="${v.signature}",timestamp="${D2_TIMESTAMP}",serial_no="${MERCHANT_SERIAL}"`,
      );
    });

    it('the plugin builds the same messages and signatures, and accepts ours', () => {
      for (const v of [D2_GET, D2_POST]) {
        const theirs = Formatter.request(v.method, v.canonicalUrl, D2_TIMESTAMP, D2_NONCE, v.body);
        expect(theirs).toBe(v.message);
        expect(Rsa.sign(theirs, d0)).toBe(v.signature);
        expect(Rsa.verify(v.message, v.signature, d0Public)).toBe(true);
      }
      expect(Formatter.joinedByLineFeed('GET', '/v3/x', '1', 'N', '')).toBe(
        requestSignatureMessage('GET', '/v3/x', 1, 'N', ''),
      );
    });

    it('an Authorization header the plugin interceptor makes is one we make, field for field', () => {
      const signed = (Decorator.requestInterceptor() as (c: object) => { headers: object })({
        method: 'post',
        baseURL: 'https://api.mch.weixin.qq.com/',
        url: '/v3/pay/transactions/native',
        data: JSON.parse(D2_POST_BODY),
        privateKey: d0,
        mchid: MCH_ID,
        serial: MERCHANT_SERIAL,
        headers: {},
      });
      const theirs = parseAuthorization(
        String((signed.headers as { get(n: string): unknown }).get('Authorization')),
      );
      const ours = parseAuthorization(
        authorizationHeader({
          mchId: MCH_ID,
          serialNo: MERCHANT_SERIAL,
          privateKey: d0,
          method: 'POST',
          canonicalUrl: '/v3/pay/transactions/native',
          body: D2_POST_BODY,
          timestamp: theirs.fields.timestamp,
          nonce: theirs.fields.nonce_str,
        }),
      );
      expect(theirs.schema).toBe('WECHATPAY2-SHA256-RSA2048');
      expect(ours).toEqual(theirs);
      expect(Object.keys(ours.fields).sort()).toEqual([
        'mchid',
        'nonce_str',
        'serial_no',
        'signature',
        'timestamp',
      ]);
    });

    it('draws a fresh 32-alphanumeric nonce and the current time when none is given', () => {
      const input = {
        mchId: MCH_ID,
        serialNo: MERCHANT_SERIAL,
        privateKey: d0,
        method: 'GET',
        canonicalUrl: D2_GET.canonicalUrl,
        body: '',
      };
      const before = unixSeconds();
      const a = parseAuthorization(authorizationHeader(input)).fields;
      const b = parseAuthorization(authorizationHeader(input)).fields;
      expect(a.nonce_str).toMatch(/^[0-9A-Za-z]{32}$/);
      expect(a.nonce_str).not.toBe(b.nonce_str);
      expect(Number(a.timestamp)).toBeGreaterThanOrEqual(before);
      expect(Number(a.timestamp)).toBeLessThanOrEqual(unixSeconds());
      const message = requestSignatureMessage(
        'GET',
        D2_GET.canonicalUrl,
        a.timestamp,
        a.nonce_str,
        '',
      );
      expect(rsaSha256Verify(message, a.signature, d0Public)).toBe(true);
      expect(Rsa.verify(message, a.signature, d0Public)).toBe(true);
    });

    it('upper-cases the method, as the plugin does', () => {
      expect(requestSignatureMessage('get', '/v3/x', 1, 'N', '')).toBe('GET\n/v3/x\n1\nN\n\n');
    });

    it.each([
      [
        'a full URL instead of path and query',
        () => requestSignatureMessage('GET', 'https://api.mch.weixin.qq.com/v3/x', 1, 'N', ''),
      ],
      ['a line feed in the URL', () => requestSignatureMessage('GET', '/v3/x\n', 1, 'N', '')],
      ['an empty nonce', () => requestSignatureMessage('GET', '/v3/x', 1, '', '')],
      [
        'a millisecond-looking timestamp with a dot',
        () => requestSignatureMessage('GET', '/v3/x', 1.5, 'N', ''),
      ],
      [
        'a quote in the serial',
        () =>
          authorizationHeader({
            mchId: MCH_ID,
            serialNo: 'AB",x="1',
            privateKey: d0,
            method: 'GET',
            canonicalUrl: '/v3/x',
            body: '',
          }),
      ],
      [
        'a nonce that is not alphanumeric',
        () =>
          authorizationHeader({
            mchId: MCH_ID,
            serialNo: MERCHANT_SERIAL,
            privateKey: d0,
            method: 'GET',
            canonicalUrl: '/v3/x',
            body: '',
            nonce: 'a"b',
          }),
      ],
    ])('refuses %s (a bug on our side, so it throws)', (_name, call) => {
      expect(call).toThrow(TypeError);
    });

    it('canonicalUrlOf keeps path and query as the URL object sends them', () => {
      expect(
        canonicalUrlOf(
          'https://api.mch.weixin.qq.com/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO',
        ),
      ).toBe(
        '/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO',
      );
      expect(canonicalUrlOf(new URL('https://api.mch.weixin.qq.com/v3/certificates'))).toBe(
        '/v3/certificates',
      );
    });
  });

  describe('verifyWechatSignature', () => {
    const now = new Date('2024-01-01T04:00:00Z');
    const ts = String(unixSeconds(now));
    const nonce = 'fdasflkja484fdasflkja484fdasflkj';
    const body = '{"id":"EV-2018022511223320873","summary":"支付成功","resource":{"nonce":"x"}}';
    const keys = new Map<string, KeyObject>([
      [PLATFORM_SERIAL, d0Public],
      [PUB_KEY_ID, createPublicKey(other.privateKey)],
    ]);
    /** What WeChat sends, signed by code nobody here wrote. */
    const signedByWechat = (
      timestamp: string,
      signedBody: string,
      key: KeyObject = d0,
    ): WechatSignatureInput => ({
      timestamp,
      nonce,
      body: Buffer.from(signedBody, 'utf8'),
      signature: Rsa.sign(Formatter.response(timestamp, nonce, signedBody), key),
      serial: PLATFORM_SERIAL,
      keys,
      now,
    });
    const valid = signedByWechat(ts, body);

    it('accepts a response signed with D0, given as a raw Buffer or as text', () => {
      expect(verifyWechatSignature(valid)).toEqual({ outcome: 'ok', serial: PLATFORM_SERIAL });
      expect(verifyWechatSignature({ ...valid, body })).toMatchObject({ outcome: 'ok' });
      expect(responseSignatureMessage(ts, nonce, body)).toBe(Formatter.response(ts, nonce, body));
    });

    it('accepts a 204 with an empty body (TS\\nNONCE\\n\\n)', () => {
      const empty = signedByWechat(ts, '');
      expect(responseSignatureMessage(ts, nonce, '')).toBe(`${ts}\n${nonce}\n\n`);
      expect(verifyWechatSignature({ ...empty, body: Buffer.alloc(0) })).toMatchObject({
        outcome: 'ok',
      });
    });

    it('takes the keys from a lookup function, e.g. a public-key-mode id', () => {
      const input = {
        ...signedByWechat(ts, body, other.privateKey),
        serial: PUB_KEY_ID,
        keys: (serial: string) => keys.get(serial),
      };
      expect(verifyWechatSignature(input)).toEqual({ outcome: 'ok', serial: PUB_KEY_ID });
    });

    it('unknown_serial for a serial with no key, even a prototype name', () => {
      for (const serial of [
        '5157F09EFDC096DE15EBE81A47057A7232F1B8E2',
        'constructor',
        '__proto__',
      ]) {
        expect(verifyWechatSignature({ ...valid, serial })).toMatchObject({
          outcome: 'unknown_serial',
          serial,
        });
      }
    });

    it('bad_signature for a signature checked against the wrong key', () => {
      expect(verifyWechatSignature({ ...valid, serial: PUB_KEY_ID })).toMatchObject({
        outcome: 'bad_signature',
      });
    });

    it.each([
      [301, 'stale_timestamp'],
      [-301, 'stale_timestamp'],
      [300, 'ok'],
      [-300, 'ok'],
      [86_400, 'stale_timestamp'],
    ])('a timestamp %i s from now is %s', (offset, outcome) => {
      const input = signedByWechat(String(unixSeconds(now) + offset), body);
      const result = verifyWechatSignature(input);
      expect(result.outcome).toBe(outcome);
      if (outcome === 'stale_timestamp') expect(result).toMatchObject({ skewSeconds: offset });
    });

    it('honours maxSkewSeconds', () => {
      const input = signedByWechat(String(unixSeconds(now) - 61), body);
      expect(verifyWechatSignature({ ...input, maxSkewSeconds: 60 }).outcome).toBe(
        'stale_timestamp',
      );
      expect(verifyWechatSignature({ ...input, maxSkewSeconds: 61 }).outcome).toBe('ok');
    });

    it('bad_signature for a flipped body byte, wherever it is', () => {
      const raw = Buffer.from(body, 'utf8');
      for (const at of [0, 1, 10, Math.floor(raw.length / 2), raw.length - 1]) {
        const tampered = Buffer.from(raw);
        tampered[at] ^= 0x01;
        if (!Buffer.from(tampered.toString('utf8'), 'utf8').equals(tampered)) continue;
        expect(verifyWechatSignature({ ...valid, body: tampered }).outcome).toBe('bad_signature');
      }
      expect(verifyWechatSignature({ ...valid, body: `${body} ` }).outcome).toBe('bad_signature');
      expect(
        verifyWechatSignature({ ...valid, body: body.replace('支付成功', '支付失败') }).outcome,
      ).toBe('bad_signature');
    });

    it('bad_signature for a re-serialised body, a changed nonce or timestamp', () => {
      expect(
        verifyWechatSignature({ ...valid, body: JSON.stringify(JSON.parse(body), null, 1) })
          .outcome,
      ).toBe('bad_signature');
      expect(verifyWechatSignature({ ...valid, nonce: `${nonce}x` }).outcome).toBe('bad_signature');
      expect(verifyWechatSignature({ ...valid, timestamp: String(Number(ts) + 1) }).outcome).toBe(
        'bad_signature',
      );
    });

    it('bad_signature, marked as a probe, for WECHATPAY/SIGNTEST/ signatures; no key is looked up', () => {
      const lookups: string[] = [];
      const result = verifyWechatSignature({
        ...valid,
        signature: `WECHATPAY/SIGNTEST/${valid.signature as string}`,
        keys: (serial) => {
          lookups.push(serial);
          return keys.get(serial);
        },
      });
      expect(result).toMatchObject({ outcome: 'bad_signature', probe: true });
      expect(lookups).toEqual([]);
    });

    it.each([
      ['garbage base64', 'bm90IGEgc2lnbmF0dXJl!!'],
      ['valid base64 of the wrong length', Buffer.from('not a signature').toString('base64')],
      [
        'another key’s signature',
        rsaSha256Sign(responseSignatureMessage(ts, nonce, body), other.privateKey),
      ],
      ['the D1 signature', D1_SIGNATURE],
      ['URL-safe base64', (valid.signature as string).replace(/\+/g, '-').replace(/\//g, '_')],
    ])('bad_signature for %s', (_name, signature) => {
      expect(verifyWechatSignature({ ...valid, signature }).outcome).toBe('bad_signature');
    });

    it.each([
      ['no timestamp', { timestamp: undefined }],
      ['a timestamp in milliseconds with a dot', { timestamp: '1704081600.5' }],
      ['a negative timestamp', { timestamp: '-1' }],
      ['a timestamp with spaces', { timestamp: ` ${ts}` }],
      ['a huge timestamp', { timestamp: '9'.repeat(40) }],
      ['no nonce', { nonce: undefined }],
      ['an empty nonce', { nonce: '' }],
      ['a nonce with a line feed', { nonce: 'a\nb' }],
      ['no serial', { serial: undefined }],
      ['a repeated header (array)', { serial: [PLATFORM_SERIAL, PLATFORM_SERIAL] }],
      ['no signature', { signature: undefined }],
      ['an empty signature', { signature: '' }],
      ['a body that is not UTF-8', { body: Buffer.from([0x7b, 0xff, 0x7d]) }],
      ['a parsed body', { body: JSON.parse(body) as unknown as string }],
    ])('malformed for %s, without throwing', (_name, change) => {
      const input = { ...valid, ...change } as WechatSignatureInput;
      expect(() => verifyWechatSignature(input)).not.toThrow();
      expect(verifyWechatSignature(input).outcome).toBe('malformed');
    });

    it('never echoes the input in its reason', () => {
      const result = verifyWechatSignature({ ...valid, serial: 'ATTACKER<script>' });
      expect(result.outcome).toBe('unknown_serial');
      expect(result.outcome !== 'ok' && result.reason).not.toContain('ATTACKER');
    });

    it('agrees with the plugin responseVerifier on every outcome', () => {
      // The plugin reads the clock itself, so this case is signed for the real now.
      const realNow = new Date();
      const rts = String(unixSeconds(realNow));
      const verifier = Decorator.responseVerifier({ [PLATFORM_SERIAL]: d0Public }) as (
        this: object,
        data: string,
        headers: Record<string, string>,
        status: number,
      ) => unknown;
      const context = {
        url: '/v3/pay/transactions/out-trade-no/T1?mchid=1230000109',
        validateStatus: (s: number) => s >= 200 && s < 300,
      };
      const pluginCode = (h: Record<string, string>, data: string): string => {
        const out = verifier.call(context, data, h, 200);
        return out instanceof Error ? String((out as Error & { code: string }).code) : 'ok';
      };
      const sign = (t: string, b: string) => Rsa.sign(Formatter.response(t, nonce, b), d0);
      const cases: Array<[string, Record<string, string>, string]> = [
        ['ok', { t: rts, s: PLATFORM_SERIAL, sig: sign(rts, body) }, body],
        [
          'stale',
          {
            t: String(Number(rts) - 301),
            s: PLATFORM_SERIAL,
            sig: sign(String(Number(rts) - 301), body),
          },
          body,
        ],
        ['serial', { t: rts, s: MERCHANT_SERIAL, sig: sign(rts, body) }, body],
        ['tampered', { t: rts, s: PLATFORM_SERIAL, sig: sign(rts, body) }, `${body} `],
      ];
      const mapping: Record<string, string> = {
        ok: 'ok',
        EV3_RES_HEADER_TIMESTAMP_OFFSET: 'stale_timestamp',
        EV3_RES_HEADER_PLATFORM_SERIAL: 'unknown_serial',
        EV3_RES_HEADER_SIGNATURE_DIGEST: 'bad_signature',
      };
      const outcomes = cases.map(([, h, data]) => {
        const theirs = pluginCode(
          {
            'Wechatpay-Timestamp': h.t,
            'Wechatpay-Nonce': nonce,
            'Wechatpay-Serial': h.s,
            'Wechatpay-Signature': h.sig,
          },
          data,
        );
        const ours = verifyWechatSignature({
          timestamp: h.t,
          nonce,
          serial: h.s,
          signature: h.sig,
          body: Buffer.from(data),
          keys: new Map([[PLATFORM_SERIAL, d0Public]]),
          now: realNow,
        }).outcome;
        return [mapping[theirs], ours];
      });
      expect(outcomes).toEqual([
        ['ok', 'ok'],
        ['stale_timestamp', 'stale_timestamp'],
        ['unknown_serial', 'unknown_serial'],
        ['bad_signature', 'bad_signature'],
      ]);
    });
  });

  describe('paySign', () => {
    const appId = 'wx8888888888888888';
    const prepayId = 'wx201410272009395522657a690389285100';

    it('JSAPI: {appId, timeStamp, nonceStr, package, signType RSA, paySign} over four lines', () => {
      const params = jsapiPayParams({
        appId,
        prepayId,
        privateKey: d0,
        timestamp: 1414561699,
        nonce: D2_NONCE,
      });
      expect(params).toEqual({
        appId,
        timeStamp: '1414561699',
        nonceStr: D2_NONCE,
        package: `prepay_id=${prepayId}`,
        signType: 'RSA',
        paySign: expect.any(String),
      });
      const message = `${appId}\n1414561699\n${D2_NONCE}\nprepay_id=${prepayId}\n`;
      expect(jsapiPaySignMessage(appId, '1414561699', D2_NONCE, params.package)).toBe(message);
      expect(params.paySign).toBe(rsaSha256Sign(message, d0));
    });

    it('JSAPI: the plugin README recipe signs the same, and verifies ours', () => {
      const params = jsapiPayParams({ appId, prepayId, privateKey: d0 });
      const theirs = Formatter.joinedByLineFeed(
        params.appId,
        params.timeStamp,
        params.nonceStr,
        params.package,
      );
      expect(
        jsapiPaySignMessage(params.appId, params.timeStamp, params.nonceStr, params.package),
      ).toBe(theirs);
      expect(Rsa.verify(theirs, params.paySign, d0Public)).toBe(true);
      expect(Rsa.sign(theirs, d0)).toBe(params.paySign);
      expect(Rsa.verify(theirs, params.paySign, createPublicKey(other.privateKey))).toBe(false);
      expect(params.nonceStr).toMatch(/^[0-9A-Za-z]{32}$/);
      expect(params.timeStamp).toMatch(/^\d{10}$/);
    });

    it('APP: {appid, partnerid, prepayid, package Sign=WXPay, noncestr, timestamp, sign}', () => {
      const appPrepayId = 'WX1217752501201407033233368018';
      const params = appPayParams({
        appId,
        mchId: '1900000109',
        prepayId: appPrepayId,
        privateKey: d0,
        timestamp: '1414561699',
        nonce: D2_NONCE,
      });
      // The official page's example: the bare prepayid, not "prepay_id=…".
      const message = `${appId}\n1414561699\n${D2_NONCE}\n${appPrepayId}\n`;
      expect(appPaySignMessage(appId, '1414561699', D2_NONCE, appPrepayId)).toBe(message);
      expect(Formatter.joinedByLineFeed(appId, '1414561699', D2_NONCE, appPrepayId)).toBe(message);
      expect(params).toEqual({
        appid: appId,
        partnerid: '1900000109',
        prepayid: appPrepayId,
        package: 'Sign=WXPay',
        noncestr: D2_NONCE,
        timestamp: '1414561699',
        sign: Rsa.sign(message, d0),
      });
      expect(rsaSha256Verify(message, params.sign, d0Public)).toBe(true);
    });

    it('refuses a prepay id with a line feed', () => {
      expect(() => jsapiPayParams({ appId, prepayId: 'wx1\nwx2', privateKey: d0 })).toThrow(
        TypeError,
      );
    });
  });
});
