/**
 * The openapi gateway (`gateway.do`) as a merchant sees it: the common
 * parameters and RSA2 request signature (protocols.md A2, A3), the signed JSON
 * answer (A4), result codes (A5), yuan amounts (A6) and the trade APIs (A7).
 * Envelope failures (app_id, signature, method…) answer under `error_response`;
 * business failures under the method's own `*_response` key.
 */
import { Injectable } from '@nestjs/common';
import { fenToYuan, MAX_AMOUNT_FEN, yuanToFen } from '../../common/money/money';
import { AlipaySandboxBillService } from './alipay-sandbox-bill.service';
import { AlipayGatewayError } from './alipay-sandbox.errors';
import { AlipaySandboxService, type TradeRef } from './alipay-sandbox.service';
import { AlipaySandboxCredentials } from './alipay-sandbox.settings';
import {
  alipaySignContent,
  NOTIFY_SIGN_EXCLUDES,
  REQUEST_SIGN_EXCLUDES,
  responseKeyOf,
  rsa2Sign,
  rsa2Verify,
  signedResponseText,
} from './alipay-sandbox.signer';
import { beijingDate, beijingDayStart, formatBeijing, parseBeijing } from './alipay-sandbox.time';
import type { SandboxTrade, TradeProduct } from './alipay-sandbox.types';

export type GatewayParams = Record<string, string>;

/** A prototype-less record: parameter names such as `__proto__` or `toString` stay plain keys. */
export function newGatewayParams(): GatewayParams {
  return Object.create(null) as GatewayParams;
}

export type GatewayReply =
  /** delayMs: hold the answer that long (a refund told to answer late). */
  | { kind: 'json'; text: string; delayMs?: number }
  | { kind: 'redirect'; location: string }
  /** A browser flow (page.pay, wap.pay) that failed: Alipay shows an error page. */
  | { kind: 'error-page'; error: AlipayGatewayError };

interface VerifiedRequest {
  method: string;
  params: GatewayParams;
  biz: Record<string, unknown>;
}

/** Methods a browser reaches (or the app SDK hands over): they lead to the cashier. */
const CASHIER_METHODS: Readonly<Record<string, { product: TradeProduct; productCode: string }>> = {
  'alipay.trade.page.pay': { product: 'page', productCode: 'FAST_INSTANT_TRADE_PAY' },
  'alipay.trade.wap.pay': { product: 'wap', productCode: 'QUICK_WAP_WAY' },
  'alipay.trade.app.pay': { product: 'app', productCode: 'QUICK_MSECURITY_PAY' },
};

const API_METHODS = [
  'alipay.trade.precreate',
  'alipay.trade.query',
  'alipay.trade.close',
  'alipay.trade.refund',
  'alipay.trade.fastpay.refund.query',
  'alipay.data.dataservice.bill.downloadurl.query',
] as const;

const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const OUT_NO = /^[0-9A-Za-z_-]+$/;
const DEFAULT_PRECREATE_TTL_MS = 2 * 3600_000; // a precreate QR code lives 2 h
const MAX_TTL_MS = 15 * 86_400_000; // timeout_express allows up to 15d

const SUCCESS = { code: '10000', msg: 'Success' } as const;

@Injectable()
export class AlipaySandboxGateway {
  constructor(
    private readonly credentials: AlipaySandboxCredentials,
    private readonly trades: AlipaySandboxService,
    private readonly bills: AlipaySandboxBillService,
  ) {}

