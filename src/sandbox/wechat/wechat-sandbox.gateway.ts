/**
 * The APIv3 gateway as a merchant sees it: the Authorization header and its
 * SHA256withRSA signature over `METHOD\nURL\nTS\nNONCE\nBODY\n` (protocols.md
 * C1), answers signed with the platform key (C2), `{"code","message"}` errors
 * with HTTP statuses, fen amounts and RFC 3339 times, and the direct-merchant
 * APIs of C4: placement (native, jsapi, h5, app), query, close, refund and
 * refund query.
 *
 * Answers given before the caller is authenticated (401 SIGN_ERROR, a missing
 * User-Agent) carry no Wechatpay-* signature: probes of the real gateway found
 * none on those (wechatpay skill errors.md §3); every later answer is signed,
 * business errors included, as the v3 docs say of all answers.
 */
import { Injectable } from '@nestjs/common';
import { isIP } from 'node:net';
import type { RawBodyRequest } from '../../common/http/body-parsers';
import { MAX_AMOUNT_FEN } from '../../common/money/money';
import { WechatSandboxBills } from './wechat-sandbox-bill.service';
import { BILL_TYPES, isBillDate, type BillType } from './wechat-sandbox.bill';
import { transactionResource } from './wechat-sandbox-notification.builder';
import { WechatSandboxCertificates } from './wechat-sandbox-certificates';
import { WechatApiError } from './wechat-sandbox.errors';
import { WechatSandboxService } from './wechat-sandbox.service';
import { WechatSandboxCredentials } from './wechat-sandbox.settings';
import {
  appPayMessage,
  jsapiPayMessage,
  parseAuthorization,
  requestMessage,
  sha256RsaVerify,
  signedHeaders,
} from './wechat-sandbox.signer';
import { formatRfc3339Beijing, parseRfc3339 } from './wechat-sandbox.time';
import type {
  RefundFault,
  SandboxRefund,
  SandboxTrade,
  TradeProduct,
} from './wechat-sandbox.types';

export interface GatewayReply {
  status: number;
  /** JSON text; '' for 204 (and for 404/405 of unknown paths, as WeChat answers them). */
  text: string;
  /** Signed answers get their Wechatpay-* headers when they are sent. */
  signed: boolean;
  /** Hold the answer back this long (a refund told to answer late). */
  delayMs?: number;
}

/** A request whose signature checked out, with its body parsed. */
export interface VerifiedCall {
  body: Record<string, unknown>;
  query: URLSearchParams;
}

type Api = (call: VerifiedCall) => { status: number; body?: unknown; delayMs?: number };

/** WeChat's 5 minutes, both ways (protocols.md C2). */
const MAX_CLOCK_SKEW_S = 300;
const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
/** Unpaid orders close by themselves after 7 days when time_expire is not given. */
const DEFAULT_TTL_MS = 7 * 86_400_000;
const H5_TYPES = ['Wap', 'iOS', 'Android'];

@Injectable()
export class WechatSandboxGateway {
  constructor(
    private readonly credentials: WechatSandboxCredentials,
    private readonly trades: WechatSandboxService,
    private readonly certificates: WechatSandboxCertificates,
    private readonly bills: WechatSandboxBills,
  ) {}

  /**
   * The error answer for a request whose Authorization does not check out, or
   * null: for the bill file, whose answer is the file itself, unsigned (C2).
   */
  refusal(req: RawBodyRequest): GatewayReply | null {
    try {
      this.authenticate(req);
      return null;
    } catch (err) {
      if (err instanceof WechatApiError) return error(err, false);
      throw err;
    }
  }

  /** Checks the request, runs the API and shapes its answer or its error. */
  handle(
    req: RawBodyRequest,
    api: Api,
    options: { needsClientHeaders?: boolean } = {},
  ): GatewayReply {
    let call: VerifiedCall;
    try {
      if (options.needsClientHeaders && (!req.headers['user-agent'] || !req.headers.accept)) {
        throw WechatApiError.invalidRequest('Http头缺少Accept或User-Agent');
      }
      call = this.authenticate(req);
    } catch (err) {
      if (err instanceof WechatApiError) return error(err, false);
      throw err;
    }
    try {
      const answer = api(call);
      return {
        status: answer.status,
        text: answer.body === undefined ? '' : JSON.stringify(answer.body),
        signed: true,
        delayMs: answer.delayMs,
      };
    } catch (err) {
      if (err instanceof WechatApiError) return error(err, true);
      throw err;
    }
  }

