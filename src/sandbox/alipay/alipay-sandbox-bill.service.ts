/**
 * alipay.data.dataservice.bill.downloadurl.query and the download it points to:
 * a zip of GBK CSV files (yazl and iconv-lite), served from an unguessable URL
 * that expires 30 s after it was issued, as Alipay's does (protocols.md A7).
 * The bill control (SandboxBillFaults) adds, leaves out or alters rows, answers
 * isp.bill_not_exist for a day that has a bill, or truncates the download.
 */
import { Inject, Injectable } from '@nestjs/common';
import iconv from 'iconv-lite';
import { randomBytes } from 'node:crypto';
import { SandboxBillFaults, type SandboxBillRow } from '../sandbox-bill-faults';
import { buildTradeBillFiles, type BillFile, type BillLine } from './alipay-sandbox-bill.builder';
import { AlipayGatewayError } from './alipay-sandbox.errors';
import { AlipaySandboxService } from './alipay-sandbox.service';
import {
  ALIPAY_SANDBOX_SETTINGS,
  AlipaySandboxCredentials,
  type AlipaySandboxSettings,
} from './alipay-sandbox.settings';
import { newTradeNo } from './alipay-sandbox.ids';
import { beijingDayStart } from './alipay-sandbox.time';
import { gbkNamedZip, zipBytes } from './alipay-sandbox.zip';

export const BILL_URL_TTL_MS = 30_000;

export interface IssuedBill {
  fileName: string;
  /** The files' text, zipped when downloaded. */
  files: BillFile[];
  exportedAt: Date;
  /** The bill control asked for a damaged download: the zip is cut short. */
  truncated: boolean;
  expiresAt: number;
}

type Row = BillLine & SandboxBillRow;

@Injectable()
export class AlipaySandboxBillService {
  private readonly issued = new Map<string, IssuedBill>();
  /** Row changes and download faults, told by the bill control. */
  readonly faults = new SandboxBillFaults(
    (prefix) => `${prefix}${randomBytes(12).toString('hex')}`,
  );

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
    if (this.faults.take('not_ready')) {
      throw AlipayGatewayError.business(
        'isp.bill_not_exist',
        '账单不存在 (sandbox: told by the bill control that this bill is not ready yet)',
      );
    }
    const files = this.buildFiles(billDate, range.period, range.from, range.to, now);
    this.purge(now.getTime());
    const token = randomBytes(16).toString('hex');
    this.issued.set(token, {
      fileName: `${this.credentials.sellerId}0156_${range.period}.csv.zip`,
      files,
      exportedAt: now,
      truncated: this.faults.take('corrupt'),
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

  /** The zip of an issued bill: GBK names and text, deflated; cut in half when told to be damaged. */
  async zip(bill: IssuedBill): Promise<Buffer> {
    const zip = gbkNamedZip();
    const mtime = bill.exportedAt;
    for (const file of bill.files) {
      zip.addBuffer(iconv.encode(file.text, 'gbk'), file.name, { mtime });
    }
    zip.end();
    const bytes = await zipBytes(zip);
    // The central directory is at the end: a cut zip is one no reader can open.
    return bill.truncated ? bytes.subarray(0, Math.floor(bytes.length / 2)) : bytes;
  }

  private buildFiles(
    billDate: string,
    period: string,
    from: Date,
    to: Date,
    now: Date,
  ): BillFile[] {
    const inRange = (d: Date | undefined) => !!d && d >= from && d < to;
    const rows: Row[] = [];
    for (const trade of [...this.trades.allTrades()].reverse()) {
      const common = {
        tradeNo: trade.tradeNo,
        outTradeNo: trade.outTradeNo,
        subject: trade.subject,
        createdAt: trade.createdAt,
        buyerLogonId: trade.buyerLogonId ?? '',
      };
      if (inRange(trade.paidAt)) {
        rows.push({
          ...common,
          kind: 'payment',
          finishedAt: trade.paidAt!,
          amountFen: trade.totalFen,
        });
      }
      for (const refund of trade.refunds) {
        if (!inRange(refund.refundedAt)) continue;
        rows.push({
          ...common,
          kind: 'refund',
          finishedAt: refund.refundedAt,
          amountFen: refund.amountFen,
          outRequestNo: refund.outRequestNo,
          outRefundNo: refund.outRequestNo,
        });
      }
    }
    // An added row happens within the day billed.
    const at = inRange(now) ? now : new Date(from.getTime() + 12 * 3600_000);
    const lines = this.faults.apply<Row>(
      billDate,
      rows,
      (row, amountFen) => ({ ...row, amountFen }),
      (added) => ({
        ...added,
        tradeNo: newTradeNo(at),
        subject: 'sandbox: a trade paygate never made',
        createdAt: at,
        finishedAt: at,
        buyerLogonId: '138****0000',
        ...(added.outRefundNo ? { outRequestNo: added.outRefundNo } : {}),
      }),
    );
    return buildTradeBillFiles({
      sellerId: this.credentials.sellerId,
      period,
      from,
      to,
      exportedAt: now,
      lines,
    });
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
