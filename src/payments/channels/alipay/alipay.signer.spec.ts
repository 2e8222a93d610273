import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import {
  parsePrivateKey,
  parsePublicKey,
  rsaSha256Sign,
  rsaSha256Verify,
} from '../../../common/crypto/rsa-keys';
import {
  AlipayResponseFormatError,
  alipaySignContent,
  beijingTimestamp,
  extractAlipayResponseSignContent,
  signAlipayRequest,
  verifyAlipayNotification,
  verifyAlipayResponse,
} from './alipay.signer';

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

// protocols.md A3: the string to sign, and D2: its signature with the D0 key.
const A3_SIGN_CONTENT =
  'app_id=2021000000000000&biz_content={"out_trade_no":"T20240101001","total_amount":"0.01","subject":"Test"}&charset=utf-8&format=JSON&method=alipay.trade.precreate&notify_url=https://example.com/alipay/notify&sign_type=RSA2&timestamp=2024-01-01 12:00:00&version=1.0';
const D2_SIGNATURE =
  'QPze16giME2PqmWM3G9vHvZo+yBMLZ5JVRDArKy36mGWRQqsJEjxjpBNVZcSaNYaulG7HiTuXyXltiY9bjUrjyyZddV5qhJ7FQcBLccnRyeXI1pg5fjlx0MtZ7K0bQsIVBeGO44DvwpBdBxPpbg5hv0tPrKJng1Juwr4I29dPry9xMEDhogn5X3J9Vr/EHWD6/bwCKcSCst13cFhNBzqvp3Nduxy1LBzXizy4zcRcTMjmI7k3iyOEPU1cEri6VyFueDUhKDIttbgQ/qQjvaRe8mJpRT5aMR+fAYaZZuA47DNddLSUS4rMcfVxJgTUo7ZM3wCCPrs13OBIRzSoeaFMQ==';

// protocols.md A4: alipay-sdk-nodejs-all test/fixtures/alipay-public-key.pem and checkResponseSign "should work".
const A4_ALIPAY_PUBLIC_KEY =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk7LzhmMa2c4qQd4fqAqenfbuFoA7stPKvoS1LrZEsVnOOGUUjwoa1oU9xsSPjcOWhIerU/VAN4J95GIAXx59ipcleIyfLn2FhHXPgLJpvo+b2jJFyn/1/DbeJDh+0yDVAOf50Z7HhI0mdUhFMkXlT7BU0ZMtJf/TmISFEfhDU/w6qFd6D42L97byAkq0K6LroglSVF24GqJEa7hSeUIkZWj7RasykXrc2uVJ1+ejkXE0LyPxa2AHykMGbJLf5SiZvaNzUZgnKIR36mLOHpQ/2JCXxhXZYUWHzy0kMH54JcUEeksFWBYLGvLjV1phbcUIc3Q76tIuqApY6E222OoZZQIDAQAB';
const A4_RESPONSE =
  '{"alipay_open_file_upload_response":{"code":"10000","msg":"Success","file_id":"CAxAToWB1JsAAAAAAAAAAAAADgSLAQBr"},"sign":"F+LDzpTNiavn7xVZPGuPCSSVRSmWzJGgtuji6tVELGEaqMaNj0jRKXUEr5nloZJBBmwEnddOyCjjepMmrTKTvoOqQ0Efxpr/R1iEeHTHVbb/Q8TTh6Up5gHJDkILdaWS2q1cWeQ6VT+HQY9P3WRXS7uhILHuDODIhpAyCu5KhWGt0rMCIG+Im6NODJP2oohtSCtmTFXg58HH587Z2y2bdbjzOxLvzD9IrU1imghXQ2S/Q+wMIvRk9on6cWnBLkrNvJKapA2ReNGWOwyuASvB9zDVzhMPbR+3mfRGkVDxsq5HYLjBKGskJMXHw0HuugZij6ScRuaLPODhmHwr/pJ9yw=="}';