  /** The Wechatpay-* headers of a signed answer, made when it is sent. */
  answerHeaders(reply: GatewayReply): Record<string, string> {
    if (!reply.signed) return {};
    const key = this.certificates.current();
    return { ...signedHeaders(reply.text, key.privateKey, key.serial) };
  }

  /** GET /v3/certificates: 404 RESOURCE_NOT_EXISTS unless in certificate mode, as for a merchant without any. */
  listCertificates(): Api {
    return () => {
      if (!this.certificates.certMode) {
        throw new WechatApiError(
          404,
          'RESOURCE_NOT_EXISTS',
          '无可用的平台证书，请使用微信支付公钥',
        );
      }
      return { status: 200, body: this.certificates.listing() };
    };
  }

  // ---- the APIs ---------------------------------------------------------------------

  placeOrder(product: TradeProduct): Api {
    return ({ body }) => {
      const trade = this.createTrade(product, body);
      const answers: Record<TradeProduct, Record<string, string>> = {
        native: { code_url: this.trades.cashierUrl(trade.outTradeNo) },
        jsapi: { prepay_id: trade.prepayId },
        app: { prepay_id: trade.prepayId },
        // Merchants append `&redirect_url=…` to h5_url, so it comes with a query.
        h5: {
          h5_url: `${this.trades.cashierUrl(trade.outTradeNo)}?prepay_id=${trade.prepayId}`,
        },
      };
      return { status: 200, body: answers[trade.product] };
    };
  }

  queryByOutTradeNo(outTradeNo: string): Api {
    return ({ query }) => {
      this.requireQueryMchId(query);
      return {
        status: 200,
        body: transactionResource(this.trades.findTrade(outTradeNo), this.credentials.mchId),
      };
    };
  }

  queryByTransactionId(transactionId: string): Api {
    return ({ query }) => {
      this.requireQueryMchId(query);
      return {
        status: 200,
        body: transactionResource(
          this.trades.findByTransactionId(transactionId),
          this.credentials.mchId,
        ),
      };
    };
  }

  close(outTradeNo: string): Api {
    return ({ body }) => {
      this.requireBodyMchId(body);
      this.trades.closeTrade(outTradeNo);
      return { status: 204 };
    };
  }

  refund(): Api {
    return ({ body }) => {
      const outTradeNo = optionalText(body, 'out_trade_no', 32);
      const transactionId = optionalText(body, 'transaction_id', 32);
      if (!outTradeNo && !transactionId) {
        throw WechatApiError.param('/out_trade_no', 'out_trade_no or transaction_id is required');
      }
      const outRefundNo = requiredText(body, 'out_refund_no', 64);
      if (!OUT_REFUND_NO.test(outRefundNo)) {
        throw WechatApiError.param('/out_refund_no', 'letters, digits and _-|*@ only, 1 to 64');
      }
      const fundsAccount = optionalText(body, 'funds_account', 32);
      if (fundsAccount !== undefined && fundsAccount !== 'AVAILABLE') {
        throw WechatApiError.param('/funds_account', 'only AVAILABLE may be given');
      }
      const amount = object(body, 'amount', '/amount', true)!;
      const refundFen = fen(amount, 'refund', '/amount/refund');
      const totalFen = fen(amount, 'total', '/amount/total');
      currency(amount, '/amount/currency', true);
      if (refundFen > totalFen) {
        throw WechatApiError.param('/amount/refund', 'must not exceed amount.total');
      }
      const input = {
        outTradeNo,
        transactionId,
        outRefundNo,
        amountFen: refundFen,
        totalFen,
        reason: optionalText(body, 'reason', 80),
        notifyUrl: notifyUrl(body, false),
      };
      const fault: RefundFault | undefined = this.trades.takeRefundFault(
        outTradeNo ?? this.tradeOfTransaction(transactionId),
      );
      const { trade, refund } = this.trades.refund(input, fault);
      return {
        status: 200,
        body: refundAnswer(trade, refund),
        delayMs: fault?.outcome === 'delay' ? fault.delayMs : undefined,
      };
    };
  }

