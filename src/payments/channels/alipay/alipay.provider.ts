// Alipay openapi gateway (alipay.trade.* APIs, RSA2), protocols.md part A.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { join } from 'node:path';
import { ConfigType } from '@nestjs/config';
import { MoneyFormatError, fenToYuan, yuanToFen } from '../../../common/money/money';
import { describeNetworkError, isTimeout } from '../../../common/http/network-errors';
import { redactText } from '../../../common/logging/redact';
import { alipayConfig } from '../../../config/alipay.config';
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
import { AlipayClient, AlipayGatewayError, AlipayResult } from './alipay.client';
import {
  ALIPAY_SUCCESS,
  isDefiniteRefundFailure,
  isTradeNotClosable,
  isTradeNotExist,
  mapAlipayTradeStatus,
  parseBeijingTime,
} from './alipay.mapper';
import { beijingTimestamp, verifyAlipayNotification } from './alipay.signer';

const PRODUCT_CODES: Partial<Record<PaymentMethod, string>> = {
  qr: 'FACE_TO_FACE_PAYMENT',
  page: 'FAST_INSTANT_TRADE_PAY',
  wap: 'QUICK_WAP_WAY',
  app: 'QUICK_MSECURITY_PAY',
};

@Injectable()
export class AlipayProvider implements PaymentProvider {
  readonly channel = 'alipay' as const;
  readonly methods: readonly PaymentMethod[] = ['qr', 'page', 'wap', 'app'];
  private readonly logger = new Logger('Alipay');
  private readonly client: AlipayClient;

  constructor(
    @Inject(alipayConfig.KEY) private readonly config: ConfigType<typeof alipayConfig>,
    private readonly metrics: MetricsService,
  ) {
    this.client = new AlipayClient({
      appId: config.appId,
      privateKey: config.privateKey,
      alipayPublicKey: config.alipayPublicKey,
      certificates: config.certificates,
      gateway: config.gateway,
      browserGateway: config.browserGateway,
      notifyUrl: config.notifyUrl,
      timeoutMs: config.timeoutMs,
      logger: this.logger,
    });
  }

  async createPayment(p: CreatePaymentInput): Promise<CreatedPayment> {
    const biz: Record<string, unknown> = {
      out_trade_no: p.outTradeNo,
      total_amount: fenToYuan(p.amount),
      subject: p.subject,
      product_code: PRODUCT_CODES[p.method],
      // The channel stops accepting money when the order expires.
      time_expire: beijingTimestamp(p.expiresAt),
      ...(p.description ? { body: p.description.slice(0, 128) } : {}),
    };
    switch (p.method) {
      case 'qr': {
        const res = await this.call<{ qr_code?: string }>('alipay.trade.precreate', biz);
        if (res.code !== ALIPAY_SUCCESS || !res.body.qr_code)
          throw this.refused('alipay.trade.precreate', res);
        return { action: { type: 'qr', qrCode: res.body.qr_code } };
      }
      case 'page':
        return {
          action: {
            type: 'redirect',
            url: this.client.pageUrl('alipay.trade.page.pay', biz, { returnUrl: p.returnUrl }),
          },
        };
      case 'wap':
        return {
          action: {
            type: 'redirect',
            url: this.client.pageUrl(
              'alipay.trade.wap.pay',
              { ...biz, ...(p.returnUrl ? { quit_url: p.returnUrl } : {}) },
              { returnUrl: p.returnUrl },
            ),
          },
        };
      case 'app':
        return { action: { type: 'app', orderString: this.client.appOrderString(biz) } };
      default:
        throw new ChannelCallError('alipay', 'error', `Alipay does not support method ${p.method}`);
    }
  }

  async queryPayment(outTradeNo: string): Promise<ChannelPaymentState> {
    const res = await this.call<Record<string, string>>('alipay.trade.query', {
      out_trade_no: outTradeNo,
    });
    if (res.code !== ALIPAY_SUCCESS) {
      if (isTradeNotExist(res.subCode)) return { outTradeNo, status: 'NOT_FOUND' };
      throw this.refused('alipay.trade.query', res);
    }
    return this.tradeState(outTradeNo, res.body, res.body.send_pay_date);
  }

  async closePayment(outTradeNo: string): Promise<CloseOutcome> {
    const res = await this.call('alipay.trade.close', { out_trade_no: outTradeNo });
    if (res.code === ALIPAY_SUCCESS) return 'closed';
    if (isTradeNotExist(res.subCode)) return 'not_found';
    if (isTradeNotClosable(res.subCode)) {
      // Not waiting for payment any more: find out whether it was paid or already closed.
      const state = await this.queryPayment(outTradeNo);
      if (state.status === 'PAID') return 'already_paid';
      if (state.status === 'CLOSED') return 'closed';
      if (state.status === 'NOT_FOUND') return 'not_found';
    }
    throw this.refused('alipay.trade.close', res);
  }