  /** One call to gateway.do, with the query string and form body already merged. */
  handle(params: GatewayParams): GatewayReply {
    const cashier = CASHIER_METHODS[params.method ?? ''];
    let request: VerifiedRequest;
    try {
      request = this.verify(params);
    } catch (err) {
      if (err instanceof AlipayGatewayError) return this.reject(err, params.method);
      throw err;
    }
    if (cashier) {
      try {
        const trade = this.createTrade(cashier.product, request);
        return { kind: 'redirect', location: this.trades.cashierUrl(trade.outTradeNo) };
      } catch (err) {
        if (err instanceof AlipayGatewayError) return { kind: 'error-page', error: err };
        throw err;
      }
    }
    const responseKey = responseKeyOf(request.method);
    try {
      const fault =
        request.method === 'alipay.trade.refund'
          ? this.trades.takeRefundFault(optionalText(request.biz, 'out_trade_no', 64))
          : undefined;
      if (fault?.outcome === 'fail') {
        throw AlipayGatewayError.business(
          'ACQ.SELLER_BALANCE_NOT_ENOUGH',
          '卖家余额不足 (sandbox: this refund was told to fail)',
        );
      }
      if (fault?.outcome === 'system_error') {
        throw AlipayGatewayError.business(
          'ACQ.SYSTEM_ERROR',
          '系统错误 (sandbox: this refund was told to fail unsurely; nothing was refunded)',
        );
      }
      const reply = this.json(
        responseKey,
        { ...SUCCESS, ...this.dispatch(request) },
        this.trades.takeAnswerCertSn(optionalText(request.biz, 'out_trade_no', 64)),
      );
      return fault?.outcome === 'delay' ? { ...reply, delayMs: fault.delayMs } : reply;
    } catch (err) {
      if (err instanceof AlipayGatewayError) return this.json(responseKey, err);
      throw err;
    }
  }

  /** An envelope failure: an error page for browser methods, else `error_response`. */
  reject(error: AlipayGatewayError, method: string | undefined): GatewayReply {
    return CASHIER_METHODS[method ?? '']
      ? { kind: 'error-page', error }
      : this.json('error_response', error);
  }

  /**
   * What the Alipay app does with the order string a merchant server produced
   * for alipay.trade.app.pay (protocols.md A7): checks it and opens the cashier.
   */
  openAppPayment(orderString: string): { outTradeNo: string; cashierUrl: string } {
    const params = parseOrderString(orderString);
    const request = this.verify(params);
    if (request.method !== 'alipay.trade.app.pay') {
      throw new AlipayGatewayError(
        '40002',
        'isv.invalid-method',
        `不存在的方法名 (an order string is for alipay.trade.app.pay, not ${request.method})`,
      );
    }
    const trade = this.createTrade('app', request);
    return { outTradeNo: trade.outTradeNo, cashierUrl: this.trades.cashierUrl(trade.outTradeNo) };
  }

  /**
   * Where the cashier sends the browser after a page.pay / wap.pay payment: the
   * return_url with signed parameters, verified like a notification (A7, A9).
   */
  signedReturnUrl(trade: SandboxTrade): string | null {
    if (!trade.returnUrl || (trade.product !== 'page' && trade.product !== 'wap')) return null;
    const fields: Record<string, string> = {
      charset: 'utf-8',
      out_trade_no: trade.outTradeNo,
      method: `alipay.trade.${trade.product}.pay.return`,
      total_amount: fenToYuan(trade.totalFen),
      trade_no: trade.tradeNo,
      auth_app_id: this.credentials.appId,
      version: '1.0',
      app_id: this.credentials.appId,
      sign_type: 'RSA2',
      seller_id: this.credentials.sellerId,
      timestamp: formatBeijing(new Date()),
    };
    fields.sign = rsa2Sign(
      alipaySignContent(fields, NOTIFY_SIGN_EXCLUDES),
      this.credentials.gatewayPrivateKey,
    );
    const query = Object.entries(fields)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join('&');
    const hashAt = trade.returnUrl.indexOf('#');
    const base = hashAt >= 0 ? trade.returnUrl.slice(0, hashAt) : trade.returnUrl;
    return `${base}${base.includes('?') ? '&' : '?'}${query}`;
  }

  // ---- envelope ------------------------------------------------------------------

