/**
 * The trade bill of the simulated WeChat Pay, the same text for API v2
 * (/pay/downloadbill, protocols.md B6) and the v3 trade bill file (C4),
 * written from the shared trade book:
 *
 * - UTF-8 text, lines ending `\r\n`; v3's file starts with a BOM, v2's does
 *   not (B6 names the BOM for the v3 fixture only; a reader must take both).
 * - Line 1: the comma-separated column header of the bill_type, no backticks.
 * - One line per record, every field prefixed with a backtick, fields joined
 *   by `` ,` `` (the empty last column leaves a trailing `` ,` ``).
 * - The summary header, then the summary values, backtick-prefixed.
 *
 * Records of a Beijing day: a payment for each trade paid that day (by its pay
 * time, 交易状态 SUCCESS), a refund for each refund accepted that day (by its
 * accept time, 交易状态 REFUND, the refund columns filled, 应结订单金额 and
 * 订单金额 0.00). A refund that ended REFUNDCLOSE gave nothing back: its
 * 退款金额 is 0.00, its 申请退款金额 the amount asked.
 *
 * The sandbox charges no fee: 手续费 0.00000 and 费率 0.00% on every line. No
 * coupons: 代金券金额 and 充值券退款金额 are 0.00. 总交易单数 counts the bill's
 * records (payments and refunds). Amounts are yuan with two decimals (the fee
 * five), converted from integer fen without floating point.
 */
import type { SandboxBillFaults, SandboxBillRow } from '../sandbox-bill-faults';
import { newTransactionId } from './wechat-sandbox.ids';
import type { SandboxRefund, SandboxTrade } from './wechat-sandbox.types';
import { TRADE_TYPES } from './wechat-sandbox.types';
import { beijingStamp } from './wechat-sandbox.time';
import { v2RefundStatus, v2RefundTime } from './v2/wechat-v2-sandbox.credentials';

export const BILL_TYPES = ['ALL', 'SUCCESS', 'REFUND'] as const;
export type BillType = (typeof BILL_TYPES)[number];

const HEAD =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额';
const REFUND_COLUMNS = '微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态';
const TAIL = '商品名称,商户数据包,手续费,费率';
export const BILL_HEADERS: Readonly<Record<BillType, string>> = {
  ALL: `${HEAD},${REFUND_COLUMNS},${TAIL},订单金额,申请退款金额,费率备注`,
  SUCCESS: `${HEAD},${TAIL},订单金额,费率备注`,
  REFUND: `${HEAD},退款申请时间,退款成功时间,${REFUND_COLUMNS},${TAIL},订单金额,申请退款金额,费率备注`,
};
export const BILL_SUMMARY_HEADER =
  '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';

/** Integer fen as yuan with two decimals: 8880 → "88.80", 5 → "0.05". */
export function yuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError(`not a whole number of fen: ${fen}`);
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** True for a real calendar day written yyyyMMdd. */
export function isBillDate(text: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (!m) return false;
  const at = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return at.toISOString().slice(0, 10).replace(/-/g, '') === text;
}

const beijingDay = (at: Date) => beijingStamp(at).slice(0, 8);

/** The format has no escape: a backtick or a line break inside a value would end the field or the line. */
const clean = (value: string) => value.replace(/`/g, "'").replace(/[\r\n]+/g, ' ');

interface BillRecord extends SandboxBillRow {
  at: Date;
  fields: Record<string, string>;
  settledFen: number;
  refundFen: number;
  orderFen: number;
  appliedFen: number;
}

function common(trade: SandboxTrade, appId: string, mchId: string): Record<string, string> {
  return {
    公众账号ID: trade.appId || appId,
    商户号: mchId,
    特约商户号: '0',
    设备号: '',
    微信订单号: trade.transactionId ?? '',
    商户订单号: trade.outTradeNo,
    用户标识: trade.payerOpenid ?? '',
    交易类型: TRADE_TYPES[trade.product],
    付款银行: 'OTHERS',
    货币种类: 'CNY',
    代金券金额: '0.00',
    充值券退款金额: '0.00',
    商品名称: trade.description,
    商户数据包: trade.attach ?? '',
    手续费: '0.00000',
    费率: '0.00%',
    费率备注: '',
  };
}

function paymentRecord(trade: SandboxTrade, appId: string, mchId: string): BillRecord {
  const paidAt = trade.paidAt!;
  return {
    kind: 'payment',
    outTradeNo: trade.outTradeNo,
    amountFen: trade.totalFen,
    at: paidAt,
    fields: {
      ...common(trade, appId, mchId),
      交易时间: v2RefundTime(paidAt),
      交易状态: 'SUCCESS',
      应结订单金额: yuan(trade.totalFen),
      微信退款单号: '0',
      商户退款单号: '0',
      退款金额: '0.00',
      退款类型: '',
      退款状态: '',
      订单金额: yuan(trade.totalFen),
      申请退款金额: '0.00',
    },
    settledFen: trade.totalFen,
    refundFen: 0,
    orderFen: trade.totalFen,
    appliedFen: 0,
  };
}

function refundRecord(
  trade: SandboxTrade,
  refund: SandboxRefund,
  type: BillType,
  appId: string,
  mchId: string,
): BillRecord {
  const refundFen = refund.status === 'CLOSED' ? 0 : refund.amountFen;
  return {
    kind: 'refund',
    outTradeNo: trade.outTradeNo,
    outRefundNo: refund.outRefundNo,
    amountFen: refund.amountFen,
    at: refund.createdAt,
    fields: {
      ...common(trade, appId, mchId),
      // The REFUND bill has its own 退款申请时间 column; its 交易时间 is the payment's.
      交易时间: v2RefundTime(type === 'REFUND' ? trade.paidAt! : refund.createdAt),
      退款申请时间: v2RefundTime(refund.createdAt),
      退款成功时间: refund.successAt ? v2RefundTime(refund.successAt) : '',
      交易状态: 'REFUND',
      应结订单金额: '0.00',
      微信退款单号: refund.refundId,
      商户退款单号: refund.outRefundNo,
      退款金额: yuan(refundFen),
      退款类型: 'ORIGINAL',
      退款状态: v2RefundStatus(refund.status),
      订单金额: '0.00',
      申请退款金额: yuan(refund.amountFen),
    },
    settledFen: 0,
    refundFen,
    orderFen: 0,
    appliedFen: refund.amountFen,
  };
}

const line = (values: string[]) => values.map((v) => `\`${clean(v)}`).join(',');