  async refund(r: ChannelRefundInput): Promise<ChannelRefundState> {
    const res = await this.call<{ fund_change?: string }>('alipay.trade.refund', {
      out_trade_no: r.outTradeNo,
      refund_amount: fenToYuan(r.amount),
      // Required for partial refunds, and makes a repeated call idempotent.
      out_request_no: r.outRefundNo,
      ...(r.reason ? { refund_reason: r.reason.slice(0, 256) } : {}),
    });
    if (res.code === ALIPAY_SUCCESS) {
      // fund_change=N: nothing moved in this call (e.g. a repeat); the refund query is authoritative.
      if (res.body.fund_change === 'Y')
        return { outRefundNo: r.outRefundNo, status: 'SUCCEEDED', amount: r.amount };
      const state = await this.queryRefund(r);
      // Accepted yet not found: unsure, never a failure (the sync job asks again).
      return state.status === 'NOT_FOUND'
        ? { outRefundNo: r.outRefundNo, status: 'PENDING' }
        : state;
    }
    if (isDefiniteRefundFailure(res.code, res.subCode)) {
      return {
        outRefundNo: r.outRefundNo,
        status: 'FAILED',
        failureReason: `${res.subCode ?? res.code}: ${res.subMsg ?? res.msg}`,
      };
    }
    throw this.refused('alipay.trade.refund', res);
  }

  async queryRefund(r: ChannelRefundRef): Promise<ChannelRefundState> {
    const res = await this.call<{ refund_status?: string; refund_amount?: string }>(
      'alipay.trade.fastpay.refund.query',
      {
        out_trade_no: r.outTradeNo,
        out_request_no: r.outRefundNo,
      },
    );
    if (res.code !== ALIPAY_SUCCESS) throw this.refused('alipay.trade.fastpay.refund.query', res);
    if (res.body.refund_status === 'REFUND_SUCCESS') {
      return {
        outRefundNo: r.outRefundNo,
        status: 'SUCCEEDED',
        ...(res.body.refund_amount ? { amount: yuanToFen(res.body.refund_amount) } : {}),
      };
    }
    // No refund_status: Alipay did not receive the refund or it did not succeed
    // (protocols.md A7). Not a certain failure: re-sending the same out_request_no decides.
    return { outRefundNo: r.outRefundNo, status: 'NOT_FOUND' };
  }

  /** The URL of a day's trade bill (valid about 30 seconds); null when Alipay has no bill for that day. */
  async billDownloadUrl(date: string): Promise<string | null> {
    const res = await this.call<{ bill_download_url?: string }>(
      'alipay.data.dataservice.bill.downloadurl.query',
      {
        bill_type: 'trade',
        bill_date: date,
      },
    );
    if (res.code === ALIPAY_SUCCESS && res.body.bill_download_url)
      return res.body.bill_download_url;
    if (/bill_not_exist/i.test(res.subCode ?? '')) return null;
    throw this.refused('alipay.data.dataservice.bill.downloadurl.query', res);
  }

  /**
   * The day's trade bill (A7): the download URL is asked for, the zip fetched at
   * once (the URL lives about 30 s) into a private temporary file, checked, and
   * its detail file read whole before the first row is yielded. Alipay has no bill for a day yet (or asked
   * too early): not_ready. The file is removed however the reading ends.
   */
  async *downloadBill(date: string): AsyncIterable<BillRow[]> {
    assertBillDate(date);
    const label = `Alipay bill of ${date}`;
    if (date > beijingToday()) throw new BillError('alipay', 'not_ready', `${label}: a future day`);
    let url: string | null;
    try {
      url = await this.billDownloadUrl(date);
    } catch (error) {
      throw new BillError('alipay', 'unavailable', `${label}: ${(error as Error).message}`);
    }
    if (url === null) {
      throw new BillError(
        'alipay',
        'not_ready',
        `${label}: Alipay has no bill for that day yet (isp.bill_not_exist)`,
      );
    }
    const temp = await billTempDir();
    try {
      const path = join(temp.dir, 'bill.zip');
      const saved = await this.fetchBill(url, path, label);
      this.logger.log(`${label}: ${saved.bytes} bytes downloaded`);
      yield* loggedRows(
        readBillOffThread(
          {
            module: require.resolve('./alipay.bill'),
            exportName: 'readAlipayBillZip',
            args: [path, { label }],
          },
          'alipay',
        ),
        label,
        this.logger,
      );
    } finally {
      await temp.remove();
    }
  }