  private verify(params: GatewayParams): VerifiedRequest {
    const fail = (code: '40001' | '40002', subCode: string, subMsg: string) =>
      new AlipayGatewayError(code, subCode, subMsg);
    if (!params.app_id)
      throw fail('40001', 'isv.missing-app-id', '缺少AppID参数 (app_id is missing)');
    if (params.app_id !== this.credentials.appId) {
      throw fail('40002', 'isv.invalid-app-id', '无效的AppID参数 (unknown app_id)');
    }
    if (!params.sign) {
      throw fail('40002', 'isv.invalid-signature', '验签出错 (sign is missing)');
    }
    if (!params.sign_type) {
      throw fail('40001', 'isv.missing-signature-type', '缺少签名类型参数 (sign_type is missing)');
    }
    if (params.sign_type !== 'RSA2') {
      throw fail(
        '40002',
        'isv.invalid-signature-type',
        '无效的签名类型 (the sandbox accepts RSA2 only)',
      );
    }
    this.verifyCertificateSns(params);
    const content = alipaySignContent(params, REQUEST_SIGN_EXCLUDES);
    if (!rsa2Verify(content, params.sign, this.credentials.appPublicKey)) {
      // Like Alipay, echo the string the gateway verified: it is how developers
      // find out which parameter they signed differently.
      throw fail(
        '40002',
        'isv.invalid-signature',
        `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content}`,
      );
    }
    const method = params.method;
    if (!method) throw fail('40001', 'isv.missing-method', '缺少方法名参数 (method is missing)');
    if (!(API_METHODS as readonly string[]).includes(method) && !CASHIER_METHODS[method]) {
      throw fail(
        '40002',
        'isv.invalid-method',
        `不存在的方法名 (${method} is not simulated by the sandbox)`,
      );
    }
    if (params.charset && params.charset.toLowerCase() !== 'utf-8') {
      throw fail(
        '40002',
        'isv.invalid-charset',
        '字符集错误 (the sandbox accepts charset=utf-8 only)',
      );
    }
    if (params.format && params.format.toUpperCase() !== 'JSON') {
      throw fail('40002', 'isv.invalid-format', '无效的数据格式 (format must be JSON)');
    }
    if (!params.timestamp) {
      throw fail('40001', 'isv.missing-timestamp', '缺少时间戳参数 (timestamp is missing)');
    }
    if (!TIMESTAMP.test(params.timestamp)) {
      throw fail('40002', 'isv.invalid-timestamp', '非法的时间戳参数 (yyyy-MM-dd HH:mm:ss)');
    }
    if (params.version && params.version !== '1.0') {
      throw fail('40002', 'isv.invalid-version', '无效的版本号 (version must be 1.0)');
    }
    if (params.encrypt_type) {
      throw fail(
        '40002',
        'isv.invalid-encrypt-type',
        '解密出错 (AES-encrypted biz_content is not simulated)',
      );
    }
    return { method, params, biz: parseBizContent(params.biz_content) };
  }

  /**
   * Certificate mode: the request names the app certificate and the root bundle
   * Alipay issued (both are also signed, as every other parameter).
   */
  private verifyCertificateSns(params: GatewayParams): void {
    const sns = this.credentials.certificateSns;
    if (!sns) return;
    for (const [name, expected] of [
      ['app_cert_sn', sns.appCertSn],
      ['alipay_root_cert_sn', sns.rootCertSn],
    ] as const) {
      const given = params[name];
      const subName = name.replace(/_/g, '-');
      if (!given) {
        throw new AlipayGatewayError(
          '40001',
          `isv.missing-${subName}`,
          `缺少${name}参数 (${name} is missing)`,
        );
      }
      if (given !== expected) {
        throw new AlipayGatewayError(
          '40002',
          `isv.invalid-${subName}`,
          `${name}无效 (${given} is not the SN of the certificate the sandbox issued)`,
        );
      }
    }
  }

  private json(
    responseKey: string,
    body: AlipayGatewayError | Record<string, unknown>,
    /** Overrides the alipay_cert_sn named in a certificate-mode answer (a control-API fault). */
    certSnOverride?: string,
  ): Extract<GatewayReply, { kind: 'json' }> {
    const payload =
      body instanceof AlipayGatewayError
        ? { code: body.code, msg: body.msg, sub_code: body.subCode, sub_msg: body.subMsg }
        : body;
    return {
      kind: 'json',
      text: signedResponseText(
        responseKey,
        payload,
        this.credentials.gatewayPrivateKey,
        this.credentials.certificateSns
          ? (certSnOverride ?? this.credentials.certificateSns.alipayCertSn)
          : undefined,
      ),
    };
  }

  // ---- methods --------------------------------------------------------------------

  private dispatch({ method, biz, params }: VerifiedRequest): Record<string, unknown> {
    switch (method) {
      case 'alipay.trade.precreate': {
        const trade = this.createTrade('precreate', { method, biz, params });
        return {
          out_trade_no: trade.outTradeNo,
          qr_code: this.trades.cashierUrl(trade.outTradeNo),
        };
      }
      case 'alipay.trade.query':
        return queryAnswer(this.trades.findTrade(tradeRef(biz)));
      case 'alipay.trade.close': {
        const trade = this.trades.closeTrade(tradeRef(biz));
        return { trade_no: trade.tradeNo, out_trade_no: trade.outTradeNo };
      }
      case 'alipay.trade.refund':
        return this.refund(biz);
      case 'alipay.trade.fastpay.refund.query':
        return this.refundQuery(biz);
      case 'alipay.data.dataservice.bill.downloadurl.query':
        return {
          bill_download_url: this.bills.issueDownloadUrl(
            requiredText(biz, 'bill_type', 32),
            requiredText(biz, 'bill_date', 10),
          ),
        };
      default:
        // verify() let only known methods through
        throw new AlipayGatewayError('40002', 'isv.invalid-method', `不存在的方法名 (${method})`);
    }
  }

