/**
 * The signer against vectors published by Alipay's SDK tests and worked in
 * protocols.md (A3/D2 request signing, A4 response, A9 notification): code
 * nobody on this project wrote.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  alipayJson,
  alipaySignContent,
  NOTIFY_SIGN_EXCLUDES,
  REQUEST_SIGN_EXCLUDES,
  responseKeyOf,
  rsa2Sign,
  rsa2Verify,
  signedResponseText,
} from './alipay-sandbox.signer';

const D0_PRIVATE_KEY =
  '-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd\nfL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7\n6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1\nFSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR\n0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW\n3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm\nLDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km\nOFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4\nC9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN\n0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF\n+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y\ngEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam\nAZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi\nhhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2\n6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ\nWtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT\nD1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/\naSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2\nZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V\nYeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV\nBgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC\nEY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h\nTq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq\n+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/\njWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe\nBDa+8mDLkWu5nHEhOxy2JJZl\n-----END PRIVATE KEY-----';
const A3_STRING_TO_SIGN =
  'app_id=2021000000000000&biz_content={"out_trade_no":"T20240101001","total_amount":"0.01","subject":"Test"}&charset=utf-8&format=JSON&method=alipay.trade.precreate&notify_url=https://example.com/alipay/notify&sign_type=RSA2&timestamp=2024-01-01 12:00:00&version=1.0';
const D2_SIGNATURE =
  'QPze16giME2PqmWM3G9vHvZo+yBMLZ5JVRDArKy36mGWRQqsJEjxjpBNVZcSaNYaulG7HiTuXyXltiY9bjUrjyyZddV5qhJ7FQcBLccnRyeXI1pg5fjlx0MtZ7K0bQsIVBeGO44DvwpBdBxPpbg5hv0tPrKJng1Juwr4I29dPry9xMEDhogn5X3J9Vr/EHWD6/bwCKcSCst13cFhNBzqvp3Nduxy1LBzXizy4zcRcTMjmI7k3iyOEPU1cEri6VyFueDUhKDIttbgQ/qQjvaRe8mJpRT5aMR+fAYaZZuA47DNddLSUS4rMcfVxJgTUo7ZM3wCCPrs13OBIRzSoeaFMQ==';
const A4_ALIPAY_PUBLIC_KEY =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk7LzhmMa2c4qQd4fqAqenfbuFoA7stPKvoS1LrZEsVnOOGUUjwoa1oU9xsSPjcOWhIerU/VAN4J95GIAXx59ipcleIyfLn2FhHXPgLJpvo+b2jJFyn/1/DbeJDh+0yDVAOf50Z7HhI0mdUhFMkXlT7BU0ZMtJf/TmISFEfhDU/w6qFd6D42L97byAkq0K6LroglSVF24GqJEa7hSeUIkZWj7RasykXrc2uVJ1+ejkXE0LyPxa2AHykMGbJLf5SiZvaNzUZgnKIR36mLOHpQ/2JCXxhXZYUWHzy0kMH54JcUEeksFWBYLGvLjV1phbcUIc3Q76tIuqApY6E222OoZZQIDAQAB';
const A4_RAW_RESPONSE =
  '{"alipay_open_file_upload_response":{"code":"10000","msg":"Success","file_id":"CAxAToWB1JsAAAAAAAAAAAAADgSLAQBr"},"sign":"F+LDzpTNiavn7xVZPGuPCSSVRSmWzJGgtuji6tVELGEaqMaNj0jRKXUEr5nloZJBBmwEnddOyCjjepMmrTKTvoOqQ0Efxpr/R1iEeHTHVbb/Q8TTh6Up5gHJDkILdaWS2q1cWeQ6VT+HQY9P3WRXS7uhILHuDODIhpAyCu5KhWGt0rMCIG+Im6NODJP2oohtSCtmTFXg58HH587Z2y2bdbjzOxLvzD9IrU1imghXQ2S/Q+wMIvRk9on6cWnBLkrNvJKapA2ReNGWOwyuASvB9zDVzhMPbR+3mfRGkVDxsq5HYLjBKGskJMXHw0HuugZij6ScRuaLPODhmHwr/pJ9yw=="}';
const A9_ALIPAY_PUBLIC_KEY =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXIofVHkA/tAlBAd5DrY7YpvI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcOrxFYRlFilvVLTXg4LWjR1tdPkO6+i7wQZAIVMClPkwVRZEbaERRHlKqTzv2gGv5rDU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV5/FdcWIt+L8SR1ss7EXTjYDFtxcKVv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5JwIDAQAB';
const A9_STRING_TO_VERIFY =
  'app_id=2019073166072302&auth_app_id=2019073166072302&buyer_id=2088102534368455&buyer_logon_id=xud***@126.com&buyer_pay_amount=0.10&charset=utf-8&fund_bill_list=[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]&gmt_create=2019-08-15 15:56:22&gmt_payment=2019-08-15 15:56:24&invoice_amount=0.10&notify_id=2019081500222155624068450559358070&notify_time=2019-08-15 15:56:25&notify_type=trade_status_sync&out_trade_no=20190815155618536-564-57&point_amount=0.00&receipt_amount=0.10&seller_email=z97-yuquerevenue@service.aliyun.com&seller_id=2088531891668739&subject=\u8bed\u96c0\u7a7a\u95f4 500\u4eba\u89c4\u6a21&total_amount=0.10&trade_no=2019081522001468450512505578&trade_status=TRADE_SUCCESS&version=1.0';
const A9_SIGN =
  'QfTb8tqE1BMhS5qAnXtvsF3/jBkEvu9q9en0pdbBUDDjvKycZhQb7h8GDs4FKfi049PynaNuatxSgLb/nLWZpXyyh0LEWdK2S6Ri7nPwrVgOs08zugLO20vOQz44y3ti2Ncm8/wZts1Fr2gZ7pShnVX3d1B50hbsXnObT1r/U8ONNQjWXd0HIul4TG+Q3fm3svmSvFEy0WnzuhcyHPX5Gm4ELNctL6Qd5YniGJFNcc7kopHYtI/XD9YCKCH6Ct02rzUs9i11C9CsadtZn+WhxF26Dqt9sGEFajkJ8cxUTLi8+VCpLHsgPE8P0y095uQcDdK0YjCh4x7wVSov+lrmOQ==';

const spkiFromBase64 = (b64: string) =>
  createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });

/** `k=v&k=v` back into parameters (the vectors hold no `&` inside values). */
function paramsOf(signed: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of signed.split('&')) {
    const at = pair.indexOf('=');
    params[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return params;
}

describe('alipay sandbox signer', () => {
  it('builds the A3 request string and signs it to the D2 signature', () => {
    const params = { ...paramsOf(A3_STRING_TO_SIGN), sign: 'ignored', empty: '' };
    const content = alipaySignContent(params, REQUEST_SIGN_EXCLUDES);
    expect(content).toBe(A3_STRING_TO_SIGN);
    expect(rsa2Sign(content, createPrivateKey(D0_PRIVATE_KEY))).toBe(D2_SIGNATURE);
  });

  it('keeps sign_type in a request string but drops it from a notification string', () => {
    const params = { b: '2', a: '1', sign: 's', sign_type: 'RSA2' };
    expect(alipaySignContent(params, REQUEST_SIGN_EXCLUDES)).toBe('a=1&b=2&sign_type=RSA2');
    expect(alipaySignContent(params, NOTIFY_SIGN_EXCLUDES)).toBe('a=1&b=2');
  });

  it('verifies the published A4 response over the raw text of its *_response value', () => {
    const inner = '{"code":"10000","msg":"Success","file_id":"CAxAToWB1JsAAAAAAAAAAAAADgSLAQBr"}';
    expect(
      A4_RAW_RESPONSE.startsWith(`{"alipay_open_file_upload_response":${inner},"sign":"`),
    ).toBe(true);
    const sign = (JSON.parse(A4_RAW_RESPONSE) as { sign: string }).sign;
    const key = spkiFromBase64(A4_ALIPAY_PUBLIC_KEY);
    expect(rsa2Verify(inner, sign, key)).toBe(true);
    expect(rsa2Verify(inner.replace('10000', '10001'), sign, key)).toBe(false);
  });

  it('verifies the published A9 notification without sign_type, and not with it', () => {
    const params = { ...paramsOf(A9_STRING_TO_VERIFY), sign: A9_SIGN, sign_type: 'RSA2' };
    const key = spkiFromBase64(A9_ALIPAY_PUBLIC_KEY);
    const content = alipaySignContent(params, NOTIFY_SIGN_EXCLUDES);
    expect(content).toBe(A9_STRING_TO_VERIFY);
    expect(rsa2Verify(content, A9_SIGN, key)).toBe(true);
    expect(rsa2Verify(alipaySignContent(params, REQUEST_SIGN_EXCLUDES), A9_SIGN, key)).toBe(false);
  });

  it('signs exactly the response bytes it sends, slashes escaped as Alipay does', () => {
    const privateKey = createPrivateKey(D0_PRIVATE_KEY);
    const text = signedResponseText(
      responseKeyOf('alipay.trade.precreate'),
      { code: '10000', msg: 'Success', qr_code: 'https://qr.example/x', subject: '咖啡' },
      privateKey,
    );
    const inner =
      '{"code":"10000","msg":"Success","qr_code":"https:\\/\\/qr.example\\/x","subject":"咖啡"}';
    expect(text.startsWith(`{"alipay_trade_precreate_response":${inner},"sign":"`)).toBe(true);
    const parsed = JSON.parse(text) as { sign: string; alipay_trade_precreate_response: object };
    expect(parsed.alipay_trade_precreate_response).toMatchObject({
      qr_code: 'https://qr.example/x',
    });
    expect(rsa2Verify(inner, parsed.sign, createPublicKey(privateKey))).toBe(true);
    // Re-serialising loses the escapes, and with them the signature.
    const reserialised = JSON.stringify(parsed.alipay_trade_precreate_response);
    expect(rsa2Verify(reserialised, parsed.sign, createPublicKey(privateKey))).toBe(false);
    expect(alipayJson({ a: '/' })).toBe('{"a":"\\/"}');
  });

  it('treats malformed signatures as not verifying instead of throwing', () => {
    const key = createPublicKey(createPrivateKey(D0_PRIVATE_KEY));
    expect(rsa2Verify('x', 'not base64!', key)).toBe(false);
    expect(rsa2Verify('x', 'AAAA', key)).toBe(false);
  });
});
