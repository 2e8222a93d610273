/**
 * The simulated WeChat Pay API v2 (protocols.md B1–B6) over the shared trade
 * book: every request's XML parsed safely, its sign checked under the API key
 * with the sign_type it names (MD5 when it names none), appid and mch_id
 * checked, then answered as WeChat answers — return_code FAIL (unsigned) for a
 * message it cannot read or trust, else signed with the request's sign type,
 * result_code SUCCESS or FAIL with err_code. /pay/downloadbill answers its
 * bill unsigned, and its refusals as return_code FAIL with error_code (B6).
 *
 * /secapi/pay/refund: the real one demands the merchant's client certificate
 * (mutual TLS). The sandbox is served over plain http, which cannot carry one,
 * so it checks everything else and says so once in the log.
 */
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { WechatApiError } from '../wechat-sandbox.errors';
import { WechatSandboxService } from '../wechat-sandbox.service';
import { beijingStamp } from '../wechat-sandbox.time';
import {
  TRADE_TYPES,
  tradeState,
  type SandboxTrade,
  type TradeProduct,
} from '../wechat-sandbox.types';
import { WechatSandboxBills } from '../wechat-sandbox-bill.service';
import { BILL_TYPES, isBillDate, type BillType } from '../wechat-sandbox.bill';
import {
  WechatV2SandboxCredentials,
  v2RefundStatus,
  v2RefundTime,
} from './wechat-v2-sandbox.credentials';
import {
  readXml,
  signFields,
  signOk,
  writeXml,
  type SandboxSignType,
} from './wechat-v2-sandbox.wire';

export interface V2Reply {
  xml: string;
  /** Answer only after this long (a refund told to answer late). */
  delayMs?: number;
  /** downloadbill: the bill itself, sent instead of `xml` (text, or gzip with tar_type GZIP). */
  bill?: { body: Buffer; gzip: boolean };
}

const PRODUCT_OF: Record<string, TradeProduct> = {
  NATIVE: 'native',
  JSAPI: 'jsapi',
  MWEB: 'h5',
  APP: 'app',
};

const STATE_DESC: Record<string, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
  REFUND: '订单发生过退款',
};

/** A business refusal: result_code FAIL with this err_code. */
class V2Fail extends Error {
  constructor(
    readonly errCode: string,
    message: string,
  ) {
    super(message);
  }
}

const missing = (field: string) => new V2Fail('LACK_PARAMS', `缺少参数 (${field} is required)`);
const invalid = (field: string, issue: string) =>
  new V2Fail('PARAM_ERROR', `参数错误 (${field}: ${issue})`);

/**
 * downloadbill's refusals are not signed result_code FAILs but return_code
 * FAIL with an error_code (B6). The return_msg "No Bill Exist" is B6's; the
 * error_code numbers are the sandbox's own (protocols.md does not list them).
 */
class BillFail extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const NO_BILL = new BillFail('20002', 'No Bill Exist');

/** v3-worded refusals of the shared book, in v2's words. */
function fromBook(error: WechatApiError, notFound: string): V2Fail {
  const code =
    {
      ORDERPAID: 'ORDERPAID',
      ORDER_CLOSED: 'ORDERCLOSED',
      OUT_TRADE_NO_USED: 'OUT_TRADE_NO_USED',
      ORDER_NOT_EXIST: notFound,
      RESOURCE_NOT_EXISTS: notFound,
      NOT_ENOUGH: 'NOTENOUGH',
      SYSTEM_ERROR: 'SYSTEMERROR',
      INVALID_REQUEST: 'INVALID_REQUEST',
    }[error.code] ?? 'PARAM_ERROR';
  return new V2Fail(code, error.message);
}

@Injectable()
export class WechatV2SandboxGateway {
  private readonly logger = new Logger('WechatSandboxV2');
  private certificateNoted = false;

  constructor(
    private readonly trades: WechatSandboxService,
    private readonly credentials: WechatV2SandboxCredentials,
    private readonly bills: WechatSandboxBills,
  ) {}