  private createTrade(
    product: TradeProduct,
    { method, biz, params }: VerifiedRequest,
  ): SandboxTrade {
    const now = new Date();
    const outTradeNo = requiredText(biz, 'out_trade_no', 64);
    if (!OUT_NO.test(outTradeNo)) {
      throw AlipayGatewayError.invalidParameter('out_trade_no: letters, digits, _ and - only');
    }
    const productCode = optionalText(biz, 'product_code', 64);
    const expected = CASHIER_METHODS[method]?.productCode;
    if (expected && productCode !== expected) {
      throw AlipayGatewayError.invalidParameter(`product_code must be ${expected} for ${method}`);
    }
    if (product === 'precreate' && productCode && productCode !== 'FACE_TO_FACE_PAYMENT') {
      throw AlipayGatewayError.invalidParameter('product_code must be FACE_TO_FACE_PAYMENT');
    }
    const browser = product === 'page' || product === 'wap';
    return this.trades.createTrade(
      {
        product,
        outTradeNo,
        totalFen: amountFen(biz, 'total_amount'),
        subject: requiredText(biz, 'subject', 256),
        body: optionalText(biz, 'body', 128),
        passbackParams: optionalText(biz, 'passback_params', 512),
        notifyUrl: httpUrl(params.notify_url, 'notify_url'),
        returnUrl: browser ? httpUrl(params.return_url, 'return_url') : undefined,
        quitUrl:
          product === 'wap' ? httpUrl(optionalText(biz, 'quit_url', 400), 'quit_url') : undefined,
        expiresAt: expiry(biz, product, now),
      },
      now,
    );
  }

  private refund(biz: Record<string, unknown>): Record<string, unknown> {
    const ref = tradeRef(biz);
    const { trade, refund, fundChange } = this.trades.refund({
      ...ref,
      amountFen: amountFen(biz, 'refund_amount'),
      outRequestNo: optionalText(biz, 'out_request_no', 64),
      reason: optionalText(biz, 'refund_reason', 256),
    });
    return {
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      buyer_logon_id: trade.buyerLogonId,
      buyer_user_id: trade.buyerId,
      fund_change: fundChange ? 'Y' : 'N',
      refund_fee: fenToYuan(trade.refundedFen),
      send_back_fee: fenToYuan(refund.amountFen),
      gmt_refund_pay: formatBeijing(refund.refundedAt),
    };
  }

  private refundQuery(biz: Record<string, unknown>): Record<string, unknown> {
    const outRequestNo = requiredText(biz, 'out_request_no', 64);
    const { trade, refund } = this.trades.findRefund(tradeRef(biz), outRequestNo);
    const answer: Record<string, unknown> = {
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      out_request_no: outRequestNo,
    };
    // An unknown out_request_no is still code 10000, just without refund_status.
    if (refund) {
      Object.assign(answer, {
        total_amount: fenToYuan(trade.totalFen),
        refund_amount: fenToYuan(refund.amountFen),
        refund_status: 'REFUND_SUCCESS',
        gmt_refund_pay: formatBeijing(refund.refundedAt),
        refund_reason: refund.reason,
      });
    }
    return answer;
  }
}

// ---- biz_content fields -------------------------------------------------------------

function parseBizContent(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AlipayGatewayError(
      '40002',
      'isv.invalid-parameter',
      '参数无效 (biz_content is not JSON)',
    );
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new AlipayGatewayError(
      '40002',
      'isv.invalid-parameter',
      '参数无效 (biz_content is not a JSON object)',
    );
  }
  return value as Record<string, unknown>;
}