// protocols.md A9: Node SDK test "verify sign should delete sign_type" (a trade notify, V1).
const A9_ALIPAY_PUBLIC_KEY =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXIofVHkA/tAlBAd5DrY7YpvI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcOrxFYRlFilvVLTXg4LWjR1tdPkO6+i7wQZAIVMClPkwVRZEbaERRHlKqTzv2gGv5rDU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV5/FdcWIt+L8SR1ss7EXTjYDFtxcKVv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5JwIDAQAB';
const A9_NOTIFY: Record<string, string> = {
  gmt_create: '2019-08-15 15:56:22',
  charset: 'utf-8',
  seller_email: 'z97-yuquerevenue@service.aliyun.com',
  subject: '语雀空间 500人规模',
  sign: 'QfTb8tqE1BMhS5qAnXtvsF3/jBkEvu9q9en0pdbBUDDjvKycZhQb7h8GDs4FKfi049PynaNuatxSgLb/nLWZpXyyh0LEWdK2S6Ri7nPwrVgOs08zugLO20vOQz44y3ti2Ncm8/wZts1Fr2gZ7pShnVX3d1B50hbsXnObT1r/U8ONNQjWXd0HIul4TG+Q3fm3svmSvFEy0WnzuhcyHPX5Gm4ELNctL6Qd5YniGJFNcc7kopHYtI/XD9YCKCH6Ct02rzUs9i11C9CsadtZn+WhxF26Dqt9sGEFajkJ8cxUTLi8+VCpLHsgPE8P0y095uQcDdK0YjCh4x7wVSov+lrmOQ==',
  buyer_id: '2088102534368455',
  invoice_amount: '0.10',
  notify_id: '2019081500222155624068450559358070',
  fund_bill_list: '[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]',
  notify_type: 'trade_status_sync',
  trade_status: 'TRADE_SUCCESS',
  receipt_amount: '0.10',
  buyer_pay_amount: '0.10',
  app_id: '2019073166072302',
  sign_type: 'RSA2',
  seller_id: '2088531891668739',
  gmt_payment: '2019-08-15 15:56:24',
  notify_time: '2019-08-15 15:56:25',
  version: '1.0',
  out_trade_no: '20190815155618536-564-57',
  total_amount: '0.10',
  trade_no: '2019081522001468450512505578',
  auth_app_id: '2019073166072302',
  buyer_logon_id: 'xud***@126.com',
  point_amount: '0.00',
};
const A9_SIGN_CONTENT =
  'app_id=2019073166072302&auth_app_id=2019073166072302&buyer_id=2088102534368455&buyer_logon_id=xud***@126.com&buyer_pay_amount=0.10&charset=utf-8&fund_bill_list=[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]&gmt_create=2019-08-15 15:56:22&gmt_payment=2019-08-15 15:56:24&invoice_amount=0.10&notify_id=2019081500222155624068450559358070&notify_time=2019-08-15 15:56:25&notify_type=trade_status_sync&out_trade_no=20190815155618536-564-57&point_amount=0.00&receipt_amount=0.10&seller_email=z97-yuquerevenue@service.aliyun.com&seller_id=2088531891668739&subject=语雀空间 500人规模&total_amount=0.10&trade_no=2019081522001468450512505578&trade_status=TRADE_SUCCESS&version=1.0';

// Not in protocols.md: Node SDK test "verify sign should not delete sign_type" (an app-gateway
// notify, V2) with test/fixtures/alipay-notify-sign-public-key-v2.pem; re-verified locally.
const V2_ALIPAY_PUBLIC_KEY =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk6DCsBIUhWriFohzRV8Fic6oQWNnLKKILNk97VU5qcHEuxYzCujKoyva5gy1170mFJw4IcgJF8AyS7iDUwzAwF4Pp9CpWxDhUhe7mdQJhjBmvTcPLGFFrzlj6unO5lAcbdwaxPUtSxOaNxPJGrTK/wnKQSbjTMMltp1J68q2Tfgrsn/NdZ6lrxO9rvmky8kowqaH5NjntyHO59jCGabMj5sI14z8N61wB/QuIJrDuzIPMPrSNbq0cOWcSCDG09oUHTp9fk7suDB8UiFcmVTXOvK3d4HbeX8V9YsEMxrwxEoYgRRj6K2qrC6oxw480cqf2ueumCmHg6xrcgkyXK81hwIDAQAB';
const V2_NOTIFY: Record<string, string> = {
  app_id: '2017122801303261',
  charset: 'UTF-8',
  commodity_order_id: '2019030800000018079639',
  contactor: '技术支持测试的公司',
  merchant_pid: '2088721996721370',
  method: 'alipay.open.servicemarket.order.notify',
  name: '技术支持测试的公司',
  notify_id: '2019030800222102023008121054923345',
  notify_time: '2019-03-08 10:20:23',
  notify_type: 'servicemarket_order_notify',
  order_item_num: '1',
  order_ticket: '29b1c37d99ab48c5bd5bdaeaeaefbB37',
  order_time: '2019-03-08 10:20:08',
  phone: '17826894615',
  service_code: '58621634',
  sign: 'MsK5SCw8oqLw4f0hiNSd5OVGXxBY3wnQeT8vn5PklJSZFWSZbK4hQbNvkp4ZezeXQH514cEv0ul6Qow8yh6e6yM06LfEL+EZjcpZ0nxzFGRNQ5qq2AUc1OaXQdk92AGvxh+Iq4NGpPQFBd4D8EBJa3NJd8+czMfQskceosOQFqUtLQMYa5DPs+VpN7VM5BdXjaVIuKn5d9Wm2B9dI9ObIM+YRySDkZZPv14DVmUvcrcqJfOR8aHvtSd7B4l92wUQPQgQKNcOQho7xOHS/Bk+Y74AZL2y7TkNmdDoq9OGsThuF5tDW9rI9nVwXxOtsuB+bstra+W7aw9x9DvkKgdSRw==',
  sign_type: 'RSA2',
  timestamp: '2019-03-08 10:20:23',
  title: '麦禾商城模版',
  total_price: '0.00',
  version: '1.0',
};

