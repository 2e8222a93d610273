/**
 * The text of an Alipay trade bill ("业务明细" and "业务明细(汇总)" CSV files,
 * protocols.md A7 bill.downloadurl.query). The detail layout (header lines,
 * markers, the 25 column names, tab-padded ids, negative refund rows) follows
 * the bills public parsers expect; the summary file is an approximation.
 */
import { fenToYuan } from '../../common/money/money';
import { formatBeijing } from './alipay-sandbox.time';

export interface BillLine {
  kind: 'payment' | 'refund';
  tradeNo: string;
  outTradeNo: string;
  subject: string;
  createdAt: Date;
  finishedAt: Date;
  buyerLogonId: string;
  /** Positive; refund lines are written negative. */
  amountFen: number;
  outRequestNo?: string;
}

export interface TradeBillInput {
  sellerId: string;
  /** `yyyyMMdd` for a daily bill, `yyyyMM` for a monthly one. */
  period: string;
  from: Date;
  to: Date;
  exportedAt: Date;
  lines: BillLine[];
}

export interface BillFile {
  name: string;
  text: string;
}

export const DETAIL_COLUMNS = [
  '支付宝交易号',
  '商户订单号',
  '业务类型',
  '商品名称',
  '创建时间',
  '完成时间',
  '门店编号',
  '门店名称',
  '操作员',
  '终端号',
  '对方账户',
  '订单金额（元）',
  '商家实收（元）',
  '支付宝红包（元）',
  '集分宝（元）',
  '支付宝优惠（元）',
  '商家优惠（元）',
  '券核销金额（元）',
  '券名称',
  '商家红包消费金额（元）',
  '卡消费金额（元）',
  '退款批次号/请求号',
  '服务费（元）',
  '分润（元）',
  '备注',
] as const;

const EOL = '\r\n';
const ZERO = '0.00';

/** 2024年01月01日 00:00:00 */
function chineseStamp(d: Date): string {
  const [date, time] = formatBeijing(d).split(' ');
  const [y, m, day] = date.split('-');
  return `${y}年${m}月${day}日 ${time}`;
}

function signedYuan(fen: number): string {
  return fen < 0 ? `-${fenToYuan(-fen)}` : fenToYuan(fen);
}

/** Bills are plain comma-separated text with no quoting: keep free text from breaking a row. */
function cell(text: string): string {
  return text.replace(/[,\r\n"]/g, ' ');
}

export function buildTradeBillFiles(input: TradeBillInput): BillFile[] {
  const account = `#账号：[${input.sellerId}0156]`;
  const range = `#起始日期：[${chineseStamp(input.from)}]   终止日期：[${chineseStamp(input.to)}]`;
  const exported = `#导出时间：[${chineseStamp(input.exportedAt)}]`;
  const prefix = `${input.sellerId}0156_${input.period}`;

  const payments = input.lines.filter((l) => l.kind === 'payment');
  const refunds = input.lines.filter((l) => l.kind === 'refund');
  const paidFen = payments.reduce((n, l) => n + l.amountFen, 0);
  const refundedFen = refunds.reduce((n, l) => n + l.amountFen, 0);

  const rows = input.lines.map((l) => {
    const amount = signedYuan(l.kind === 'refund' ? -l.amountFen : l.amountFen);
    return [
      `${l.tradeNo}\t`,
      `${l.outTradeNo}\t`,
      l.kind === 'refund' ? '退款' : '交易',
      cell(l.subject),
      formatBeijing(l.createdAt),
      formatBeijing(l.finishedAt),
      '',
      '',
      '',
      '',
      cell(l.buyerLogonId),
      amount,
      amount,
      ZERO,
      ZERO,
      ZERO,
      ZERO,
      ZERO,
      '',
      ZERO,
      ZERO,
      l.outRequestNo ? `${l.outRequestNo}\t` : '',
      ZERO,
      ZERO,
      '',
    ].join(',');
  });

  const detail = [
    '#支付宝业务明细查询',
    account,
    range,
    '#-----------------------------------------业务明细列表----------------------------------------',
    DETAIL_COLUMNS.join(','),
    ...rows,
    '#-----------------------------------------业务明细列表结束------------------------------------',
    `#交易合计：${payments.length}笔，商家实收共${fenToYuan(paidFen)}元，商家优惠共0.00元`,
    `#退款合计：${refunds.length}笔，商家实收退款共${signedYuan(-refundedFen)}元，商家优惠退款共0.00元`,
    exported,
  ];

  const summary = [
    '#支付宝业务汇总查询',
    account,
    range,
    '#-----------------------------------------业务汇总列表----------------------------------------',
    '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）',
    [
      '合计',
      '',
      payments.length,
      refunds.length,
      signedYuan(paidFen - refundedFen),
      signedYuan(paidFen - refundedFen),
      ZERO,
      ZERO,
      ZERO,
      ZERO,
      ZERO,
      signedYuan(paidFen - refundedFen),
    ].join(','),
    '#-----------------------------------------业务汇总列表结束------------------------------------',
    exported,
  ];

  return [
    { name: `${prefix}_业务明细.csv`, text: detail.join(EOL) + EOL },
    { name: `${prefix}_业务明细(汇总).csv`, text: summary.join(EOL) + EOL },
  ];
}