  /**
   * GET /v3/bill/tradebill (C4): the day's file named by a download URL and its
   * SHA-1. A day with nothing to bill: 400 NO_STATEMENT_EXIST; the bill
   * control's not_ready: 400 STATEMENT_CREATING. Unlike WeChat (T+1), today's
   * bill is served too, holding the day so far.
   */
  tradeBill(): Api {
    return ({ query }) => {
      const date = query.get('bill_date') ?? '';
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !isBillDate(date.replace(/-/g, ''))) {
        throw WechatApiError.param('bill_date', 'must be a YYYY-MM-DD day', 'query');
      }
      const type = (query.get('bill_type') ?? 'ALL') as BillType;
      if (!BILL_TYPES.includes(type)) {
        throw WechatApiError.param('bill_type', 'ALL, SUCCESS or REFUND in the sandbox', 'query');
      }
      const tarType = query.get('tar_type');
      if (tarType !== null && tarType !== 'GZIP') {
        throw WechatApiError.param('tar_type', 'must be GZIP when given', 'query');
      }
      if (date > formatRfc3339Beijing(new Date()).slice(0, 10)) {
        throw WechatApiError.param('bill_date', 'must not be in the future', 'query');
      }
      if (this.bills.faults.take('not_ready')) {
        throw new WechatApiError(
          400,
          'STATEMENT_CREATING',
          '账单生成中，请稍后再试 (sandbox: told by the bill control)',
        );
      }
      const text = this.bills.text(
        date.replace(/-/g, ''),
        type,
        this.credentials.appId,
        this.credentials.mchId,
        true,
      );
      if (text === null) {
        throw new WechatApiError(
          400,
          'NO_STATEMENT_EXIST',
          '账单文件不存在 (no trade on that day)',
        );
      }
      return { status: 200, body: this.bills.issue(text, tarType === 'GZIP') };
    };
  }

  refundQuery(outRefundNo: string): Api {
    return () => {
      const { trade, refund } = this.trades.findRefund(outRefundNo);
      return { status: 200, body: refundAnswer(trade, refund) };
    };
  }

  // ---- what the WeChat client does with a prepay_id -----------------------------------

  /**
   * wx.requestPayment / WeixinJSBridge with the parameters a merchant server
   * made for a JSAPI prepay_id (protocols.md C4): checks paySign with the
   * merchant public key and opens the cashier that stands in for WeChat.
   */
  openJsapiPayment(p: {
    appId: string;
    timeStamp: string;
    nonceStr: string;
    package: string;
    signType: string;
    paySign: string;
  }): { outTradeNo: string; cashierUrl: string } {
    if (p.appId !== this.credentials.appId) throw clientError('appId is not the sandbox app');
    if (p.signType !== 'RSA') throw clientError('signType must be RSA for APIv3 prepay ids');
    const prepayId = /^prepay_id=(.+)$/.exec(p.package)?.[1];
    if (!prepayId) throw clientError('package must be prepay_id=<prepay_id>');
    const message = jsapiPayMessage(p.appId, p.timeStamp, p.nonceStr, p.package);
    if (!sha256RsaVerify(message, p.paySign, this.credentials.merchantPublicKey)) {
      throw clientError('支付验证签名失败 (paySign does not verify with the merchant key)');
    }
    return this.openPrepay(prepayId, 'jsapi');
  }

  /** The WeChat app SDK with the parameters a merchant server made for an APP prepay_id. */
  openAppPayment(p: {
    appid: string;
    partnerid: string;
    prepayid: string;
    package: string;
    noncestr: string;
    timestamp: string;
    sign: string;
  }): { outTradeNo: string; cashierUrl: string } {
    if (p.appid !== this.credentials.appId) throw clientError('appid is not the sandbox app');
    if (p.partnerid !== this.credentials.mchId) {
      throw clientError('partnerid is not the sandbox merchant');
    }
    if (p.package !== 'Sign=WXPay') throw clientError('package must be Sign=WXPay');
    const message = appPayMessage(p.appid, p.timestamp, p.noncestr, p.prepayid);
    if (!sha256RsaVerify(message, p.sign, this.credentials.merchantPublicKey)) {
      throw clientError('支付验证签名失败 (sign does not verify with the merchant key)');
    }
    return this.openPrepay(p.prepayid, 'app');
  }

  private openPrepay(
    prepayId: string,
    product: TradeProduct,
  ): { outTradeNo: string; cashierUrl: string } {
    const trade = this.trades.findByPrepayId(prepayId);
    if (!trade || trade.product !== product) {
      throw clientError(`no ${product} order with prepay_id ${prepayId}`);
    }
    return { outTradeNo: trade.outTradeNo, cashierUrl: this.trades.cashierUrl(trade.outTradeNo) };
  }

  // ---- envelope ------------------------------------------------------------------

  private authenticate(req: RawBodyRequest): VerifiedCall {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) {
      throw WechatApiError.sign(
        'Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》',
      );
    }
    const ts = /^\d{1,12}$/.test(auth.timestamp) ? Number(auth.timestamp) : NaN;
    if (!(Math.abs(Date.now() / 1000 - ts) <= MAX_CLOCK_SKEW_S)) {
      throw WechatApiError.sign('Http头Authorization中的timestamp与发起请求的时间不得超过5分钟');
    }
    if (auth.mchid !== this.credentials.mchId) {
      throw WechatApiError.sign(
        `商户号不存在或与证书不匹配 (the sandbox merchant is ${this.credentials.mchId})`,
      );
    }
    if (auth.serial_no.toUpperCase() !== this.credentials.merchantCertSerial) {
      throw WechatApiError.sign(
        '商户证书序列号有误 (serial_no is not the merchant certificate serial of the sandbox keys)',
      );
    }
    const method = req.method.toUpperCase();
    const rawBody = req.rawBody ? req.rawBody.toString('utf8') : '';
    const message = requestMessage(
      method,
      req.originalUrl,
      auth.timestamp,
      auth.nonce_str,
      rawBody,
    );
    if (!sha256RsaVerify(message, auth.signature, this.credentials.merchantPublicKey)) {
      const lostBody = !req.rawBody && method !== 'GET' && req.headers['content-length'] !== '0';
      // Like WeChat, show what was verified: it is how developers find which line differs.
      throw WechatApiError.sign(
        lostBody
          ? '错误的签名，验签失败 (the sandbox could not read the raw body: mount a JSON parser that keeps req.rawBody)'
          : '错误的签名，验签失败',
        {
          detail: { issue: 'sign not match' },
          field: 'signature',
          location: 'authorization',
          sign_information: {
            method,
            url: req.originalUrl,
            sign_message_length: Buffer.byteLength(message, 'utf8'),
            truncated_sign_message: truncatedMessage(message, rawBody),
          },
        },
      );
    }
    const q = req.originalUrl.indexOf('?');
    return {
      body: parseBody(rawBody, method),
      query: new URLSearchParams(q >= 0 ? req.originalUrl.slice(q + 1) : ''),
    };
  }

  private requireQueryMchId(query: URLSearchParams): void {
    const mchid = query.get('mchid');
    if (!mchid) throw WechatApiError.param('mchid', 'is required', 'query');
    if (mchid !== this.credentials.mchId) {
      throw new WechatApiError(
        400,
        'MCH_NOT_EXISTS',
        '商户号不存在 (mchid is not the sandbox merchant)',
      );
    }
  }

  private requireBodyMchId(body: Record<string, unknown>): void {
    const mchid = requiredText(body, 'mchid', 32);
    if (mchid !== this.credentials.mchId) {
      throw new WechatApiError(
        400,
        'MCH_NOT_EXISTS',
        '商户号不存在 (mchid is not the sandbox merchant)',
      );
    }
  }

  private tradeOfTransaction(transactionId: string | undefined): string | undefined {
    if (!transactionId) return undefined;
    try {
      return this.trades.findByTransactionId(transactionId).outTradeNo;
    } catch {
      return undefined;
    }
  }

  private createTrade(product: TradeProduct, body: Record<string, unknown>): SandboxTrade {
    const now = new Date();
    const appId = requiredText(body, 'appid', 32);
    this.requireBodyMchId(body);
    if (appId !== this.credentials.appId) {
      throw new WechatApiError(
        400,
        'APPID_MCHID_NOT_MATCH',
        'appid和mch_id不匹配 (appid is not the sandbox app)',
      );
    }
    const description = requiredText(body, 'description', 127);
    const outTradeNo = requiredText(body, 'out_trade_no', 32);
    if (!OUT_TRADE_NO.test(outTradeNo)) {
      throw WechatApiError.param('/out_trade_no', 'letters, digits and _-|* only, 6 to 32');
    }
    const amount = object(body, 'amount', '/amount', true)!;
    const totalFen = fen(amount, 'total', '/amount/total');
    currency(amount, '/amount/currency', false);

    let payerOpenid: string | undefined;
    const payer = object(body, 'payer', '/payer', product === 'jsapi');
    if (product === 'jsapi') payerOpenid = requiredText(payer!, 'openid', 128, '/payer/openid');

    const scene = object(body, 'scene_info', '/scene_info', product === 'h5');
    let payerClientIp: string | undefined;
    let h5Type: string | undefined;
    if (scene) {
      payerClientIp = requiredText(scene, 'payer_client_ip', 45, '/scene_info/payer_client_ip');
      if (!isIP(payerClientIp)) {
        throw WechatApiError.param(
          '/scene_info/payer_client_ip',
          'must be an IPv4 or IPv6 address',
        );
      }
    }
    if (product === 'h5') {
      const h5 = object(scene!, 'h5_info', '/scene_info/h5_info', true)!;
      h5Type = requiredText(h5, 'type', 32, '/scene_info/h5_info/type');
      if (!H5_TYPES.includes(h5Type)) {
        throw WechatApiError.param(
          '/scene_info/h5_info/type',
          `must be one of ${H5_TYPES.join(', ')}`,
        );
      }
    }
    const attach = optionalText(body, 'attach', 128);
    const goodsTag = optionalText(body, 'goods_tag', 32);
    return this.trades.placeOrder(
      {
        product,
        outTradeNo,
        appId,
        description,
        attach,
        goodsTag,
        notifyUrl: notifyUrl(body, true)!,
        totalFen,
        payerOpenid,
        payerClientIp,
        h5Type,
        expiresAt: expiry(body, now),
        fingerprint: JSON.stringify([
          product,
          appId,
          description,
          totalFen,
          attach,
          goodsTag,
          payerOpenid,
        ]),
      },
      now,
    );
  }
}