/** The bill control's "alter": the row says `fen` wherever it states its amount. */
function altered(record: BillRecord, fen: number): BillRecord {
  if (record.kind === 'payment') {
    return {
      ...record,
      amountFen: fen,
      fields: { ...record.fields, 应结订单金额: yuan(fen), 订单金额: yuan(fen) },
      settledFen: fen,
      orderFen: fen,
    };
  }
  const refundFen = record.refundFen === 0 ? 0 : fen;
  return {
    ...record,
    amountFen: fen,
    fields: { ...record.fields, 退款金额: yuan(refundFen), 申请退款金额: yuan(fen) },
    refundFen,
    appliedFen: fen,
  };
}

/** The bill control's "add": a record of a trade or refund no merchant made. */
function madeUp(row: SandboxBillRow, day: string, appId: string, mchId: string): BillRecord {
  const at = new Date(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}T12:00:00+08:00`);
  const trade = {
    outTradeNo: row.outTradeNo,
    product: 'native',
    appId,
    description: 'sandbox: a trade paygate never made',
    transactionId: newTransactionId(at),
    totalFen: row.amountFen,
    paidAt: at,
  } as SandboxTrade;
  if (row.kind === 'payment') return paymentRecord(trade, appId, mchId);
  const refund = {
    outRefundNo: row.outRefundNo ?? `${row.outTradeNo}R`,
    refundId: `50${at.getTime()}${String(row.amountFen).padStart(14, '0')}`.slice(0, 29),
    amountFen: row.amountFen,
    status: 'SUCCESS',
    createdAt: at,
    successAt: at,
  } as SandboxRefund;
  return refundRecord(trade, refund, 'ALL', appId, mchId);
}

export interface BillOptions {
  /** v3's file starts with a UTF-8 BOM. */
  bom?: boolean;
  /** Rows the bill control adds, leaves out or alters. */
  faults?: SandboxBillFaults;
}

/**
 * The bill of one Beijing day (yyyyMMdd) for bill_type, or null when that day
 * holds no record of the type (WeChat's "No Bill Exist", v3's NO_STATEMENT_EXIST).
 */
export function buildBill(
  trades: readonly SandboxTrade[],
  billDate: string,
  type: BillType,
  appId: string,
  mchId: string,
  options: BillOptions = {},
): string | null {
  let records: BillRecord[] = [];
  for (const trade of trades) {
    if (!trade.paidAt) continue;
    if (type !== 'REFUND' && beijingDay(trade.paidAt) === billDate)
      records.push(paymentRecord(trade, appId, mchId));
    if (type === 'SUCCESS') continue;
    for (const refund of trade.refunds)
      if (beijingDay(refund.createdAt) === billDate)
        records.push(refundRecord(trade, refund, type, appId, mchId));
  }
  if (options.faults) {
    const day = `${billDate.slice(0, 4)}-${billDate.slice(4, 6)}-${billDate.slice(6, 8)}`;
    records = options.faults
      .apply(day, records, altered, (row) => madeUp(row, billDate, appId, mchId))
      .filter((r) =>
        type === 'SUCCESS' ? r.kind === 'payment' : type === 'REFUND' ? r.kind === 'refund' : true,
      );
  }
  if (records.length === 0) return null;
  records.sort((a, b) => a.at.getTime() - b.at.getTime());
  const columns = BILL_HEADERS[type].split(',');
  const sum = (pick: (r: BillRecord) => number) => records.reduce((s, r) => s + pick(r), 0);
  const lines = [
    BILL_HEADERS[type],
    ...records.map((r) => line(columns.map((c) => r.fields[c] ?? ''))),
    BILL_SUMMARY_HEADER,
    line([
      String(records.length),
      yuan(sum((r) => r.settledFen)),
      yuan(sum((r) => r.refundFen)),
      '0.00',
      '0.00000',
      yuan(sum((r) => r.orderFen)),
      yuan(sum((r) => r.appliedFen)),
    ]),
  ];
  return `${options.bom ? '\uFEFF' : ''}${lines.join('\r\n')}\r\n`;
}
