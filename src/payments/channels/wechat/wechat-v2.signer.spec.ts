import { createCipheriv, createHash, createSecretKey } from 'node:crypto';
// Code nobody here wrote: the community WeChat Pay SDK's Hash and AesEcb.
import { Aes, Hash } from 'wechatpay-axios-plugin';
import {
  decryptReqInfo,
  ReqInfoDecryptError,
  v2AppPayParams,
  v2JsapiPayParams,
  v2Sign,
  v2SignString,
  v2Signed,
  v2Verify,
} from './wechat-v2.signer';

// protocols.md B2 / D4: WeChat's worked example.
const EXAMPLE = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};
const EXAMPLE_KEY = '192006250b4c09247ec02edce69f6a2d';
const key = createSecretKey(Buffer.from(EXAMPLE_KEY, 'utf8'));

describe('WeChat Pay v2 signer', () => {
  it("reproduces WeChat's worked example, MD5 and HMAC-SHA256 (D4)", () => {
    expect(v2SignString(EXAMPLE)).toBe(
      'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA',
    );
    expect(v2Sign(EXAMPLE, key, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(v2Sign(EXAMPLE, key, 'HMAC-SHA256')).toBe(
      '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
    );
  });

  it('agrees with wechatpay-axios-plugin Hash.sign on other messages, both types', () => {
    const fields = {
      appid: 'wx2421b1c4370ec43b',
      mch_id: '10000100',
      nonce_str: 'Zz9Yy8Xx7Ww6',
      body: '腾讯充值中心-QQ会员充值 & more=',
      out_trade_no: '1415659990',
      total_fee: '1',
      spbill_create_ip: '14.23.150.211',
      notify_url: 'https://pay.example.com/notify/wechat/v2',
      trade_type: 'NATIVE',
      attach: '',
    };
    for (const type of ['MD5', 'HMAC-SHA256'] as const) {
      const withType = type === 'MD5' ? fields : { ...fields, sign_type: type };
      expect(v2Sign(withType, key, type)).toBe(Hash.sign(type, withType, EXAMPLE_KEY));
    }
  });

  it('drops empty fields and sign itself, keeps sign_type', () => {
    expect(v2SignString({ b: '2', a: '1', sign: 'X', empty: '', sign_type: 'MD5' })).toBe(
      'a=1&b=2&sign_type=MD5',
    );
  });

  it('verifies with the configured type only, in constant time; any change breaks it', () => {
    for (const type of ['MD5', 'HMAC-SHA256'] as const) {
      const signed = v2Signed(EXAMPLE, key, type);
      expect(signed.sign_type).toBe(type === 'MD5' ? undefined : 'HMAC-SHA256');
      expect(v2Verify(signed, key, type)).toBe(true);
      expect(v2Verify({ ...signed, sign: signed.sign.toLowerCase() }, key, type)).toBe(true);
      expect(v2Verify({ ...signed, body: 'test2' }, key, type)).toBe(false);
      expect(v2Verify({ ...signed, sign: undefined }, key, type)).toBe(false);
      expect(v2Verify(signed, createSecretKey(Buffer.from('x'.repeat(32))), type)).toBe(false);
    }
    // An MD5 sign is not accepted where HMAC-SHA256 is configured, nor the reverse.
    expect(v2Verify(v2Signed(EXAMPLE, key, 'MD5'), key, 'HMAC-SHA256')).toBe(false);
    const hmac = v2Signed(EXAMPLE, key, 'HMAC-SHA256');
    expect(v2Verify(hmac, key, 'MD5')).toBe(false);
  });

  it('signs the JSAPI and APP client parameters over their camelCase / lower-case names', () => {
    for (const type of ['MD5', 'HMAC-SHA256'] as const) {
      const jsapi = v2JsapiPayParams({
        appId: 'wxd930ea5d5a258f4f',
        prepayId: 'wx201410272009395522657a690389285100',
        apiKey: key,
        signType: type,
        timestamp: 1414561699,
        nonce: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      });
      const { paySign, ...jsFields } = jsapi;
      expect(jsFields).toEqual({
        appId: 'wxd930ea5d5a258f4f',
        timeStamp: '1414561699',
        nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
        package: 'prepay_id=wx201410272009395522657a690389285100',
        signType: type,
      });
      expect(paySign).toBe(Hash.sign(type, jsFields, EXAMPLE_KEY));
      const app = v2AppPayParams({
        appId: 'wxd930ea5d5a258f4f',
        mchId: '10000100',
        prepayId: 'wx201410272009395522657a690389285100',
        apiKey: key,
        signType: type,
        timestamp: '1414561699',
        nonce: 'abc',
      });
      const { sign, ...appFields } = app;
      expect(appFields).toMatchObject({ partnerid: '10000100', package: 'Sign=WXPay' });
      expect(sign).toBe(Hash.sign(type, appFields, EXAMPLE_KEY));
    }
  });
});

describe('WeChat Pay v2 req_info', () => {
  const plain =
    '<root><out_refund_no><![CDATA[131811191610442717309]]></out_refund_no><refund_status><![CDATA[SUCCESS]]></refund_status></root>';
  const aesKey = createHash('md5').update(EXAMPLE_KEY).digest('hex');

  it('derives the AES key as D4 says', () => {
    expect(aesKey).toBe('d96eb16afdd491fa1e705096edbc2205');
  });

  it('decrypts what wechatpay-axios-plugin AesEcb and a node:crypto reference encrypt', () => {
    const byPlugin = Aes.AesEcb.encrypt(plain, aesKey);
    expect(decryptReqInfo(byPlugin, key)).toBe(plain);
    const cipher = createCipheriv('aes-256-ecb', Buffer.from(aesKey), null);
    const byNode = Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
    expect(decryptReqInfo(byNode, key)).toBe(plain);
    expect(Aes.AesEcb.decrypt(byNode, aesKey)).toBe(plain);
  });

  it('matches the published AES-256-ECB vector (D4)', () => {
    const k = '0123456789abcdef0123456789abcdef';
    const c = createCipheriv('aes-256-ecb', Buffer.from(k), null);
    expect(Buffer.concat([c.update('hello'), c.final()]).toString('base64')).toBe(
      'pZwJZBLuy3mDACEQT4YTBw==',
    );
  });

  it('refuses req_info under another key, truncated or not base64', () => {
    const other = createHash('md5').update('y'.repeat(32)).digest('hex');
    const foreign = Aes.AesEcb.encrypt(plain, other);
    expect(() => decryptReqInfo(foreign, key)).toThrow(ReqInfoDecryptError);
    expect(() => decryptReqInfo(foreign.slice(0, 8), key)).toThrow(ReqInfoDecryptError);
    expect(() => decryptReqInfo('not base64!', key)).toThrow(ReqInfoDecryptError);
  });
});