// ---- answers ---------------------------------------------------------------------------

/** What the client shows when it cannot start a payment (there is no API code for it). */
function clientError(message: string): WechatApiError {
  return new WechatApiError(400, 'INVALID_REQUEST', message);
}

function error(err: WechatApiError, signed: boolean): GatewayReply {
  return { status: err.status, text: JSON.stringify(err.toJSON()), signed };
}

/** POST /v3/refund/domestic/refunds and GET …/{out_refund_no} (protocols.md C4). */
export function refundAnswer(trade: SandboxTrade, refund: SandboxRefund): Record<string, unknown> {
  const answer: Record<string, unknown> = {
    refund_id: refund.refundId,
    out_refund_no: refund.outRefundNo,
    transaction_id: trade.transactionId,
    out_trade_no: trade.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    create_time: formatRfc3339Beijing(refund.createdAt),
    status: refund.status,
    funds_account: 'AVAILABLE',
    amount: {
      total: trade.totalFen,
      refund: refund.amountFen,
      from: [],
      payer_total: trade.totalFen,
      payer_refund: refund.amountFen,
      settlement_refund: refund.amountFen,
      settlement_total: trade.totalFen,
      discount_refund: 0,
      currency: 'CNY',
      refund_fee: 0,
    },
    promotion_detail: [],
  };
  if (refund.successAt) answer.success_time = formatRfc3339Beijing(refund.successAt);
  return answer;
}