  handle(api: string, body: unknown): V2Reply {
    const fields = typeof body === 'string' ? readXml(body) : null;
    if (!fields) return this.returnFail('XML_FORMAT_ERROR: not a flat <xml> text/xml body');
    const signType = fields.sign_type ?? 'MD5';
    if (signType !== 'MD5' && signType !== 'HMAC-SHA256') {
      return this.returnFail('sign_type must be MD5 or HMAC-SHA256');
    }
    if (!fields.nonce_str || fields.nonce_str.length > 32) {
      return this.returnFail('nonce_str is required, at most 32 characters');
    }
    if (!signOk(fields, this.credentials.apiKey, signType))
      return this.returnFail('签名错误 (sign)');
    if (api === 'secapi/pay/refund' && !this.certificateNoted) {
      this.certificateNoted = true;
      this.logger.warn(
        'refunds: plain http cannot carry the merchant client certificate; the sandbox checks the rest',
      );
    }
    try {
      if (fields.mch_id !== this.credentials.mchId)
        throw new V2Fail('MCHID_NOT_EXIST', 'mch_id 不存在');
      if (fields.appid !== this.credentials.appId)
        throw new V2Fail('APPID_MCHID_NOT_MATCH', 'appid 和 mch_id 不匹配');
      switch (api) {
        case 'pay/unifiedorder':
          return this.ok(signType, this.unifiedOrder(fields, signType));
        case 'pay/orderquery':
          return this.ok(signType, this.orderQuery(fields));
        case 'pay/closeorder':
          return this.ok(signType, this.closeOrder(fields));
        case 'secapi/pay/refund':
          return this.refund(fields, signType);
        case 'pay/refundquery':
          return this.ok(signType, this.refundQuery(fields));
        case 'pay/downloadbill':
          return this.downloadBill(fields);
        default:
          return this.returnFail(`no such API ${api}`);
      }
    } catch (error) {
      if (error instanceof BillFail) return this.billFail(error);
      if (error instanceof V2Fail)
        return api === 'pay/downloadbill'
          ? this.billFail(new BillFail('20001', `${error.errCode}: ${error.message}`))
          : this.fail(signType, error);
      throw error;
    }
  }

  /**
   * B6. The bill of a Beijing day (wechat-v2-sandbox.bill.ts), unsigned text,
   * gzipped with tar_type GZIP; "No Bill Exist" when the day has no record of
   * the bill_type; "Bill Creating" when the bill control says it is not ready
   * (the sandbox's words for it). RECHARGE_REFUND is refused: the sandbox has no recharge
   * coupons.
   */
  private downloadBill(f: Record<string, string>): V2Reply {
    if (!f.bill_date) throw new BillFail('20001', 'bill_date is required');
    if (!isBillDate(f.bill_date)) throw new BillFail('20001', 'invalid bill_date (yyyyMMdd)');
    const type = (f.bill_type || 'ALL') as BillType;
    if (!BILL_TYPES.includes(type))
      throw new BillFail('20001', 'invalid bill_type (ALL, SUCCESS or REFUND in the sandbox)');
    if (f.tar_type && f.tar_type !== 'GZIP') throw new BillFail('20001', 'invalid tar_type (GZIP)');
    if (this.bills.faults.take('not_ready')) throw new BillFail('20003', 'Bill Creating');
    const text = this.bills.text(
      f.bill_date,
      type,
      this.credentials.appId,
      this.credentials.mchId,
      false,
    );
    if (text === null) throw NO_BILL;
    const body = Buffer.from(text, 'utf8');
    const gzip = f.tar_type === 'GZIP';
    const bytes = gzip ? gzipSync(body) : body;
    // The bill control's damaged download: cut short, so gzip's own check fails.
    const served = this.bills.faults.take('corrupt')
      ? bytes.subarray(0, Math.floor(bytes.length / 2))
      : bytes;
    return { xml: '', bill: { body: served, gzip } };
  }

  /** B6: `<xml><return_code>FAIL</return_code><return_msg>…</return_msg><error_code>…</error_code></xml>`. */
  private billFail(error: BillFail): V2Reply {
    return {
      xml: writeXml({
        return_code: 'FAIL',
        return_msg: error.message,
        error_code: error.errorCode,
      }),
    };
  }