// Node SDK test/alipay.test.ts describe('getSignStr'): the expected string keeps `\/`.
const IMAGE_RESPONSE_KEY = 'alipay_offline_material_image_upload_response';
const IMAGE_SIGNED =
  '{"code":"10000","msg":"Success","image_id":"Zp1Nm6FDTZaEuSSniGd5awAAACMAAQED","image_url":"http:\\/\\/oalipay-dl-django.alicdn.com\\/rest\\/1.0\\/image?fileIds=Zp1Nm6FDTZaEuSSniGd5awAAACMAAQED&zoom=original"}';
const IMAGE_SIGNED_WITH_INNER_SIGN = IMAGE_SIGNED.replace(
  '"code":"10000",',
  '"code":"10000","sign":"xxx",',
);
const IMAGE_SIGN =
  'P8xrBWqZCUv11UrEBjhQ4Sk3hyj4607qehO2VbKIS0hWa4U+NeLlOftqTyhGv+x1lzfqN590Y/8CaNIzEEg06FiNWJlUFM/uEFJLzSKGse4MjHbblpiSzI3eCV5RzxH26wZbEd9wyVYYi0pHFBf35UrBva47g7b5EuKCHfoVA95/zin9fAyb3xhhiHhmfGaWIDV/1LmE2vtqtOHQnISbY/deC71U614ySZ3YB97ws8npCcCJ+tgZvhHPkMRGvmyYPCRDB/aIN/sKDSLtfPp0u8DxE8pHLvCHm3wR84MQxqNbKgpd8NTKNvH+obELsbCrqPhjW7qI48634qx6enDupw==';
const GET_SIGN_STR_CASES: Array<[string, string, string]> = [
  ['normal', `{"${IMAGE_RESPONSE_KEY}":${IMAGE_SIGNED},"sign":"${IMAGE_SIGN}"}`, IMAGE_SIGNED],
  [
    'CR/LF and spaces around the colons',
    `{"${IMAGE_RESPONSE_KEY}"\r\n        :  \r\n        ${IMAGE_SIGNED},\r\n        \r\n          "sign"  :  "${IMAGE_SIGN}"}`,
    IMAGE_SIGNED,
  ],
  [
    'a "sign" field inside the business object',
    `{"${IMAGE_RESPONSE_KEY}"\n        :  \n        ${IMAGE_SIGNED_WITH_INNER_SIGN},\n        \n          "sign"  :  "${IMAGE_SIGN}"}`,
    IMAGE_SIGNED_WITH_INNER_SIGN,
  ],
];

const pemBody = (pem: string): string => pem.replace(/-----[^-]+-----|\s/g, '');
const pemOf = (bare: string): string =>
  `-----BEGIN PUBLIC KEY-----\n${bare.match(/.{1,64}/g)?.join('\n')}\n-----END PUBLIC KEY-----\n`;

function withoutSign(params: Record<string, string>): Record<string, string> {
  const { sign: _sign, ...rest } = params;
  return rest;
}

