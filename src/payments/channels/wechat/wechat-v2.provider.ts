// WeChat Pay API v2, direct merchant (protocols.md part B): NATIVE, JSAPI, MWEB and APP payments,
// orderquery, closeorder, refunds over the merchant certificate, refundquery, and the signed
// payment and encrypted refund notifications.
import { Logger } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import type { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { DomainError } from '../../../common/errors/domain-error';
import { describeNetworkError, isTimeout } from '../../../common/http/network-errors';
import { MetricsService } from '../../../metrics/metrics.service';
import {
  assertBillDate,
  beijingToday,
  BILL_DOWNLOAD_TIMEOUT_MS,
  billTempDir,
  loggedRows,
  readBillOffThread,
  saveBody,
} from '../../bill-files';
import {
  BillError,
  BillRow,
  ChannelCallError,
  ChannelPaymentState,
  ChannelRefundInput,
  ChannelRefundRef,
  ChannelRefundState,
  CloseOutcome,
  CreatePaymentInput,
  CreatedPayment,
  NotificationRejected,
  PaymentMethod,
  PaymentProvider,
  RawNotification,
  RawReply,
  ReplyOutcome,
  VerifiedNotification,
} from '../../payment-provider';
import { WechatV2Client, WechatV2GatewayError } from './wechat-v2.client';
import {
  decryptReqInfo,
  v2AppPayParams,
  v2JsapiPayParams,
  v2Verify,
  type WechatV2SignType,
} from './wechat-v2.signer';
import {
  buildWechatXml,
  parseWechatXml,
  WECHAT_V2_MAX_XML_BYTES,
  WechatXmlError,
} from './wechat-v2.xml';
import {
  isDefiniteV2RefundFailure,
  mapWechatRefundStatus,
  mapWechatTradeState,
  wechatV2ErrorKind,
} from './wechat.mapper';

/** What the v2 provider needs, whether WeChat Pay is real or the built-in sandbox. */
export interface WechatV2Settings {
  appId: string;
  mchId: string;
  apiKey: KeyObject;
  signType: WechatV2SignType;
  baseUrl: string;
  /** PUBLIC_BASE_URL + /notify/wechat/v2 */
  notifyUrl: string;
  /** PUBLIC_BASE_URL + /notify/wechat/v2/refund */
  refundNotifyUrl: string;
  timeoutMs: number;
  /** The merchant certificate for /secapi/pay/refund; absent on the sandbox (plain http). */
  clientCertificateAgent?: HttpsAgent;
}

const TRADE_TYPES: Partial<Record<PaymentMethod, string>> = {
  qr: 'NATIVE',
  jsapi: 'JSAPI',
  h5: 'MWEB',
  app: 'APP',
};

/** `yyyyMMddHHmmss` in Beijing time (UTC+8), v2's time format. */
export function v2TimeBeijing(date: Date): string {
  return new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

/** The inverse; undefined for anything else. */
export function parseV2TimeBeijing(text: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text ?? '');
  if (!m) return undefined;
  const at = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** A whole number of fen as v2 writes it (`total_fee`, `refund_fee`). */
function fen(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `body` is at most 128 bytes: cut on a character boundary. */
function cutUtf8(text: string, maxBytes: number): string {
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch, 'utf8') > maxBytes) break;
    out += ch;
  }
  return out;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

type Chunks = AsyncIterator<Buffer>;

/** The first chunk of a body (empty for an empty body), to tell gzip from XML; the rest stays readable. */
async function firstBytes(chunks: Chunks): Promise<Buffer> {
  for (;;) {
    const next = await chunks.next();
    if (next.done) return Buffer.alloc(0);
    if (next.value.length > 0) return next.value;
  }
}

async function* prepend(first: Buffer, rest: Chunks): AsyncGenerator<Buffer> {
  yield first;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

const SUCCESS_XML = buildWechatXml({ return_code: 'SUCCESS', return_msg: 'OK' });

export class WechatV2Provider implements PaymentProvider {
  readonly channel = 'wechat' as const;
  readonly methods: readonly PaymentMethod[] = ['qr', 'jsapi', 'h5', 'app'];
  readonly requires = { jsapi: ['openid'], h5: ['clientIp'] } as const;
  /** WeChat Pay: at most 50 refunds of one payment, within a year of it. */
  readonly refundLimits = { maxPerPayment: 50, withinDays: 365 };
  private readonly logger = new Logger('WechatPayV2');
  private readonly client: WechatV2Client;

  constructor(
    private readonly settings: WechatV2Settings,
    private readonly metrics: MetricsService,
  ) {
    this.client = new WechatV2Client({
      baseUrl: settings.baseUrl,
      apiKey: settings.apiKey,
      signType: settings.signType,
      timeoutMs: settings.timeoutMs,
      clientCertificateAgent: settings.clientCertificateAgent,
      logger: this.logger,
    });
  }

  private get ids(): { appid: string; mch_id: string } {
    return { appid: this.settings.appId, mch_id: this.settings.mchId };
  }

  async createPayment(p: CreatePaymentInput): Promise<CreatedPayment> {
    const tradeType = TRADE_TYPES[p.method];
    if (!tradeType)
      throw new ChannelCallError('wechat', 'error', `WeChat Pay does not support ${p.method}`);
    const res = await this.call('/pay/unifiedorder', {
      ...this.ids,
      body: cutUtf8(p.subject, 128),
      out_trade_no: p.outTradeNo,
      total_fee: p.amount,
      fee_type: 'CNY',
      // The buyer's address for MWEB (WeChat compares it with the paying phone's); ours otherwise.
      spbill_create_ip: p.clientIp ?? '127.0.0.1',
      notify_url: this.settings.notifyUrl,
      trade_type: tradeType,
      // WeChat stops accepting money when the order expires.
      time_expire: v2TimeBeijing(p.expiresAt),
      ...(p.method === 'qr' ? { product_id: p.outTradeNo } : {}),
      ...(p.method === 'jsapi' ? { openid: p.openid } : {}),
      ...(p.method === 'h5' ? { scene_info: JSON.stringify({ h5_info: { type: 'Wap' } }) } : {}),
    });
    this.checkBusiness('unifiedorder', res);
    this.checkIdentity('unifiedorder', res);
    switch (p.method) {
      case 'qr':
        if (!res.code_url) throw this.broken('unifiedorder', 'no code_url');
        return { action: { type: 'qr', qrCode: res.code_url } };
      case 'h5': {
        if (!res.mweb_url) throw this.broken('unifiedorder', 'no mweb_url');
        const url = p.returnUrl
          ? `${res.mweb_url}${res.mweb_url.includes('?') ? '&' : '?'}redirect_url=${encodeURIComponent(p.returnUrl)}`
          : res.mweb_url;
        return { action: { type: 'redirect', url } };
      }
      case 'jsapi': {
        if (!res.prepay_id) throw this.broken('unifiedorder', 'no prepay_id');
        const params = v2JsapiPayParams({
          appId: this.settings.appId,
          prepayId: res.prepay_id,
          apiKey: this.settings.apiKey,
          signType: this.settings.signType,
        });
        return { action: { type: 'jsapi', params: { ...params } } };
      }
      default: {
        if (!res.prepay_id) throw this.broken('unifiedorder', 'no prepay_id');
        const params = v2AppPayParams({
          appId: this.settings.appId,
          mchId: this.settings.mchId,
          prepayId: res.prepay_id,
          apiKey: this.settings.apiKey,
          signType: this.settings.signType,
        });
        return { action: { type: 'app', params: { ...params } } };
      }
    }
  }

  async queryPayment(outTradeNo: string): Promise<ChannelPaymentState> {
    const res = await this.call('/pay/orderquery', { ...this.ids, out_trade_no: outTradeNo });
    if (res.result_code !== 'SUCCESS' && res.err_code === 'ORDERNOTEXIST')
      return { outTradeNo, status: 'NOT_FOUND' };
    this.checkBusiness('orderquery', res);
    this.checkIdentity('orderquery', res);
    try {
      return this.tradeState(outTradeNo, res);
    } catch (error) {
      throw this.broken('orderquery', (error as Error).message);
    }
  }

  /** ORDERPAID: the query says what to apply; ORDERCLOSED is closed already. */
  async closePayment(outTradeNo: string): Promise<CloseOutcome> {
    const res = await this.call('/pay/closeorder', { ...this.ids, out_trade_no: outTradeNo });
    if (res.result_code === 'SUCCESS') return 'closed';
    if (res.err_code === 'ORDERCLOSED') return 'closed';
    if (res.err_code === 'ORDERNOTEXIST') return 'not_found';
    const state = await this.queryPayment(outTradeNo);
    if (state.status === 'PAID') return 'already_paid';
    if (state.status === 'CLOSED') return 'closed';
    if (state.status === 'NOT_FOUND') return 'not_found';
    throw this.failure('closeorder', res);
  }

  /**
   * Over the merchant certificate. result_code SUCCESS only means accepted: the
   * refund is PENDING until the notification or a query. An unsure answer is
   * sent once more at once with the same out_refund_no (WeChat's rule), then
   * left to the sync job, which sends the same number again.
   */
  async refund(r: ChannelRefundInput): Promise<ChannelRefundState> {
    const fields = {
      ...this.ids,
      out_trade_no: r.outTradeNo,
      out_refund_no: r.outRefundNo,
      total_fee: r.totalAmount,
      refund_fee: r.amount,
      refund_fee_type: 'CNY',
      ...(r.reason ? { refund_desc: cutUtf8(r.reason, 80) } : {}),
      notify_url: this.settings.refundNotifyUrl,
    };
    let res = await this.call('/secapi/pay/refund', fields);
    if (res.result_code !== 'SUCCESS' && wechatV2ErrorKind(res.err_code) === 'retry') {
      res = await this.call('/secapi/pay/refund', fields);
    }
    if (res.result_code === 'SUCCESS') {
      this.checkIdentity('refund', res);
      return {
        outRefundNo: r.outRefundNo,
        status: 'PENDING',
        ...(fen(res.refund_fee) !== undefined ? { amount: fen(res.refund_fee) } : {}),
        ...(res.refund_id ? { channelRefundNo: res.refund_id } : {}),
      };
    }
    if (isDefiniteV2RefundFailure(res.err_code)) {
      return {
        outRefundNo: r.outRefundNo,
        status: 'FAILED',
        failureReason: `${res.err_code}: ${res.err_code_des ?? ''}`.slice(0, 512),
      };
    }
    throw this.failure('refund', res);
  }

  async queryRefund(r: ChannelRefundRef): Promise<ChannelRefundState> {
    const res = await this.call('/pay/refundquery', { ...this.ids, out_refund_no: r.outRefundNo });
    if (res.result_code !== 'SUCCESS' && res.err_code === 'REFUNDNOTEXIST')
      return { outRefundNo: r.outRefundNo, status: 'NOT_FOUND' };
    this.checkBusiness('refundquery', res);
    this.checkIdentity('refundquery', res);
    const count = Math.min(Number(res.refund_count ?? '0') || 0, 50);
    for (let n = 0; n < count; n++) {
      if (res[`out_refund_no_${n}`] !== r.outRefundNo) continue;
      try {
        return this.refundState(r.outRefundNo, {
          status: res[`refund_status_${n}`],
          amount: res[`refund_fee_${n}`],
          refundId: res[`refund_id_${n}`],
        });
      } catch (error) {
        throw this.broken('refundquery', (error as Error).message);
      }
    }
    return { outRefundNo: r.outRefundNo, status: 'NOT_FOUND' };
  }

  /**
   * The day's bill (B6): /pay/downloadbill with bill_type ALL and tar_type GZIP.
   * The answer is the gzipped bill, unsigned, or v2 XML when WeChat refuses:
   * `No Bill Exist` is a day without trades (nothing yielded), `Bill Creating`
   * not_ready. The bill is gunzipped into a private temporary file — gzip's own
   * CRC-32 must check out, v2 has no hash — and read whole (wechat.bill.ts,
   * shared with v3) before the first row is yielded. The file is removed however it ends.
   */
  async *downloadBill(date: string): AsyncIterable<BillRow[]> {
    assertBillDate(date);
    const label = `WeChat Pay bill of ${date}`;
    if (date > beijingToday()) throw new BillError('wechat', 'not_ready', `${label}: a future day`);
    let response: Response;
    try {
      response = await this.client.download(
        '/pay/downloadbill',
        { ...this.ids, bill_date: date.replace(/-/g, ''), bill_type: 'ALL', tar_type: 'GZIP' },
        BILL_DOWNLOAD_TIMEOUT_MS,
      );
    } catch (error) {
      throw new BillError('wechat', 'unavailable', `${label}: ${(error as Error).message}`);
    }
    if (response.status !== 200 || !response.body) {
      await response.body?.cancel();
      throw new BillError(
        'wechat',
        'unavailable',
        `${label}: downloadbill answered HTTP ${response.status}`,
      );
    }
    const temp = await billTempDir();
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    try {
      const path = join(temp.dir, 'bill.txt');
      const chunks = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const first = await firstBytes(chunks);
      if (first.subarray(0, 2).equals(GZIP_MAGIC)) {
        await this.saveBill(first, chunks, path, label, true);
      } else if (first.toString('utf8').trimStart().startsWith('<xml>')) {
        const refusal = await this.refusal(first, chunks);
        if (/no bill exist/i.test(refusal.return_msg ?? '')) {
          this.logger.log(`${label}: no trades that day (No Bill Exist)`);
          return;
        }
        const why = `${refusal.return_msg ?? '(no return_msg)'} ${refusal.error_code ?? ''}`.trim();
        throw new BillError(
          'wechat',
          /bill creating/i.test(refusal.return_msg ?? '') ? 'not_ready' : 'unavailable',
          `${label}: downloadbill refused: ${why.slice(0, 200)}`,
        );
      } else {
        // Not gzipped after all (a proxy that unpacked it): the text as it came.
        await this.saveBill(first, chunks, path, label, false);
      }
      yield* loggedRows(
        readBillOffThread(
          {
            module: require.resolve('./wechat.bill'),
            exportName: 'readWechatBillFile',
            args: [path, { label }],
          },
          'wechat',
        ),
        label,
        this.logger,
      );
    } finally {
      body.destroy();
      await temp.remove();
    }
  }

  private async saveBill(
    first: Buffer,
    rest: Chunks,
    path: string,
    label: string,
    gunzip: boolean,
  ): Promise<void> {
    try {
      const saved = await saveBody(Readable.from(prepend(first, rest)), path, { gunzip });
      this.logger.log(`${label}: downloaded, ${saved.bytes} bytes unpacked`);
    } catch (error) {
      throw new BillError(
        'wechat',
        isTimeout(error) ? 'unavailable' : 'corrupt',
        `${label}: the download is not a whole bill (${describeNetworkError(error)})`,
      );
    }
  }

  /** The refusal XML, read up to the size any v2 answer may have. */
  private async refusal(first: Buffer, rest: Chunks): Promise<Record<string, string>> {
    const chunks = [first];
    let size = first.length;
    for (let next = await rest.next(); !next.done; next = await rest.next()) {
      size += next.value.length;
      if (size > WECHAT_V2_MAX_XML_BYTES) break;
      chunks.push(next.value);
    }
    await rest.return?.();
    try {
      return parseWechatXml(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return { return_msg: 'an XML answer that does not parse' };
    }
  }

  /**
   * The payment notification (/notify/wechat/v2, B7): return_code, then the sign
   * with the configured type (a `sign_type` field must name that same type),
   * then appid and mch_id; result_code FAIL changes nothing. The refund
   * notification (/notify/wechat/v2/refund, B8) has no sign: req_info must
   * decrypt under the API key.
   */
  async verifyNotification(n: RawNotification): Promise<VerifiedNotification> {
    if (n.path !== 'v2' && n.path !== 'v2/refund') {
      throw new NotificationRejected(
        'malformed',
        `WeChat Pay runs API v2: a notification on ${n.path ?? 'an unknown path'} is not one of its callbacks`,
      );
    }
    let fields: Record<string, string>;
    try {
      const raw = typeof n.body === 'string' ? n.body : undefined;
      if (raw === undefined || raw.length === 0) throw new WechatXmlError('empty or not text/xml');
      fields = parseWechatXml(raw);
    } catch (error) {
      throw new NotificationRejected(
        'malformed',
        `not a WeChat Pay v2 XML body: ${error instanceof WechatXmlError ? error.message : 'unreadable'}`,
      );
    }
    const auditBody: Record<string, unknown> = { ...fields };
    delete auditBody.sign;
    delete auditBody.req_info;
    const outTradeNo = fields.out_trade_no?.slice(0, 64);
    if (fields.return_code !== 'SUCCESS') {
      throw new NotificationRejected(
        'malformed',
        `return_code ${fields.return_code ?? '(none)'}`,
        auditBody,
      );
    }
    return n.path === 'v2'
      ? this.paymentNotification(fields, auditBody, outTradeNo)
      : this.refundNotification(fields, auditBody);
  }

  private paymentNotification(
    fields: Record<string, string>,
    auditBody: Record<string, unknown>,
    outTradeNo: string | undefined,
  ): VerifiedNotification {
    if (fields.sign_type !== undefined && fields.sign_type !== this.settings.signType) {
      throw new NotificationRejected(
        'signature',
        `sign_type ${fields.sign_type.slice(0, 20)} is not the configured ${this.settings.signType}`,
        auditBody,
      );
    }
    if (!v2Verify(fields, this.settings.apiKey, this.settings.signType)) {
      throw new NotificationRejected('signature', 'sign does not verify', auditBody);
    }
    this.checkNotifiedIdentity(fields, auditBody, outTradeNo);
    if (!outTradeNo)
      throw new NotificationRejected(
        'malformed',
        'signed notification without out_trade_no',
        auditBody,
      );
    if (fields.result_code !== 'SUCCESS') {
      // A failed payment: nothing to apply; the attempt stays open until it expires or is closed.
      return {
        kind: 'other',
        dedupeKey: `v2:pay-fail:${outTradeNo}:${fields.nonce_str ?? ''}`.slice(0, 191),
        state: { outTradeNo, status: 'PENDING' },
        auditBody,
      };
    }
    let state: ChannelPaymentState;
    try {
      state = this.tradeState(outTradeNo, { ...fields, trade_state: 'SUCCESS' });
    } catch (error) {
      throw new NotificationRejected('malformed', (error as Error).message, auditBody, outTradeNo);
    }
    return {
      kind: 'payment',
      dedupeKey: `v2:pay:${outTradeNo}:${fields.transaction_id ?? ''}`.slice(0, 191),
      state,
      auditBody,
    };
  }

  private refundNotification(
    fields: Record<string, string>,
    auditBody: Record<string, unknown>,
  ): VerifiedNotification {
    let inner: Record<string, string>;
    try {
      if (typeof fields.req_info !== 'string') throw new Error('no req_info');
      inner = parseWechatXml(decryptReqInfo(fields.req_info, this.settings.apiKey), 'root');
    } catch (error) {
      // The encryption is what makes it WeChat's: one that does not decrypt is not trusted.
      throw new NotificationRejected(
        'signature',
        `req_info not readable under the API key (${(error as Error).message})`,
        auditBody,
      );
    }
    auditBody.req_info = inner;
    const outTradeNo = inner.out_trade_no?.slice(0, 64);
    this.checkNotifiedIdentity(fields, auditBody, outTradeNo);
    if (!outTradeNo || !inner.out_refund_no)
      throw new NotificationRejected(
        'malformed',
        'req_info without out_trade_no or out_refund_no',
        auditBody,
      );
    const outRefundNo = inner.out_refund_no.slice(0, 64);
    let state: ChannelRefundState | undefined;
    try {
      state = this.refundState(outRefundNo, {
        status: inner.refund_status,
        amount: inner.refund_fee,
        refundId: inner.refund_id,
      });
    } catch {
      state = undefined;
    }
    return {
      kind: 'refund',
      dedupeKey: `v2:refund:${outRefundNo}:${inner.refund_status ?? ''}`.slice(0, 191),
      state: { outTradeNo, status: 'PAID' },
      refund: { outRefundNo, state },
      auditBody,
    };
  }

  /** The SUCCESS XML when processed; FAIL XML (WeChat sends it again) otherwise. */
  acknowledge(outcome: ReplyOutcome): RawReply {
    const body =
      outcome === 'ok'
        ? SUCCESS_XML
        : buildWechatXml({
            return_code: 'FAIL',
            return_msg:
              outcome === 'rejected' ? 'notification refused' : 'not processed, send it again',
          });
    return { status: 200, contentType: 'text/xml; charset=utf-8', body };
  }

  private checkNotifiedIdentity(
    fields: Record<string, string>,
    auditBody: Record<string, unknown>,
    outTradeNo: string | undefined,
  ): void {
    if (fields.appid !== this.settings.appId) {
      throw new NotificationRejected(
        'app_id',
        `notification for appid ${String(fields.appid).slice(0, 40)}, not ours`,
        auditBody,
        outTradeNo,
      );
    }
    if (fields.mch_id !== this.settings.mchId) {
      throw new NotificationRejected(
        'mch_id',
        `notification for mch_id ${String(fields.mch_id).slice(0, 40)}, not ours`,
        auditBody,
        outTradeNo,
      );
    }
  }

  private tradeState(outTradeNo: string, fields: Record<string, string>): ChannelPaymentState {
    const status = mapWechatTradeState(fields.trade_state);
    const total = fen(fields.total_fee);
    // A paid trade must say how much; an unpaid one may leave total_fee out.
    if (total === undefined && (status === 'PAID' || fields.total_fee !== undefined))
      throw new Error('WeChat Pay trade without a whole total_fee');
    const paidAt = parseV2TimeBeijing(fields.time_end);
    return {
      outTradeNo,
      status,
      ...(total !== undefined ? { amount: total } : {}),
      ...(fields.transaction_id ? { channelTradeNo: fields.transaction_id } : {}),
      ...(status === 'PAID' ? { paidAt: paidAt ?? new Date() } : {}),
    };
  }

  private refundState(
    outRefundNo: string,
    r: { status?: string; amount?: string; refundId?: string },
  ): ChannelRefundState {
    const status = mapWechatRefundStatus(r.status);
    const amount = fen(r.amount);
    return {
      outRefundNo,
      status,
      ...(amount !== undefined ? { amount } : {}),
      ...(r.refundId ? { channelRefundNo: r.refundId } : {}),
      ...(status === 'FAILED' ? { failureReason: `WeChat Pay refund ${r.status}` } : {}),
    };
  }

  /** result_code FAIL as a domain error: ORDERPAID / ORDERCLOSED are the order's state (409). */
  private checkBusiness(what: string, res: Record<string, string>): void {
    if (res.result_code === 'SUCCESS') return;
    if (
      what === 'unifiedorder' &&
      (res.err_code === 'ORDERPAID' || res.err_code === 'ORDERCLOSED')
    ) {
      throw new DomainError(
        'ORDER_NOT_PAYABLE',
        `WeChat Pay says this trade is ${res.err_code === 'ORDERPAID' ? 'already paid' : 'closed'}`,
      );
    }
    throw this.failure(what, res);
  }

  private checkIdentity(what: string, res: Record<string, string>): void {
    if (
      (res.appid !== undefined && res.appid !== this.settings.appId) ||
      res.mch_id !== this.settings.mchId
    ) {
      throw this.broken(what, 'answer names another appid or mch_id');
    }
  }

  private failure(what: string, res: Record<string, string>): ChannelCallError {
    return new ChannelCallError(
      'wechat',
      wechatV2ErrorKind(res.err_code) === 'retry' ? 'unavailable' : 'error',
      `WeChat Pay ${what} answered ${res.err_code ?? res.result_code ?? '?'} ${(res.err_code_des ?? '').slice(0, 200)}`.trim(),
    );
  }

  private broken(what: string, why: string): ChannelCallError {
    return new ChannelCallError('wechat', 'error', `WeChat Pay ${what}: ${why}`);
  }

  private async call(
    path: string,
    fields: Record<string, string | number | undefined>,
  ): Promise<Record<string, string>> {
    const end = this.metrics.channelCalls.startTimer({ channel: 'wechat', method: `POST ${path}` });
    try {
      const res = await this.client.call(path, fields);
      end({ result: res.result_code === 'SUCCESS' ? 'ok' : (res.err_code ?? 'FAIL') });
      return res;
    } catch (error) {
      end({ result: error instanceof WechatV2GatewayError ? error.kind : 'error' });
      if (error instanceof WechatV2GatewayError) {
        throw new ChannelCallError(
          'wechat',
          error.kind === 'unverifiable' || error.kind === 'return_fail' ? 'error' : 'unavailable',
          `${error.operation}: ${error.message}`,
        );
      }
      throw error;
    }
  }
}