  /** A plain GET (the URL is its own credential); the query string is never logged. */
  private async fetchBill(url: string, path: string, label: string) {
    const where = new URL(url);
    const shown = `${where.origin}${where.pathname}`;
    try {
      const res = await fetch(url, {
        redirect: 'follow',
        signal: AbortSignal.timeout(BILL_DOWNLOAD_TIMEOUT_MS),
      });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status} from ${shown}`);
      }
      return await saveBody(res.body, path);
    } catch (error) {
      const why = isTimeout(error)
        ? `no complete download within ${BILL_DOWNLOAD_TIMEOUT_MS} ms`
        : describeNetworkError(error);
      this.logger.warn(redactText(`${label}: download failed: ${why}`));
      throw new BillError('alipay', 'unavailable', `${label}: download failed: ${why}`);
    }
  }

  async verifyNotification(n: RawNotification): Promise<VerifiedNotification> {
    const params = formParams(n.body);
    const auditBody: Record<string, unknown> = { ...params };
    delete auditBody.sign;
    const outTradeNo =
      typeof params.out_trade_no === 'string' ? params.out_trade_no.slice(0, 64) : undefined;
    if (!params.sign || !verifyAlipayNotification(params, this.config.alipayPublicKey)) {
      throw new NotificationRejected(
        'signature',
        'Alipay notification signature does not verify',
        auditBody,
        outTradeNo,
      );
    }
    if (params.app_id !== this.config.appId) {
      throw new NotificationRejected(
        'app_id',
        `notification for app_id ${params.app_id}, not ours`,
        auditBody,
        outTradeNo,
      );
    }
    if (this.config.sellerId && params.seller_id !== this.config.sellerId) {
      throw new NotificationRejected(
        'seller_id',
        `notification for seller_id ${params.seller_id}, not ours`,
        auditBody,
        outTradeNo,
      );
    }
    let amount: number;
    let status: ChannelPaymentState['status'];
    try {
      amount = yuanToFen(params.total_amount ?? '');
      status = mapAlipayTradeStatus(params.trade_status);
    } catch (error) {
      const why = error instanceof MoneyFormatError ? 'total_amount' : 'trade_status';
      throw new NotificationRejected(
        'malformed',
        `signed notification with an unreadable ${why}`,
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
    // A refund notification carries refund_fee / gmt_refund, and out_biz_no = the refund's
    // out_request_no. refund_fee is the trade's cumulative total, not this refund's
    // amount, so it names the refund but does not settle it: the refund query does.
    const isRefund = params.refund_fee !== undefined || params.gmt_refund !== undefined;
    return {
      kind: isRefund ? 'refund' : 'payment',
      ...(isRefund ? { refund: { outRefundNo: params.out_biz_no?.slice(0, 64) } } : {}),
      dedupeKey:
        `${params.trade_status}:${params.notify_id ?? `${outTradeNo}:${params.notify_time}`}`.slice(
          0,
          191,
        ),
      state: this.tradeState(outTradeNo, params, params.gmt_payment, amount, status),
      auditBody,
    };
  }

  acknowledge(outcome: ReplyOutcome): RawReply {
    // Alipay wants exactly these seven (or four) characters; anything else is a failure and it retries.
    return {
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      body: outcome === 'ok' ? 'success' : 'fail',
    };
  }

  private tradeState(
    outTradeNo: string,
    body: Record<string, string | undefined>,
    paidAtText: string | undefined,
    amount = yuanToFen(body.total_amount ?? ''),
    status = mapAlipayTradeStatus(body.trade_status),
  ): ChannelPaymentState {
    return {
      outTradeNo,
      status,
      amount,
      ...(body.trade_no ? { channelTradeNo: body.trade_no } : {}),
      ...(status === 'PAID' ? { paidAt: parseBeijingTime(paidAtText) ?? new Date() } : {}),
    };
  }

  private async call<T>(method: string, biz: Record<string, unknown>): Promise<AlipayResult<T>> {
    const end = this.metrics.channelCalls.startTimer({ channel: 'alipay', method });
    try {
      const res = await this.client.execute<T>(method, biz);
      end({ result: res.code === ALIPAY_SUCCESS ? 'ok' : (res.subCode ?? res.code) });
      return res;
    } catch (error) {
      end({ result: error instanceof AlipayGatewayError ? error.kind : 'error' });
      if (error instanceof AlipayGatewayError) {
        const kind =
          error.kind === 'transport' || error.kind === 'timeout' ? 'unavailable' : 'error';
        throw new ChannelCallError('alipay', kind, `${method}: ${error.message}`);
      }
      throw error;
    }
  }

  private refused(method: string, res: AlipayResult<unknown>): ChannelCallError {
    return new ChannelCallError(
      'alipay',
      'error',
      `${method} answered ${res.code} ${res.subCode ?? ''} ${res.subMsg ?? res.msg}`.trim(),
    );
  }
}

function formParams(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body as Record<string, unknown>))
      if (typeof v === 'string') out[k] = v;
  }
  return out;
}
