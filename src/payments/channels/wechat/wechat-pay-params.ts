/**
 * The parameters a WeChat client takes to pay a prepay_id, the same field names
 * for API v2 and v3 (protocols.md B3 "Client-side pay parameters", C4 "调起支付"):
 * JSAPI / mini program (WeixinJSBridge getBrandWCPayRequest, wx.requestPayment)
 * in camelCase, APP (OpenSDK PayReq) in lower case. Only the signature differs
 * between the versions; each version's signer adds it.
 */
import { randomAlphanumeric } from '../../../common/ids/ids';

export interface JsapiPayFields {
  appId: string;
  /** Unix seconds, as a string. */
  timeStamp: string;
  nonceStr: string;
  /** `prepay_id=<prepay_id>` */
  package: string;
  /** v3: RSA; v2: the configured MD5 or HMAC-SHA256. */
  signType: string;
}

export interface JsapiPayParams extends JsapiPayFields {
  paySign: string;
}

/** partnerid is the mch id; package is the constant `Sign=WXPay`. */
export interface AppPayFields {
  appid: string;
  partnerid: string;
  prepayid: string;
  package: 'Sign=WXPay';
  noncestr: string;
  timestamp: string;
}

export interface AppPayParams extends AppPayFields {
  sign: string;
}

export interface PayFieldsInput {
  appId: string;
  prepayId: string;
  timestamp?: number | string;
  nonce?: string;
}

const unixNow = (): string => String(Math.floor(Date.now() / 1000));

export function jsapiPayFields(input: PayFieldsInput & { signType: string }): JsapiPayFields {
  return {
    appId: input.appId,
    timeStamp: String(input.timestamp ?? unixNow()),
    nonceStr: input.nonce ?? randomAlphanumeric(32),
    package: `prepay_id=${input.prepayId}`,
    signType: input.signType,
  };
}

export function appPayFields(input: PayFieldsInput & { mchId: string }): AppPayFields {
  return {
    appid: input.appId,
    partnerid: input.mchId,
    prepayid: input.prepayId,
    package: 'Sign=WXPay',
    noncestr: input.nonce ?? randomAlphanumeric(32),
    timestamp: String(input.timestamp ?? unixNow()),
  };
}