  private unifiedOrder(
    f: Record<string, string>,
    signType: SandboxSignType,
  ): Record<string, string> {
    for (const name of [
      'body',
      'out_trade_no',
      'total_fee',
      'spbill_create_ip',
      'notify_url',
      'trade_type',
    ])
      if (!f[name]) throw missing(name);
    const product = PRODUCT_OF[f.trade_type];
    if (!product) throw invalid('trade_type', 'must be NATIVE, JSAPI, MWEB or APP');
    if (!/^[0-9A-Za-z_\-|*]{1,32}$/.test(f.out_trade_no))
      throw invalid('out_trade_no', 'at most 32 of [0-9A-Za-z_-|*]');
    if (!/^[1-9]\d{0,10}$/.test(f.total_fee))
      throw invalid('total_fee', 'a whole number of fen, at least 1');
    if (Buffer.byteLength(f.body) > 128) throw invalid('body', 'at most 128 bytes');
    if (!/^https?:\/\/[^?#\s]+$/.test(f.notify_url))
      throw invalid('notify_url', 'http(s) URL without a query');
    if (product === 'jsapi' && !f.openid) throw missing('openid');
    if (product === 'native' && !f.product_id) throw missing('product_id');
    if (product === 'h5' && !f.scene_info) throw missing('scene_info');
    const now = new Date();
    let expiresAt = new Date(now.getTime() + 2 * 3600_000);
    if (f.time_expire) {
      const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(f.time_expire);
      const at = m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`) : null;
      if (!at || Number.isNaN(at.getTime()))
        throw invalid('time_expire', 'yyyyMMddHHmmss, Beijing time');
      if (at.getTime() <= now.getTime() + 60_000)
        throw invalid('time_expire', 'must be more than 1 minute ahead');
      expiresAt = at;
    }
    let trade: SandboxTrade;
    try {
      trade = this.trades.placeOrder({
        product,
        signType,
        outTradeNo: f.out_trade_no,
        appId: f.appid,
        description: f.body,
        ...(f.attach ? { attach: f.attach } : {}),
        notifyUrl: f.notify_url,
        totalFen: Number(f.total_fee),
        ...(f.openid ? { payerOpenid: f.openid } : {}),
        payerClientIp: f.spbill_create_ip,
        expiresAt,
        fingerprint: JSON.stringify(['v2', product, f.body, f.total_fee, f.openid ?? '']),
      });
    } catch (error) {
      if (error instanceof WechatApiError) throw fromBook(error, 'ORDERNOTEXIST');
      throw error;
    }
    const cashier = this.trades.cashierUrl(trade.outTradeNo);
    return {
      trade_type: f.trade_type,
      prepay_id: trade.prepayId,
      ...(product === 'native' ? { code_url: cashier } : {}),
      ...(product === 'h5' ? { mweb_url: `${cashier}?prepay_id=${trade.prepayId}` } : {}),
    };
  }

  private findTrade(f: Record<string, string>): SandboxTrade {
    try {
      if (f.out_trade_no) return this.trades.findTrade(f.out_trade_no);
      if (f.transaction_id) return this.trades.findByTransactionId(f.transaction_id);
    } catch (error) {
      if (error instanceof WechatApiError) throw fromBook(error, 'ORDERNOTEXIST');
      throw error;
    }
    throw missing('out_trade_no');
  }

  /**
   * B4. An unpaid trade answers no total_fee (protocols.md leaves open whether
   * WeChat sends it then); the provider must not depend on it.
   */
  private orderQuery(f: Record<string, string>): Record<string, string> {
    const trade = this.findTrade(f);
    const state = tradeState(trade);
    const out: Record<string, string> = {
      out_trade_no: trade.outTradeNo,
      trade_state: state,
      trade_state_desc: STATE_DESC[state] ?? state,
      ...(trade.attach !== undefined ? { attach: trade.attach } : {}),
    };
    if (trade.paidAt) {
      Object.assign(out, {
        transaction_id: trade.transactionId,
        openid: trade.payerOpenid ?? '',
        is_subscribe: 'N',
        trade_type: TRADE_TYPES[trade.product],
        bank_type: 'OTHERS',
        total_fee: String(trade.totalFen),
        fee_type: 'CNY',
        cash_fee: String(trade.totalFen),
        time_end: beijingStamp(trade.paidAt),
      });
    }
    return out;
  }

  private closeOrder(f: Record<string, string>): Record<string, string> {
    if (!f.out_trade_no) throw missing('out_trade_no');
    const trade = this.findTrade(f);
    if (trade.status === 'CLOSED') throw new V2Fail('ORDERCLOSED', '订单已关闭');
    try {
      this.trades.closeTrade(trade.outTradeNo);
    } catch (error) {
      if (error instanceof WechatApiError) throw fromBook(error, 'ORDERNOTEXIST');
      throw error;
    }
    return { result_msg: 'OK' };
  }

  private refund(f: Record<string, string>, signType: SandboxSignType): V2Reply {
    for (const name of ['out_refund_no', 'total_fee', 'refund_fee'])
      if (!f[name]) throw missing(name);
    if (!f.out_trade_no && !f.transaction_id) throw missing('out_trade_no');
    for (const name of ['total_fee', 'refund_fee'])
      if (!/^[1-9]\d{0,10}$/.test(f[name]))
        throw invalid(name, 'a whole number of fen, at least 1');
    if (f.notify_url && !/^https?:\/\/[^?#\s]+$/.test(f.notify_url))
      throw invalid('notify_url', 'http(s) URL without a query');
    const fault = this.trades.takeRefundFault(f.out_trade_no);
    let result;
    try {
      result = this.trades.refund(
        {
          ...(f.out_trade_no ? { outTradeNo: f.out_trade_no } : {}),
          ...(f.transaction_id ? { transactionId: f.transaction_id } : {}),
          outRefundNo: f.out_refund_no,
          amountFen: Number(f.refund_fee),
          totalFen: Number(f.total_fee),
          ...(f.refund_desc ? { reason: f.refund_desc } : {}),
          ...(f.notify_url ? { notifyUrl: f.notify_url } : {}),
        },
        fault,
      );
    } catch (error) {
      if (error instanceof WechatApiError) throw fromBook(error, 'ORDERNOTEXIST');
      throw error;
    }
    const reply = this.ok(signType, {
      transaction_id: result.trade.transactionId ?? '',
      out_trade_no: result.trade.outTradeNo,
      out_refund_no: result.refund.outRefundNo,
      refund_id: result.refund.refundId,
      refund_fee: String(result.refund.amountFen),
      total_fee: String(result.trade.totalFen),
      cash_fee: String(result.trade.totalFen),
      cash_refund_fee: String(result.refund.amountFen),
    });
    return fault?.outcome === 'delay' ? { ...reply, delayMs: fault.delayMs } : reply;
  }

  private refundQuery(f: Record<string, string>): Record<string, string> {
    let trade: SandboxTrade;
    let refunds;
    try {
      if (f.out_refund_no) {
        const found = this.trades.findRefund(f.out_refund_no);
        trade = found.trade;
        refunds = [found.refund];
      } else {
        trade = this.findTrade(f);
        refunds = trade.refunds;
      }
    } catch (error) {
      if (error instanceof WechatApiError) throw fromBook(error, 'REFUNDNOTEXIST');
      if (error instanceof V2Fail && error.errCode === 'ORDERNOTEXIST')
        throw new V2Fail('REFUNDNOTEXIST', '退款订单查询失败');
      throw error;
    }
    if (refunds.length === 0) throw new V2Fail('REFUNDNOTEXIST', '退款订单查询失败');
    const out: Record<string, string> = {
      transaction_id: trade.transactionId ?? '',
      out_trade_no: trade.outTradeNo,
      total_fee: String(trade.totalFen),
      cash_fee: String(trade.totalFen),
      total_refund_count: String(trade.refunds.length),
      refund_count: String(refunds.length),
    };
    refunds.forEach((r, n) => {
      Object.assign(out, {
        [`out_refund_no_${n}`]: r.outRefundNo,
        [`refund_id_${n}`]: r.refundId,
        [`refund_channel_${n}`]: 'ORIGINAL',
        [`refund_fee_${n}`]: String(r.amountFen),
        [`refund_status_${n}`]: v2RefundStatus(r.status),
        [`refund_recv_accout_${n}`]: '支付用户零钱',
        ...(r.successAt ? { [`refund_success_time_${n}`]: v2RefundTime(r.successAt) } : {}),
      });
    });
    return out;
  }

  /** return_code FAIL: not read, not signed (B2 step 1). */
  private returnFail(message: string): V2Reply {
    return { xml: writeXml({ return_code: 'FAIL', return_msg: message }) };
  }

  private envelope(): Record<string, string> {
    return {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      appid: this.credentials.appId,
      mch_id: this.credentials.mchId,
      nonce_str: randomUUID().replace(/-/g, ''),
    };
  }

  private ok(signType: SandboxSignType, fields: Record<string, string>): V2Reply {
    return this.signed(signType, { ...this.envelope(), result_code: 'SUCCESS', ...fields });
  }

  private fail(signType: SandboxSignType, error: V2Fail): V2Reply {
    return this.signed(signType, {
      ...this.envelope(),
      result_code: 'FAIL',
      err_code: error.errCode,
      err_code_des: error.message,
    });
  }

  private signed(signType: SandboxSignType, fields: Record<string, string>): V2Reply {
    return {
      xml: writeXml({ ...fields, sign: signFields(fields, this.credentials.apiKey, signType) }),
    };
  }
}
