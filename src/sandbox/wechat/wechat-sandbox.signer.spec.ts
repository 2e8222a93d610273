/**
 * The WeChat Pay v3 signer against vectors nobody on this project chose:
 * wechatpay-go's published SHA256withRSA of "source" (protocols.md D1) and the
 * request messages worked in D2, all with the wechatpay-go test key (D0).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  answerMessage,
  appPayMessage,
  jsapiPayMessage,
  parseAuthorization,
  requestMessage,
  sha256RsaSign,
  sha256RsaVerify,
  signedHeaders,
} from './wechat-sandbox.signer';

const D0_PRIVATE_KEY =
  '-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd\nfL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7\n6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1\nFSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR\n0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW\n3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm\nLDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km\nOFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4\nC9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN\n0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF\n+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y\ngEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam\nAZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi\nhhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2\n6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ\nWtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT\nD1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/\naSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2\nZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V\nYeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV\nBgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC\nEY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h\nTq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq\n+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/\njWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe\nBDa+8mDLkWu5nHEhOxy2JJZl\n-----END PRIVATE KEY-----';
const D1_SIGNATURE =
  'BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==';
const D2_GET_SIGNATURE =
  'vsO64GTlv0DXHy0doBIBGgqE1bSwoc8kqfj4K0orJPO3xaZNFh7GH7wqZk+Bi9/Z3JxV27H5pHszw9mtzFunqufUW/CZAFoUmjBbY3yXl/vOnL57l8XFD3YCIW7Vq+E61qPex93PS0Sqf76rJ5Xek4c5O2E5SCMoORZvIYzkbJhquba1/n4frzkZIN9F2PJZnrRWcy3u3Tm4M0UAZr9rQqntN0Hf6eyXpgfpLP9SHMbZ7ZLeIO+MHQKLucgVMUQTTCVpyL4M1GwHwomkMOxed6SNeNNMACn+SfA2xwFJH6xGEQ4weVR3e0STKaWrvoiYHPmqOVh4H//xP7vyIoed7A==';
const D2_POST_BODY =
  '{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Test","out_trade_no":"T20240101001","notify_url":"https://example.com/wx/notify","amount":{"total":1,"currency":"CNY"}}';
const D2_POST_SIGNATURE =
  'H88E78gJF3qdQo1wVTCKybdFMopIg6taJuXrvRduJjPTNB6NNrfoAFk+fKKs7WTj8nl+5CHeiLDOx9dac2d5suOCg/9g0bTdmkBRHl4+cFH9RvWFM6tgXXBf/SeR0QgCrf6l0Ui7ZxSEL4Uf5VWpS3xsNeO1iklIq6ZBnEh7zaT92wyQalN+d1zoUsGddnAqPMeBHmLE1bFyO3LBYs125ooVPWqHVOvlgtPwgsUO4+f3x2qR6Dw1pUEFXUd4EBtsxXuEx0//mXuvSG/vxz/Aw7MVtykShkxqT69+lofKPZCv/gxcZudLVc7w2kr4cw5gKxPSpgNy9HR1jo34HXN0cQ==';
const NONCE = '5K8264ILTKCH16CQ2502SI8ZNMTM67VS';

const privateKey = createPrivateKey(D0_PRIVATE_KEY);
const publicKey = createPublicKey(privateKey);

describe('WeChat Pay v3 sandbox signer', () => {
  it('reproduces wechatpay-go’s published signature of "source" (D1)', () => {
    expect(sha256RsaSign('source', privateKey)).toBe(D1_SIGNATURE);
    expect(sha256RsaVerify('source', D1_SIGNATURE, publicKey)).toBe(true);
  });

  it('builds the 5-line request message and verifies the D2 GET and POST signatures', () => {
    const get = requestMessage(
      'GET',
      '/v3/pay/transactions/out-trade-no/T20240101001?mchid=1230000109',
      '1704081600',
      NONCE,
      '',
    );
    expect(get).toBe(
      `GET\n/v3/pay/transactions/out-trade-no/T20240101001?mchid=1230000109\n1704081600\n${NONCE}\n\n`,
    );
    expect(sha256RsaSign(get, privateKey)).toBe(D2_GET_SIGNATURE);
    const post = requestMessage(
      'POST',
      '/v3/pay/transactions/native',
      '1704081600',
      NONCE,
      D2_POST_BODY,
    );
    expect(sha256RsaSign(post, privateKey)).toBe(D2_POST_SIGNATURE);
    expect(sha256RsaVerify(post, D2_POST_SIGNATURE, publicKey)).toBe(true);
    // One byte of the body changed: the signature no longer holds.
    expect(
      sha256RsaVerify(post.replace('"total":1', '"total":2'), D2_POST_SIGNATURE, publicKey),
    ).toBe(false);
  });

  it('refuses signatures that are not base64 or made with another key', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const message = answerMessage('1704081600', NONCE, '');
    expect(message).toBe(`1704081600\n${NONCE}\n\n`);
    expect(sha256RsaVerify(message, sha256RsaSign(message, other.privateKey), publicKey)).toBe(
      false,
    );
    expect(sha256RsaVerify(message, 'not base64!', publicKey)).toBe(false);
    expect(sha256RsaVerify(message, '', publicKey)).toBe(false);
  });

  it('signs answers over TS\\nNONCE\\nBODY\\n with a fresh nonce and the key id as serial', () => {
    const now = new Date('2024-01-01T04:00:00Z');
    const h = signedHeaders(
      '{"a":1}',
      privateKey,
      'PUB_KEY_ID_0112345678901234567890123456789012',
      now,
    );
    expect(h['Wechatpay-Timestamp']).toBe('1704081600');
    expect(h['Wechatpay-Nonce']).toMatch(/^[0-9a-f]{32}$/);
    expect(h['Wechatpay-Serial']).toBe('PUB_KEY_ID_0112345678901234567890123456789012');
    const message = `1704081600\n${h['Wechatpay-Nonce']}\n{"a":1}\n`;
    expect(sha256RsaVerify(message, h['Wechatpay-Signature'], publicKey)).toBe(true);
    const bad = signedHeaders('{}', privateKey, 'X', now, (m) => `${m}x`);
    expect(
      sha256RsaVerify(
        answerMessage(bad['Wechatpay-Timestamp'], bad['Wechatpay-Nonce'], '{}'),
        bad['Wechatpay-Signature'],
        publicKey,
      ),
    ).toBe(false);
  });

  it('parses the Authorization header in any pair order, and nothing else', () => {
    const pairs =
      'mchid="1230000109",nonce_str="N",signature="S==",timestamp="1704081600",serial_no="ABC"';
    expect(parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${pairs}`)).toEqual({
      mchid: '1230000109',
      nonce_str: 'N',
      signature: 'S==',
      timestamp: '1704081600',
      serial_no: 'ABC',
    });
    const reordered =
      'serial_no="ABC",timestamp="1704081600",signature="S==",nonce_str="N",mchid="1230000109"';
    expect(parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${reordered}`)?.mchid).toBe('1230000109');
    for (const header of [
      undefined,
      '',
      `Bearer ${pairs}`,
      `WECHATPAY2-SHA256-RSA2048 ${pairs.replace(',serial_no="ABC"', '')}`,
      `WECHATPAY2-SHA256-RSA2048 ${pairs},mchid="1"`,
      `WECHATPAY2-SHA256-RSA2048 ${pairs},extra="1"`,
      `WECHATPAY2-SHA256-RSA2048 ${pairs.replace('"N"', 'N')}`,
    ]) {
      expect(parseAuthorization(header)).toBeNull();
    }
  });

  it('builds the JSAPI and APP client payment messages (protocols.md C4)', () => {
    expect(jsapiPayMessage('wx1', '1704081600', NONCE, 'prepay_id=wx2')).toBe(
      `wx1\n1704081600\n${NONCE}\nprepay_id=wx2\n`,
    );
    expect(appPayMessage('wx1', '1704081600', NONCE, 'wx2')).toBe(
      `wx1\n1704081600\n${NONCE}\nwx2\n`,
    );
  });
});