// ---- body fields ---------------------------------------------------------------------------

function parseBody(text: string, method: string): Record<string, unknown> {
  if (method === 'GET' || method === 'DELETE') return {};
  if (text === '') throw WechatApiError.param('/', 'the request body is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw WechatApiError.param('/', 'the request body is not JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw WechatApiError.param('/', 'the request body is not a JSON object');
  }
  return value as Record<string, unknown>;
}

function optionalText(
  obj: Record<string, unknown>,
  key: string,
  max: number,
  pointer = `/${key}`,
): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw WechatApiError.param(pointer, 'must be a string');
  if (value.length > max) throw WechatApiError.param(pointer, `is longer than ${max}`);
  return value === '' ? undefined : value;
}

function requiredText(
  obj: Record<string, unknown>,
  key: string,
  max: number,
  pointer = `/${key}`,
): string {
  const text = optionalText(obj, key, max, pointer);
  if (text === undefined) throw WechatApiError.param(pointer, 'is required');
  return text;
}

function object(
  obj: Record<string, unknown>,
  key: string,
  pointer: string,
  required: boolean,
): Record<string, unknown> | undefined {
  const value = obj[key];
  if (value === undefined || value === null) {
    if (required) throw WechatApiError.param(pointer, 'is required');
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw WechatApiError.param(pointer, 'must be an object');
  }
  return value as Record<string, unknown>;
}