function parseFormString(encoded: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of encoded.split('&')) {
    const at = pair.indexOf('=');
    out[decodeURIComponent(pair.slice(0, at))] = decodeURIComponent(pair.slice(at + 1));
  }
  return out;
}

/** An Alipay-side signer for tests: trade notifies are signed without sign and sign_type. */
function signLikeAlipayNotify(params: Record<string, string>, key: KeyObject): string {
  return rsaSha256Sign(alipaySignContent(params, ['sign', 'sign_type']), key);
}

describe('alipay.signer', () => {
  const d0 = parsePrivateKey(D0_PRIVATE_PEM, 'D0');

  describe('alipaySignContent', () => {
    it('builds the A3 string: drops sign and empty values, sorts, keeps values raw', () => {
      const params = {
        version: '1.0',
        timestamp: '2024-01-01 12:00:00',
        sign: 'must-not-be-signed',
        sign_type: 'RSA2',
        notify_url: 'https://example.com/alipay/notify',
        return_url: '',
        app_auth_token: undefined,
        auth_token: null,
        method: 'alipay.trade.precreate',
        format: 'JSON',
        charset: 'utf-8',
        biz_content: '{"out_trade_no":"T20240101001","total_amount":"0.01","subject":"Test"}',
        app_id: '2021000000000000',
      };
      expect(alipaySignContent(params, ['sign'])).toBe(A3_SIGN_CONTENT);
    });

    it('sorts by byte order, not alphabetically or case-insensitively', () => {
      expect(alipaySignContent({ ab: '1', a_b: '2', B: '3', a: '4' }, [])).toBe(
        'B=3&a=4&a_b=2&ab=1',
      );
    });

    it('neither URL-encodes nor escapes values', () => {
      expect(alipaySignContent({ subject: '咖啡 & 茶=50% off', x: 'a+b/c' }, [])).toBe(
        'subject=咖啡 & 茶=50% off&x=a+b/c',
      );
    });

    it('excludes exactly the listed keys', () => {
      const params = { a: '1', sign: 's', sign_type: 'RSA2' };
      expect(alipaySignContent(params, ['sign', 'sign_type'])).toBe('a=1');
      expect(alipaySignContent(params, ['sign'])).toBe('a=1&sign_type=RSA2');
    });
  });

  describe('signAlipayRequest', () => {
    const params = {
      app_id: '2021000000000000',
      method: 'alipay.trade.precreate',
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: '2024-01-01 12:00:00',
      version: '1.0',
      notify_url: 'https://example.com/alipay/notify',
      biz_content: '{"out_trade_no":"T20240101001","total_amount":"0.01","subject":"Test"}',
    };

    it('reproduces the D2 vector with the D0 key', () => {
      expect(signAlipayRequest(params, d0)).toBe(D2_SIGNATURE);
    });

    it('ignores any existing sign but signs sign_type', () => {
      expect(signAlipayRequest({ ...params, sign: 'stale' }, d0)).toBe(D2_SIGNATURE);
      expect(signAlipayRequest({ ...params, sign_type: 'RSA' }, d0)).not.toBe(D2_SIGNATURE);
    });
  });

  describe('verifyAlipayNotification', () => {
    const a9Key = parsePublicKey(A9_ALIPAY_PUBLIC_KEY, 'A9');
    const v2Key = parsePublicKey(V2_ALIPAY_PUBLIC_KEY, 'V2');

    it('accepts the A9 trade notify, signed without sign_type', () => {
      expect(alipaySignContent(A9_NOTIFY, ['sign', 'sign_type'])).toBe(A9_SIGN_CONTENT);
      expect(rsaSha256Verify(A9_SIGN_CONTENT, A9_NOTIFY.sign, a9Key)).toBe(true);
      expect(verifyAlipayNotification(A9_NOTIFY, a9Key)).toBe(true);
    });

    it('shows the A9 signature does not cover sign_type', () => {
      const withSignType = alipaySignContent(A9_NOTIFY, ['sign']);
      expect(withSignType).toContain('&sign_type=RSA2&');
      expect(rsaSha256Verify(withSignType, A9_NOTIFY.sign, a9Key)).toBe(false);
    });

    it('accepts the app-gateway notify, signed with sign_type (V2 fallback)', () => {
      expect(
        rsaSha256Verify(alipaySignContent(V2_NOTIFY, ['sign', 'sign_type']), V2_NOTIFY.sign, v2Key),
      ).toBe(false);
      expect(verifyAlipayNotification(V2_NOTIFY, v2Key)).toBe(true);
    });

    it.each([
      ['a changed amount', { total_amount: '100.00' }],
      ['a changed status', { trade_status: 'TRADE_CLOSED' }],
      ['an added field', { refund_fee: '0.10' }],
      ['a legacy RSA (SHA1) sign_type', { sign_type: 'RSA' }],
      ['no sign', { sign: '' }],
      ['a garbage sign', { sign: 'not base64!' }],
    ])('rejects the A9 notify with %s', (_name, change) => {
      expect(verifyAlipayNotification({ ...A9_NOTIFY, ...change }, a9Key)).toBe(false);
    });

    it('rejects a genuine notify checked against another Alipay key', () => {
      expect(verifyAlipayNotification(A9_NOTIFY, v2Key)).toBe(false);
    });

    it('drops empty fields as the Java signer does', () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const notify: Record<string, string> = { out_trade_no: 'T1', body: '', sign_type: 'RSA2' };
      notify.sign = rsaSha256Sign('out_trade_no=T1', privateKey);
      expect(verifyAlipayNotification(notify, publicKey)).toBe(true);
    });
  });

  describe('extractAlipayResponseSignContent', () => {
    it.each(GET_SIGN_STR_CASES)('matches getSignStr: %s', (_name, raw, expected) => {
      expect(extractAlipayResponseSignContent(raw, IMAGE_RESPONSE_KEY)).toBe(expected);
    });

    it('cuts the A4 response', () => {
      expect(
        extractAlipayResponseSignContent(A4_RESPONSE, 'alipay_open_file_upload_response'),
      ).toBe('{"code":"10000","msg":"Success","file_id":"CAxAToWB1JsAAAAAAAAAAAAADgSLAQBr"}');
    });

    it('keeps cert-mode siblings of sign out of the content', () => {
      const raw = '{"x_response":{"code":"10000"},"alipay_cert_sn":"abc","sign":"S"}';
      expect(extractAlipayResponseSignContent(raw, 'x_response')).toBe('{"code":"10000"}');
    });

    it.each([
      ['the key is missing', '{"other_response":{"code":"10000"},"sign":"S"}'],
      ['the value is an (AES-encrypted) string', '{"x_response":"b64+/=","sign":"S"}'],
      ['the key only appears as a suffix', '{"xx_response":{"code":"10000"},"sign":"S"}'],
    ])('returns null when %s', (_name, raw) => {
      expect(extractAlipayResponseSignContent(raw, 'x_response')).toBeNull();
    });
  });

  describe('verifyAlipayResponse', () => {
    const a4Key = parsePublicKey(A4_ALIPAY_PUBLIC_KEY, 'A4');
    const { privateKey: gatewayKey, publicKey: gatewayPub } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
    });
    const signed = (key: string, content: string, signedText = content): string =>
      `{"${key}":${content},"sign":"${rsaSha256Sign(signedText, gatewayKey)}"}`;

    it('verifies the A4 vector', () => {
      const check = verifyAlipayResponse(A4_RESPONSE, 'alipay.open.file.upload', a4Key);
      expect(check).toEqual({
        verified: true,
        signed: true,
        payload: { code: '10000', msg: 'Success', file_id: 'CAxAToWB1JsAAAAAAAAAAAAADgSLAQBr' },
      });
    });

    it('rejects the A4 vector with one changed byte, or checked against another key', () => {
      const tampered = A4_RESPONSE.replace('CAxATo', 'CAxATp');
      expect(verifyAlipayResponse(tampered, 'alipay.open.file.upload', a4Key).verified).toBe(false);
      const other = verifyAlipayResponse(A4_RESPONSE, 'alipay.open.file.upload', gatewayPub);
      expect(other).toMatchObject({ verified: false, signed: true });
    });

    it('verifies the exact escaped text, keeping \\/ as received', () => {
      const content =
        '{"code":"10000","msg":"Success","qr_code":"https:\\/\\/qr.alipay.com\\/bax0"}';
      const check = verifyAlipayResponse(
        signed('alipay_trade_precreate_response', content),
        'alipay.trade.precreate',
        gatewayPub,
      );
      expect(check.verified).toBe(true);
      expect(check.payload.qr_code).toBe('https://qr.alipay.com/bax0');
    });

    it('retries with \\/ unescaped, as the PHP SDK does', () => {
      const content =
        '{"code":"10000","msg":"Success","qr_code":"https:\\/\\/qr.alipay.com\\/bax0"}';
      const raw = signed('alipay_trade_precreate_response', content, content.replace(/\\\//g, '/'));
      expect(verifyAlipayResponse(raw, 'alipay.trade.precreate', gatewayPub).verified).toBe(true);
    });

    it('takes a signed error_response when the method key is absent', () => {
      const content = '{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"}';
      const check = verifyAlipayResponse(
        signed('error_response', content),
        'alipay.trade.query',
        gatewayPub,
      );
      expect(check).toMatchObject({ verified: true, signed: true, payload: { code: '40002' } });
    });

    it('reports an unsigned answer as unsigned, not as verified', () => {
      const raw = '{"error_response":{"code":"40002","msg":"Invalid Arguments"}}';
      expect(verifyAlipayResponse(raw, 'alipay.trade.query', gatewayPub)).toEqual({
        verified: false,
        signed: false,
        payload: { code: '40002', msg: 'Invalid Arguments' },
      });
    });

    it('returns the payload from the verified bytes, not from a later duplicate key', () => {
      const genuine = '{"code":"10000","msg":"Success","trade_status":"WAIT_BUYER_PAY"}';
      const raw = signed('alipay_trade_query_response', genuine).replace(
        /\}$/,
        ',"alipay_trade_query_response":{"code":"10000","msg":"Success","trade_status":"TRADE_SUCCESS"}}',
      );
      expect(JSON.parse(raw).alipay_trade_query_response.trade_status).toBe('TRADE_SUCCESS');
      const check = verifyAlipayResponse(raw, 'alipay.trade.query', gatewayPub);
      expect(check.verified).toBe(true);
      expect(check.payload.trade_status).toBe('WAIT_BUYER_PAY');
    });

    it.each([
      ['HTML', '<html>502 Bad Gateway</html>'],
      ['a JSON array', '[1]'],
      ['JSON without the response object', '{"sign":"S"}'],
      ['a string payload', '{"alipay_trade_query_response":"encrypted","sign":"S"}'],
    ])('throws AlipayResponseFormatError for %s', (_name, raw) => {
      expect(() => verifyAlipayResponse(raw, 'alipay.trade.query', gatewayPub)).toThrow(
        AlipayResponseFormatError,
      );
    });
  });

  describe('beijingTimestamp', () => {
    it.each([
      ['2024-01-01T04:00:00.000Z', '2024-01-01 12:00:00'],
      ['2023-12-31T16:30:05.999Z', '2024-01-01 00:30:05'],
      ['2024-02-28T18:00:00.000Z', '2024-02-29 02:00:00'],
    ])('%s → %s', (iso, expected) => {
      expect(beijingTimestamp(new Date(iso))).toBe(expected);
    });

    it('defaults to now', () => {
      expect(beijingTimestamp()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    });
  });

  describe('against the official Node SDK (alipay-sdk v4)', () => {
    const app = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const appPubBare = pemBody(app.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const appPub = parsePublicKey(appPubBare, 'APP_PUB');
    const encodings = {
      PKCS1: pemBody(app.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string),
      PKCS8: pemBody(app.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    } as const;

    describe.each(Object.entries(encodings) as Array<['PKCS1' | 'PKCS8', string]>)(
      'with a %s private key',
      (keyType, privateKeyBare) => {
        const ours = parsePrivateKey(privateKeyBare, 'APP_KEY');
        // The SDK only verifies with config.alipayPublicKey; pointing it at the app key lets it
        // judge what the app signs.
        const sdk = new AlipaySdk({
          appId: '2021000000000000',
          privateKey: privateKeyBare,
          keyType,
          alipayPublicKey: appPubBare,
        });
        const bizContent = {
          out_trade_no: 'T20240101001',
          total_amount: '88.80',
          subject: '咖啡 & 茶 50%',
          product_code: 'QUICK_MSECURITY_PAY',
        };

        it('what the SDK signs (sdkExecute) verifies with ours, byte for byte the same signature', () => {
          const params = parseFormString(
            sdk.sdkExecute('alipay.trade.app.pay', {
              bizContent,
              notifyUrl: 'https://example.com/alipay/notify',
            }),
          );
          expect(params.biz_content).toBe(JSON.stringify(bizContent));
          expect(params.sign_type).toBe('RSA2');
          expect(rsaSha256Verify(alipaySignContent(params, ['sign']), params.sign, appPub)).toBe(
            true,
          );
          expect(signAlipayRequest(withoutSign(params), ours)).toBe(params.sign);
        });

        it('what we sign verifies with the SDK', () => {
          const params: Record<string, string> = {
            app_id: '2021000000000000',
            method: 'alipay.trade.precreate',
            format: 'JSON',
            charset: 'utf-8',
            sign_type: 'RSA2',
            timestamp: beijingTimestamp(),
            version: '1.0',
            biz_content: JSON.stringify(bizContent),
          };
          params.sign = signAlipayRequest(params, ours);
          // checkNotifySignV2 first checks the V2 string (sign_type kept): the request rule.
          expect(sdk.checkNotifySignV2({ ...params })).toBe(true);
          expect(sdk.rsaCheck(alipaySignContent(params, ['sign']), params.sign)).toBe(true);
          expect(sdk.checkNotifySignV2({ ...params, biz_content: '{}' })).toBe(false);
        });

        it('a notify signed the Alipay way passes both the SDK and ours', () => {
          const notify: Record<string, string> = {
            ...withoutSign(A9_NOTIFY),
            out_trade_no: 'T20240101001',
          };
          notify.sign = signLikeAlipayNotify(notify, ours);
          expect(sdk.checkNotifySignV2({ ...notify })).toBe(true);
          expect(verifyAlipayNotification(notify, appPub)).toBe(true);
          const forged = { ...notify, total_amount: '0.01' };
          expect(sdk.checkNotifySignV2({ ...forged })).toBe(false);
          expect(verifyAlipayNotification(forged, appPub)).toBe(false);
        });

        it('a response signed the gateway way passes both checkResponseSign and ours', () => {
          const content =
            '{"code":"10000","msg":"Success","qr_code":"https:\\/\\/qr.alipay.com\\/x"}';
          const sign = rsaSha256Sign(content, ours);
          const raw = `{"alipay_trade_precreate_response":${content},"sign":"${sign}"}`;
          const key = 'alipay_trade_precreate_response';
          expect(() => sdk.checkResponseSign(raw, key, sign, 'trace')).not.toThrow();
          expect(verifyAlipayResponse(raw, 'alipay.trade.precreate', appPub).verified).toBe(true);
          const bad = raw.replace('/x"', '/y"');
          expect(() => sdk.checkResponseSign(bad, key, sign, 'trace')).toThrow();
          expect(verifyAlipayResponse(bad, 'alipay.trade.precreate', appPub).verified).toBe(false);
        });
      },
    );

    it('the published notify vectors pass the SDK exactly when they pass ours', () => {
      for (const [publicKey, notify] of [
        [A9_ALIPAY_PUBLIC_KEY, A9_NOTIFY],
        [V2_ALIPAY_PUBLIC_KEY, V2_NOTIFY],
      ] as const) {
        const sdk = new AlipaySdk({
          appId: notify.app_id,
          privateKey: encodings.PKCS1,
          alipayPublicKey: publicKey,
        });
        const key = parsePublicKey(publicKey, 'ALIPAY_PUB');
        expect(sdk.checkNotifySignV2({ ...notify })).toBe(true);
        expect(verifyAlipayNotification(notify, key)).toBe(true);
        const forged = { ...notify, notify_id: `${notify.notify_id}0` };
        expect(sdk.checkNotifySignV2(forged)).toBe(false);
        expect(verifyAlipayNotification(forged, key)).toBe(false);
      }
    });

    it('the A4 response passes checkResponseSign, and the getSignStr cases cut the same', () => {
      const sdk = new AlipaySdk({
        appId: '2021000000000000',
        privateKey: encodings.PKCS1,
        alipayPublicKey: pemOf(A4_ALIPAY_PUBLIC_KEY),
      });
      const key = 'alipay_open_file_upload_response';
      const sign = JSON.parse(A4_RESPONSE).sign as string;
      expect(() => sdk.checkResponseSign(A4_RESPONSE, key, sign, 'trace')).not.toThrow();
      for (const [, raw, expected] of GET_SIGN_STR_CASES) {
        expect(sdk.getSignStr(raw, IMAGE_RESPONSE_KEY)).toBe(expected);
        expect(extractAlipayResponseSignContent(raw, IMAGE_RESPONSE_KEY)).toBe(expected);
      }
    });
  });
});