function optionalText(biz: Record<string, unknown>, key: string, max: number): string | undefined {
  const value = biz[key];
  if (value === undefined || value === null || value === '') return undefined;
  // SDKs pass numbers through unchanged; Alipay reads them as their text.
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string')
    throw AlipayGatewayError.invalidParameter(`${key} must be a string`);
  if (text.length > max) throw AlipayGatewayError.invalidParameter(`${key} is longer than ${max}`);
  return text;
}

function requiredText(biz: Record<string, unknown>, key: string, max: number): string {
  const text = optionalText(biz, key, max);
  if (text === undefined) throw AlipayGatewayError.invalidParameter(`${key} is required`);
  return text;
}

/** A yuan amount with at most 2 decimals in [0.01, 100000000] (A6), as integer fen. */
function amountFen(biz: Record<string, unknown>, key: string): number {
  const text = requiredText(biz, key, 20);
  let fen: number;
  try {
    fen = yuanToFen(text);
  } catch {
    throw AlipayGatewayError.invalidParameter(`${key} must be yuan with at most 2 decimals`);
  }
  if (fen < 1 || fen > MAX_AMOUNT_FEN) {
    throw AlipayGatewayError.invalidParameter(`${key} must be within [0.01, 100000000]`);
  }
  return fen;
}

function tradeRef(biz: Record<string, unknown>): TradeRef {
  return {
    outTradeNo: optionalText(biz, 'out_trade_no', 64),
    tradeNo: optionalText(biz, 'trade_no', 64),
  };
}

function httpUrl(value: string | undefined, key: string): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // answered below
  }
  throw AlipayGatewayError.invalidParameter(`${key} must be an http(s) URL`);
}

/**
 * time_expire (absolute, Beijing) wins over timeout_express (relative: 90m, 2h,
 * 3d, or 1c for the end of today). Without either a precreate QR code lives 2 h
 * and other products 15 d.
 */
function expiry(biz: Record<string, unknown>, product: TradeProduct, now: Date): Date {
  const timeExpire = optionalText(biz, 'time_expire', 19);
  if (timeExpire) {
    const at = parseBeijing(timeExpire);
    if (!at) throw AlipayGatewayError.invalidParameter('time_expire must be yyyy-MM-dd HH:mm:ss');
    if (at.getTime() <= now.getTime()) {
      throw AlipayGatewayError.invalidParameter('time_expire is in the past');
    }
    return at;
  }
  const relative = optionalText(biz, 'timeout_express', 8);
  if (relative) {
    if (relative === '1c') {
      return new Date(beijingDayStart(beijingDate(now))!.getTime() + 86_400_000);
    }
    const m = /^([1-9]\d*)([mhd])$/.exec(relative);
    const unit = m ? { m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'] : 0;
    const ms = m ? Number(m[1]) * unit : 0;
    if (!m || ms > MAX_TTL_MS) {
      throw AlipayGatewayError.invalidParameter('timeout_express must be 1m to 15d, or 1c');
    }
    return new Date(now.getTime() + ms);
  }
  return new Date(
    now.getTime() + (product === 'precreate' ? DEFAULT_PRECREATE_TTL_MS : MAX_TTL_MS),
  );
}

function queryAnswer(trade: SandboxTrade): Record<string, unknown> {
  const total = fenToYuan(trade.totalFen);
  const paid = trade.paidAt !== undefined;
  const paidAmount = paid ? total : '0.00';
  return {
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    buyer_logon_id: trade.buyerLogonId,
    trade_status: trade.status,
    total_amount: total,
    buyer_pay_amount: paidAmount,
    point_amount: '0.00',
    invoice_amount: paidAmount,
    receipt_amount: paidAmount,
    send_pay_date: paid ? formatBeijing(trade.paidAt!) : undefined,
    buyer_user_id: trade.buyerId,
    subject: trade.subject,
    body: trade.body,
    passback_params: trade.passbackParams,
    fund_bill_list: paid
      ? [{ fund_channel: 'ALIPAYACCOUNT', amount: total, real_amount: total }]
      : undefined,
  };
}

/** The app SDK's order string: `k=v&…`, values URL-encoded, each key once. */
function parseOrderString(orderString: string): GatewayParams {
  const params = newGatewayParams();
  for (const [k, v] of new URLSearchParams(orderString)) {
    if (k in params) {
      throw new AlipayGatewayError(
        '40002',
        'isv.invalid-parameter',
        `参数无效 (${k} appears twice)`,
      );
    }
    params[k] = v;
  }
  return params;
}