/** An integer number of fen in [1, MAX_AMOUNT_FEN]; a string "100" is refused, as WeChat does. */
function fen(obj: Record<string, unknown>, key: string, pointer: string): number {
  const value = obj[key];
  if (value === undefined || value === null) throw WechatApiError.param(pointer, 'is required');
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw WechatApiError.param(pointer, 'must be an integer number of fen');
  }
  if (value < 1 || value > MAX_AMOUNT_FEN) {
    throw WechatApiError.param(pointer, `must be within [1, ${MAX_AMOUNT_FEN}]`);
  }
  return value;
}

function currency(obj: Record<string, unknown>, pointer: string, required: boolean): void {
  const value = obj.currency;
  if (value === undefined || value === null) {
    if (required) throw WechatApiError.param(pointer, 'is required');
    return;
  }
  if (value !== 'CNY') throw WechatApiError.param(pointer, 'must be CNY');
}

/** http(s), no query string (WeChat: "不能携带参数"); http is allowed for local development. */
function notifyUrl(body: Record<string, unknown>, required: boolean): string | undefined {
  const value = required
    ? requiredText(body, 'notify_url', 255)
    : optionalText(body, 'notify_url', 255);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw WechatApiError.param('/notify_url', 'must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw WechatApiError.param('/notify_url', 'must be an http(s) URL');
  }
  if (url.search || value.includes('?')) {
    throw WechatApiError.param('/notify_url', 'must not carry a query string');
  }
  return value;
}

function expiry(body: Record<string, unknown>, now: Date): Date {
  const text = optionalText(body, 'time_expire', 64);
  if (text === undefined) return new Date(now.getTime() + DEFAULT_TTL_MS);
  const at = parseRfc3339(text);
  if (!at) {
    throw WechatApiError.param('/time_expire', 'must be RFC 3339, yyyy-MM-DDTHH:mm:ss+08:00');
  }
  if (at.getTime() <= now.getTime()) throw WechatApiError.param('/time_expire', 'is in the past');
  return at;
}

/** The verified message with its body cut short, as WeChat's sign_information shows it. */
function truncatedMessage(message: string, body: string): string {
  if (body.length <= 32) return message;
  return `${message.slice(0, message.length - body.length - 1)}${body.slice(0, 32)}\n`;
}
