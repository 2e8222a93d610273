/**
 * alipay.data.dataservice.bill.downloadurl.query and the download it points to:
 * a zip of GBK CSV files, served once from an unguessable URL that expires 30 s
 * after it was issued, as Alipay's does (protocols.md A7).
 */
import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { buildTradeBillFiles, type BillLine } from './alipay-sandbox-bill.builder';
import { AlipayGatewayError } from './alipay-sandbox.errors';
import { AlipaySandboxService } from './alipay-sandbox.service';
import {
  ALIPAY_SANDBOX_SETTINGS,
  AlipaySandboxCredentials,
  type AlipaySandboxSettings,
} from './alipay-sandbox.settings';
import { beijingDayStart, formatBeijing } from './alipay-sandbox.time';
import { encodeGbk } from './gbk-encoder';
import { writeZip, type ZipEntry } from './zip-writer';

export const BILL_URL_TTL_MS = 30_000;

export interface IssuedBill {
  fileName: string;
  zip: Buffer;
  expiresAt: number;
}

@Injectable()
export class AlipaySandboxBillService {
  private readonly issued = new Map<string, IssuedBill>();

  constructor(
    @Inject(ALIPAY_SANDBOX_SETTINGS) private readonly settings: AlipaySandboxSettings,
    private readonly credentials: AlipaySandboxCredentials,
    private readonly trades: AlipaySandboxService,
  ) {}

  /**
   * Unlike Alipay (T+1), today's bill is available too, holding the day so far:
   * a developer can reconcile what they just paid.
   */
  issueDownloadUrl(billType: string, billDate: string, now = new Date()): string {
    if (billType !== 'trade') {
      throw AlipayGatewayError.invalidParameter(
        billType === 'signcustomer'
          ? 'the sandbox keeps only bill_type=trade'
          : 'bill_type must be trade or signcustomer',
      );
    }
    const range = billRange(billDate);
    if (!range) {
      throw AlipayGatewayError.invalidParameter(
        'bill_date must be yyyy-MM-dd or yyyy-MM, from 2016-01-01',
      );
    }
    if (range.from.getTime() > now.getTime()) {
      throw AlipayGatewayError.business(
        'isp.bill_not_exist',
        '账单不存在 (no bill for a future date)',
      );
    }
    const zip = this.buildZip(range.period, range.from, range.to, now);
    this.purge(now.getTime());
    const token = randomBytes(16).toString('hex');
    this.issued.set(token, {
      fileName: `${this.credentials.sellerId}0156_${range.period}.csv.zip`,
      zip,
      expiresAt: now.getTime() + BILL_URL_TTL_MS,
    });
    return `${this.settings.publicBaseUrl}/sandbox/alipay/bills/${token}.zip`;
  }

  /** The bill behind a download token, or null when unknown or expired. */
  find(token: string, now = Date.now()): IssuedBill | null {
    this.purge(now);
    return this.issued.get(token) ?? null;
  }

  private purge(now: number): void {
    for (const [token, bill] of this.issued) if (bill.expiresAt <= now) this.issued.delete(token);
  }

  private buildZip(period: string, from: Date, to: Date, now: Date): Buffer {
    const inRange = (d: Date | undefined) => !!d && d >= from && d < to;
    const lines: BillLine[] = [];
    for (const trade of [...this.trades.allTrades()].reverse()) {
      const common = {
        tradeNo: trade.tradeNo,
        outTradeNo: trade.outTradeNo,
        subject: trade.subject,
        createdAt: trade.createdAt,
        buyerLogonId: trade.buyerLogonId ?? '',
      };
      if (inRange(trade.paidAt)) {
        lines.push({
          ...common,
          kind: 'payment',
          finishedAt: trade.paidAt!,
          amountFen: trade.totalFen,
        });
      }
      for (const refund of trade.refunds) {
        if (!inRange(refund.refundedAt)) continue;
        lines.push({
          ...common,
          kind: 'refund',
          finishedAt: refund.refundedAt,
          amountFen: refund.amountFen,
          outRequestNo: refund.outRequestNo,
        });
      }
    }
    const files = buildTradeBillFiles({
      sellerId: this.credentials.sellerId,
      period,
      from,
      to,
      exportedAt: now,
      lines,
    });
    const time = wallClock(now);
    let entries: ZipEntry[];
    try {
      entries = files.map((f) => ({ name: encodeGbk(f.name), data: encodeGbk(f.text), time }));
    } catch (err) {
      throw new AlipayGatewayError('20000', 'isp.unknow-error', `服务暂不可用 (${String(err)})`);
    }
    return writeZip(entries);
  }
}

function billRange(billDate: string): { period: string; from: Date; to: Date } | null {
  const daily = /^(\d{4})-(\d{2})-(\d{2})$/.exec(billDate);
  const monthly = /^(\d{4})-(\d{2})$/.exec(billDate);
  const from = daily
    ? beijingDayStart(billDate)
    : monthly
      ? beijingDayStart(`${billDate}-01`)
      : null;
  if (!from || from.getTime() < beijingDayStart('2016-01-01')!.getTime()) return null;
  if (daily) {
    return { period: billDate.replace(/-/g, ''), from, to: new Date(from.getTime() + 86_400_000) };
  }
  const [y, m] = [Number(monthly![1]), Number(monthly![2])];
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
  return { period: billDate.replace('-', ''), from, to: beijingDayStart(next)! };
}

function wallClock(d: Date): ZipEntry['time'] {
  const [year, month, day, hour, minute, second] = formatBeijing(d).split(/[- :]/).map(Number);
  return { year, month, day, hour, minute, second };
}
