// WeChat Pay API v3, direct merchant (protocols.md part C): Native, JSAPI, H5 and App payments,
// query, close, refunds, and the encrypted, signed notifications.
import { Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { AeadDecryptError, aeadAes256GcmDecrypt } from '../../../common/crypto/aead';
import { describeNetworkError, isTimeout } from '../../../common/http/network-errors';
import { redactText } from '../../../common/logging/redact';
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
import { WechatPlatformKeys, CERTIFICATES_PATH } from './wechat-platform-keys';
import { WechatV3Answer, WechatV3Client, WechatV3GatewayError } from './wechat-v3.client';
import {
  appPayParams,
  jsapiPayParams,
  verifyWechatSignature,
  type WechatKeyLookup,
} from './wechat-v3.signer';
import {
  isDefiniteRefundFailure,
  mapWechatRefundStatus,
  mapWechatTradeState,
} from './wechat.mapper';

/** What the v3 provider needs, whether WeChat Pay is real or the built-in sandbox. */
export interface WechatV3Settings {
  appId: string;
  mchId: string;
  apiV3Key: KeyObject;
  privateKey: KeyObject;
  certSerial: string;
  /** WeChat's verification keys by Wechatpay-Serial (a pinned public key). */
  platformKeys?: WechatKeyLookup;
  /**
   * Platform-certificate mode (or a migration from it): the keys come from GET
   * /v3/certificates, and an unknown serial asks for a refresh.
   */
  certificates?: WechatPlatformKeys;
  baseUrl: string;
  /** PUBLIC_BASE_URL + /notify/wechat/v3 */
  notifyUrl: string;
  timeoutMs: number;
}

const TRADE_PATHS: Partial<Record<PaymentMethod, string>> = {
  qr: 'native',
  jsapi: 'jsapi',
  h5: 'h5',
  app: 'app',
};

interface TradeBody {
  appid?: string;
  mchid?: string;
  out_trade_no?: string;
  transaction_id?: string;
  trade_state?: string;
  success_time?: string;
  amount?: { total?: number };
}

/** GET /v3/bill/tradebill (C4). */
interface TradeBillBody {
  hash_type?: string;
  hash_value?: string;
  download_url?: string;
}

interface RefundBody {
  out_refund_no?: string;
  out_trade_no?: string;
  refund_id?: string;
  status?: string;
  refund_status?: string;
  mchid?: string;
  amount?: { refund?: number; total?: number };
}

/** `2024-01-01T12:00:00+08:00`: RFC 3339 in Beijing time, as WeChat writes times. */
export function rfc3339Beijing(date: Date): string {
  return `${new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

export class WechatV3Provider implements PaymentProvider, OnApplicationBootstrap, OnModuleDestroy {
  readonly channel = 'wechat' as const;
  readonly methods: readonly PaymentMethod[] = ['qr', 'jsapi', 'h5', 'app'];
  readonly requires = { jsapi: ['openid'], h5: ['clientIp'] } as const;
  /** WeChat Pay: at most 50 refunds of one payment, within a year of it. */
  readonly refundLimits = { maxPerPayment: 50, withinDays: 365 };
  private readonly logger = new Logger('WechatPay');
  private readonly client: WechatV3Client;
  private readonly keys: WechatKeyLookup;

  constructor(
    private readonly settings: WechatV3Settings,
    private readonly metrics: MetricsService,
  ) {
    const certificates = settings.certificates;
    this.keys = certificates?.lookup ?? settings.platformKeys ?? new Map();
    this.client = new WechatV3Client({
      baseUrl: settings.baseUrl,
      mchId: settings.mchId,
      certSerial: settings.certSerial,
      privateKey: settings.privateKey,
      platformKeys: this.keys,
      ...(certificates
        ? { onUnknownSerial: (serial) => certificates.onUnknownSerial(serial) }
        : {}),
      timeoutMs: settings.timeoutMs,
      logger: this.logger,
    });
  }

  /** After the app's modules are up: the sandbox answers from this very process. */
  onApplicationBootstrap(): void {
    this.settings.certificates?.start((options) =>
      this.client.call('GET', CERTIFICATES_PATH, undefined, options),
    );
  }

  onModuleDestroy(): void {
    this.settings.certificates?.stop();
  }

  /** For /health: whether WeChat calls can be made, and why not. */
  health(): Record<string, unknown> {
    return { ...(this.settings.certificates?.status() ?? { mode: 'public-key', state: 'ready' }) };
  }

  async createPayment(p: CreatePaymentInput): Promise<CreatedPayment> {
    const path = TRADE_PATHS[p.method];
    if (!path)
      throw new ChannelCallError('wechat', 'error', `WeChat Pay does not support ${p.method}`);
    const body: Record<string, unknown> = {
      appid: this.settings.appId,
      mchid: this.settings.mchId,
      description: p.subject.slice(0, 127),
      out_trade_no: p.outTradeNo,
      notify_url: this.settings.notifyUrl,
      // WeChat stops accepting money when the order expires.
      time_expire: rfc3339Beijing(p.expiresAt),
      amount: { total: p.amount, currency: 'CNY' },
      ...(p.method === 'jsapi' ? { payer: { openid: p.openid } } : {}),
      ...(p.method === 'h5'
        ? { scene_info: { payer_client_ip: p.clientIp, h5_info: { type: 'Wap' } } }
        : {}),
    };
    const res = await this.call<{ code_url?: string; prepay_id?: string; h5_url?: string }>(
      'POST',
      `/v3/pay/transactions/${path}`,
      body,
    );
    if (res.status !== 200 || !res.body) throw this.refused('order', res);
    switch (p.method) {
      case 'qr':
        if (!res.body.code_url) throw this.refused('native order', res);
        return { action: { type: 'qr', qrCode: res.body.code_url } };
      case 'h5': {
        if (!res.body.h5_url) throw this.refused('h5 order', res);
        // WeChat sends the browser back to redirect_url after paying.
        const url = p.returnUrl
          ? `${res.body.h5_url}${res.body.h5_url.includes('?') ? '&' : '?'}redirect_url=${encodeURIComponent(p.returnUrl)}`
          : res.body.h5_url;
        return { action: { type: 'redirect', url } };
      }
      case 'jsapi': {
        if (!res.body.prepay_id) throw this.refused('jsapi order', res);
        const params = jsapiPayParams({
          appId: this.settings.appId,
          prepayId: res.body.prepay_id,
          privateKey: this.settings.privateKey,
        });
        return { action: { type: 'jsapi', params: { ...params } } };
      }
      default: {
        if (!res.body.prepay_id) throw this.refused('app order', res);
        const params = appPayParams({
          appId: this.settings.appId,
          mchId: this.settings.mchId,
          prepayId: res.body.prepay_id,
          privateKey: this.settings.privateKey,
        });
        return { action: { type: 'app', params: { ...params } } };
      }
    }
  }

  async queryPayment(outTradeNo: string): Promise<ChannelPaymentState> {
    const res = await this.call<TradeBody>(
      'GET',
      `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${this.settings.mchId}`,
    );
    if (res.status === 404 && res.code === 'ORDER_NOT_EXIST')
      return { outTradeNo, status: 'NOT_FOUND' };
    if (res.status !== 200 || !res.body) throw this.refused('query', res);
    return this.tradeState(outTradeNo, res.body);
  }

  async closePayment(outTradeNo: string): Promise<CloseOutcome> {
    const res = await this.call(
      'POST',
      `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`,
      { mchid: this.settings.mchId },
    );
    if (res.status === 204 || res.status === 200) return 'closed';
    if (res.status === 404 && res.code === 'ORDER_NOT_EXIST') return 'not_found';
    // Not closable (paid, or closed already): the query says which.
    const state = await this.queryPayment(outTradeNo);
    if (state.status === 'PAID') return 'already_paid';
    if (state.status === 'CLOSED') return 'closed';
    if (state.status === 'NOT_FOUND') return 'not_found';
    throw this.refused('close', res);
  }

  async refund(r: ChannelRefundInput): Promise<ChannelRefundState> {
    const res = await this.call<RefundBody>('POST', '/v3/refund/domestic/refunds', {
      out_trade_no: r.outTradeNo,
      out_refund_no: r.outRefundNo,
      ...(r.reason ? { reason: r.reason.slice(0, 80) } : {}),
      notify_url: this.settings.notifyUrl,
      amount: { refund: r.amount, total: r.totalAmount, currency: 'CNY' },
    });
    if (res.status === 200 && res.body) return this.refundState(r.outRefundNo, res.body);
    if (isDefiniteRefundFailure(res.status, res.code)) {
      return {
        outRefundNo: r.outRefundNo,
        status: 'FAILED',
        failureReason: `${res.code}: ${res.message ?? ''}`.slice(0, 512),
      };
    }
    // SYSTEM_ERROR, FREQUENCY_LIMITED, 5xx: unsure; the sync job re-sends the same number.
    throw this.refused('refund', res);
  }

  async queryRefund(r: ChannelRefundRef): Promise<ChannelRefundState> {
    const res = await this.call<RefundBody>(
      'GET',
      `/v3/refund/domestic/refunds/${encodeURIComponent(r.outRefundNo)}`,
    );
    if (res.status === 404 && res.code === 'RESOURCE_NOT_EXISTS')
      return { outRefundNo: r.outRefundNo, status: 'NOT_FOUND' };
    if (res.status !== 200 || !res.body) throw this.refused('refund query', res);
    return this.refundState(r.outRefundNo, res.body);
  }

  /**
   * The day's trade bill (C4): GET /v3/bill/tradebill (signed and verified like
   * every call) names the file and its SHA-1; the file is fetched with a signed
   * GET, gunzipped into a private temporary file while it is hashed, checked
   * against hash_value, and read whole (wechat.bill.ts) before the first row is
   * yielded. A day
   * without trades (NO_STATEMENT_EXIST) yields nothing; STATEMENT_CREATING is
   * not_ready. The file is removed however the reading ends.
   */
  async *downloadBill(date: string): AsyncIterable<BillRow[]> {
    assertBillDate(date);
    const label = `WeChat Pay bill of ${date}`;
    if (date > beijingToday()) throw new BillError('wechat', 'not_ready', `${label}: a future day`);
    let res: WechatV3Answer<TradeBillBody>;
    try {
      res = await this.call<TradeBillBody>(
        'GET',
        `/v3/bill/tradebill?bill_date=${date}&bill_type=ALL&tar_type=GZIP`,
      );
    } catch (error) {
      throw new BillError('wechat', 'unavailable', `${label}: ${(error as Error).message}`);
    }
    if (res.code === 'NO_STATEMENT_EXIST') {
      this.logger.log(`${label}: no trades that day (NO_STATEMENT_EXIST)`);
      return;
    }
    if (res.code === 'STATEMENT_CREATING') {
      throw new BillError('wechat', 'not_ready', `${label}: WeChat is still making it`);
    }
    const file = res.status === 200 ? res.body : null;
    if (!file?.download_url || !file.hash_value || file.hash_type?.toUpperCase() !== 'SHA1') {
      throw new BillError(
        'wechat',
        'unavailable',
        `${label}: tradebill answered HTTP ${res.status} ${res.code ?? ''} ${res.message ?? '(no SHA1 hash_value and download_url)'}`.trim(),
      );
    }
    const url = this.billFileUrl(file.download_url, label);
    const temp = await billTempDir();
    try {
      const path = join(temp.dir, 'bill.txt');
      const digest = await this.fetchBillFile(url, path, label);
      if (digest.toLowerCase() !== file.hash_value.toLowerCase()) {
        const message = `${label}: the SHA-1 of the downloaded bill is not the hash_value WeChat gave (damaged download)`;
        this.logger.warn(message);
        throw new BillError('wechat', 'corrupt', message);
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
      await temp.remove();
    }
  }

  /** The file URL gets our signed Authorization: only WeChat's own hosts (or the sandbox's) get it. */
  private billFileUrl(text: string, label: string): URL {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new BillError('wechat', 'unavailable', `${label}: download_url is not a URL`);
    }
    const base = new URL(this.settings.baseUrl);
    const wechatHost = url.protocol === 'https:' && url.hostname.endsWith('.mch.weixin.qq.com');
    if (url.origin !== base.origin && !wechatHost) {
      throw new BillError(
        'wechat',
        'unavailable',
        `${label}: download_url points at ${url.origin}, not WeChat Pay`,
      );
    }
    return url;
  }

  private async fetchBillFile(url: URL, path: string, label: string): Promise<string> {
    let response: Response;
    try {
      response = await this.client.download(url, BILL_DOWNLOAD_TIMEOUT_MS);
    } catch (error) {
      throw new BillError('wechat', 'unavailable', `${label}: ${(error as Error).message}`);
    }
    if (response.status !== 200 || !response.body) {
      const text = (await response.text().catch(() => '')).slice(0, 300);
      throw new BillError(
        'wechat',
        'unavailable',
        redactText(`${label}: the bill file answered HTTP ${response.status} ${text}`.trim()),
      );
    }
    try {
      const saved = await saveBody(response.body, path, { gunzip: true, hash: 'sha1' });
      this.logger.log(`${label}: downloaded, ${saved.bytes} bytes unpacked`);
      return saved.digest!;
    } catch (error) {
      const message = isTimeout(error)
        ? `no complete download within ${BILL_DOWNLOAD_TIMEOUT_MS} ms`
        : `the download is not a whole gzip file (${describeNetworkError(error)})`;
      throw new BillError(
        'wechat',
        isTimeout(error) ? 'unavailable' : 'corrupt',
        `${label}: ${message}`,
      );
    }
  }

  /**
   * Checks, in order: the Wechatpay-* signature over the raw body (with the key
   * its serial names, and a timestamp within 5 minutes), the resource's AES-256-GCM
   * decryption with the APIv3 key, then mchid and appid. Nothing unverified is
   * ever read as a fact.
   */
  async verifyNotification(n: RawNotification): Promise<VerifiedNotification> {
    const header = (name: string) => n.headers[name];
    const raw = n.rawBody ?? Buffer.from('');
    const verify = () =>
      verifyWechatSignature({
        timestamp: header('wechatpay-timestamp'),
        nonce: header('wechatpay-nonce'),
        signature: header('wechatpay-signature'),
        serial: header('wechatpay-serial'),
        body: raw,
        keys: this.keys,
      });
    let check = verify();
    // A certificate WeChat issued moments ago: one (rate-limited) refresh, then again.
    if (check.outcome === 'unknown_serial' && this.settings.certificates && check.serial) {
      await this.settings.certificates.onUnknownSerial(check.serial);
      check = verify();
    }
    const envelope = (n.body && typeof n.body === 'object' ? n.body : {}) as {
      id?: unknown;
      event_type?: unknown;
      resource?: { ciphertext?: unknown; nonce?: unknown; associated_data?: unknown };
    };
    const auditBody: Record<string, unknown> = {
      id: envelope.id,
      event_type: envelope.event_type,
      serial: header('wechatpay-serial'),
    };
    if (check.outcome !== 'ok') {
      throw new NotificationRejected(
        check.outcome === 'stale_timestamp' ? 'timestamp' : 'signature',
        `WeChat Pay notification not trusted: ${check.outcome} (${check.reason})`,
        auditBody,
      );
    }
    const resource = envelope.resource;
    let plain: TradeBody & RefundBody;
    try {
      if (
        typeof envelope.id !== 'string' ||
        typeof envelope.event_type !== 'string' ||
        typeof resource?.ciphertext !== 'string' ||
        typeof resource.nonce !== 'string'
      )
        throw new Error('missing id, event_type or resource');
      plain = JSON.parse(
        aeadAes256GcmDecrypt({
          key: this.settings.apiV3Key,
          nonce: resource.nonce,
          associatedData:
            typeof resource.associated_data === 'string' ? resource.associated_data : '',
          ciphertext: resource.ciphertext,
        }),
      ) as TradeBody & RefundBody;
    } catch (error) {
      // Signed by WeChat yet undecryptable: most likely a wrong APIv3 key. A person must look.
      throw new NotificationRejected(
        'malformed',
        `signed WeChat Pay notification whose resource cannot be read: ${error instanceof AeadDecryptError ? 'decryption failed (is WECHAT_APIV3_KEY right?)' : (error as Error).message}`,
        auditBody,
      );
    }
    const outTradeNo =
      typeof plain.out_trade_no === 'string' ? plain.out_trade_no.slice(0, 64) : undefined;
    // The decrypted resource is kept for audit: it carries no secret of ours.
    auditBody.resource = plain;
    if (plain.mchid !== undefined && plain.mchid !== this.settings.mchId) {
      throw new NotificationRejected(
        'mch_id',
        `notification for mchid ${plain.mchid}, not ours`,
        auditBody,
        outTradeNo,
      );
    }
    if (!outTradeNo)
      throw new NotificationRejected(
        'malformed',
        'signed notification without out_trade_no',
        auditBody,
      );
    const dedupeKey = `${envelope.event_type}:${envelope.id}`.slice(0, 191);
    const eventType = envelope.event_type;
    if (eventType.startsWith('REFUND.')) {
      let state: ChannelRefundState | undefined;
      try {
        state = this.refundState(String(plain.out_refund_no ?? ''), {
          ...plain,
          status: plain.refund_status,
        });
      } catch {
        state = undefined;
      }
      return {
        kind: 'refund',
        dedupeKey,
        state: { outTradeNo, status: 'PAID' },
        refund: { outRefundNo: plain.out_refund_no?.slice(0, 64), state },
        auditBody,
      };
    }
    if (eventType !== 'TRANSACTION.SUCCESS') {
      return { kind: 'other', dedupeKey, state: { outTradeNo, status: 'PENDING' }, auditBody };
    }
    if (plain.appid !== this.settings.appId) {
      throw new NotificationRejected(
        'app_id',
        `notification for appid ${plain.appid}, not ours`,
        auditBody,
        outTradeNo,
      );
    }
    let state: ChannelPaymentState;
    try {
      state = this.tradeState(outTradeNo, plain);
    } catch (error) {
      throw new NotificationRejected('malformed', (error as Error).message, auditBody, outTradeNo);
    }
    return { kind: 'payment', dedupeKey, state, auditBody };
  }

  /** 204 when processed; a non-2xx (WeChat retries on any) with `{code, message}` otherwise. */
  acknowledge(outcome: ReplyOutcome): RawReply {
    if (outcome === 'ok')
      return { status: 204, contentType: 'text/plain; charset=utf-8', body: '' };
    return {
      status: outcome === 'rejected' ? 400 : 500,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({
        code: 'FAIL',
        message: outcome === 'rejected' ? 'notification refused' : 'not processed, send it again',
      }),
    };
  }

  private tradeState(outTradeNo: string, body: TradeBody): ChannelPaymentState {
    const status = mapWechatTradeState(body.trade_state);
    const total = body.amount?.total;
    if (!Number.isSafeInteger(total) || (total as number) < 0)
      throw new Error('WeChat Pay trade without a whole amount.total');
    const paidAt = body.success_time ? new Date(body.success_time) : undefined;
    return {
      outTradeNo,
      status,
      amount: total,
      ...(body.transaction_id ? { channelTradeNo: body.transaction_id } : {}),
      ...(status === 'PAID'
        ? { paidAt: paidAt && !Number.isNaN(paidAt.getTime()) ? paidAt : new Date() }
        : {}),
    };
  }

  private refundState(outRefundNo: string, body: RefundBody): ChannelRefundState {
    const status = mapWechatRefundStatus(body.status);
    const amount = body.amount?.refund;
    return {
      outRefundNo,
      status,
      ...(Number.isSafeInteger(amount) ? { amount } : {}),
      ...(body.refund_id ? { channelRefundNo: body.refund_id } : {}),
      ...(status === 'FAILED' ? { failureReason: `WeChat Pay refund ${body.status}` } : {}),
    };
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
  ): Promise<WechatV3Answer<T>> {
    const certificates = this.settings.certificates;
    if (certificates && !certificates.ready) {
      throw new ChannelCallError(
        'wechat',
        'unavailable',
        `WeChat Pay is unavailable: ${certificates.status().reason ?? 'no platform certificate'}`,
      );
    }
    const operation = path.split('?')[0].replace(/\/(out-trade-no|refunds)\/[^/]+/, '/$1/:no');
    const end = this.metrics.channelCalls.startTimer({
      channel: 'wechat',
      method: `${method} ${operation}`,
    });
    try {
      const res = await this.client.call<T>(method, path, body);
      end({ result: res.status < 400 ? 'ok' : (res.code ?? String(res.status)) });
      return res;
    } catch (error) {
      end({ result: error instanceof WechatV3GatewayError ? error.kind : 'error' });
      if (error instanceof WechatV3GatewayError) {
        throw new ChannelCallError(
          'wechat',
          error.kind === 'unverifiable' ? 'error' : 'unavailable',
          `${error.operation}: ${error.message}`,
        );
      }
      throw error;
    }
  }

  private refused(what: string, res: WechatV3Answer<unknown>): ChannelCallError {
    return new ChannelCallError(
      'wechat',
      res.status >= 500 ? 'unavailable' : 'error',
      `WeChat Pay ${what} answered HTTP ${res.status} ${res.code ?? ''} ${res.message ?? ''}`.trim(),
    );
  }
}
