/**
 * Channel bills in their real layouts, written for tests and the benchmark
 * (protocols.md A7, B6, C4) from rows given as an iterable, so that a bill of a
 * million rows streams to disk with flat memory:
 *
 * - Alipay: a zip with GBK entry names and GBK text — the `…_业务明细.csv`
 *   detail file (`#` lines, one column header, tab-padded ids, refunds written
 *   negative, the `#…合计` footer) beside the `…_业务明细(汇总).csv` summary.
 * - WeChat Pay: UTF-8 text (a BOM for v3), the comma-separated header, records
 *   of backtick-prefixed fields joined by `` ,` ``, `\r\n`, the two summary
 *   lines; the current ALL layout or the one before 2017; gzipped if asked.
 *
 * Written here from the documents, not from the parsers they test.
 */
import iconv from 'iconv-lite';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { gbkNamedZip } from '../../src/sandbox/alipay/alipay-sandbox.zip';

/** 8880 → "88.80"; written here so that the builder shares nothing with the reader. */
export const yuan = (fen: number): string =>
  `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;

/** 2024-01-01 10:00:05 in Beijing time. */
const beijing = (at: Date) =>
  new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

const BATCH = 2000;

/** Lines joined into chunks, so a million rows make a few hundred writes. */
async function* chunks(lines: Iterable<string> | AsyncIterable<string>): AsyncGenerator<string> {
  let batch: string[] = [];
  for await (const line of lines) {
    batch.push(line);
    if (batch.length === BATCH) {
      yield batch.join('');
      batch = [];
    }
  }
  if (batch.length > 0) yield batch.join('');
}

// ---- Alipay -----------------------------------------------------------------------

export const ALIPAY_COLUMNS = [
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

export interface AlipayRow {
  kind: 'payment' | 'refund';
  outTradeNo: string;
  tradeNo?: string;
  /** Positive fen; refunds are written negative. */
  amountFen: number;
  outRequestNo?: string;
  finishedAt?: Date;
  subject?: string;
  /** 服务费（元） as written, e.g. "-0.53". */
  fee?: string;
  /** Written as 订单金额（元） instead of the amount (to write a broken one). */
  amountText?: string;
  /** Written as 业务类型 instead of 交易 / 退款. */
  type?: string;
}

export interface AlipayBillOptions {
  /** The column order of the header line (a permutation of ALIPAY_COLUMNS). */
  columns?: readonly string[];
  /** yyyyMMdd in the names and the date lines. */
  date?: string;
  pid?: string;
}

function alipayLine(row: AlipayRow, columns: readonly string[]): string {
  const at = beijing(row.finishedAt ?? new Date('2024-01-01T02:00:05Z'));
  const signed = row.kind === 'refund' ? `-${yuan(row.amountFen)}` : yuan(row.amountFen);
  const amount = row.amountText ?? signed;
  const values: Record<string, string> = {
    支付宝交易号: `${row.tradeNo ?? `2024010122001${row.outTradeNo.slice(-15).padStart(15, '0')}`}\t`,
    商户订单号: `${row.outTradeNo}\t`,
    业务类型: row.type ?? (row.kind === 'refund' ? '退款' : '交易'),
    商品名称: row.subject ?? '蓝色马克杯',
    创建时间: at,
    完成时间: at,
    对方账户: '138****0000',
    '订单金额（元）': amount,
    '商家实收（元）': amount,
    '退款批次号/请求号': row.outRequestNo ? `${row.outRequestNo}\t` : '',
    '服务费（元）': row.fee ?? '0.00',
  };
  // A header re-saved with ASCII brackets names the same columns.
  const value = (c: string) => values[c.replace('(', '（').replace(')', '）')];
  return `${columns.map((c) => value(c) ?? (/元/.test(c) ? '0.00' : '')).join(',')}\r\n`;
}

async function* alipayDetail(
  rows: Iterable<AlipayRow> | AsyncIterable<AlipayRow>,
  options: AlipayBillOptions,
): AsyncGenerator<string> {
  const date = options.date ?? '20240101';
  const day = `${date.slice(0, 4)}年${date.slice(4, 6)}月${date.slice(6, 8)}日`;
  const columns = options.columns ?? ALIPAY_COLUMNS;
  yield '#支付宝业务明细查询\r\n';
  yield `#账号：[${options.pid ?? '2088000000000001'}0156]\r\n`;
  yield `#起始日期：[${day} 00:00:00]   终止日期：[${day} 23:59:59]\r\n`;
  yield '#-----------------------------------------业务明细列表----------------------------------------\r\n';
  yield `${columns.join(',')}\r\n`;
  let payments = 0;
  let refunds = 0;
  for await (const row of rows) {
    if (row.kind === 'payment') payments++;
    else refunds++;
    yield alipayLine(row, columns);
  }
  yield '#-----------------------------------------业务明细列表结束------------------------------------\r\n';
  yield `#交易合计：${payments}笔，商家实收共0.00元，商家优惠共0.00元\r\n`;
  yield `#退款合计：${refunds}笔，商家实收退款共0.00元，商家优惠退款共0.00元\r\n`;
  yield `#导出时间：[${day} 09:00:00]\r\n`;
}

/** Writes an Alipay trade-bill zip to `path`, streaming the rows. */
export async function writeAlipayBillZip(
  path: string,
  rows: Iterable<AlipayRow> | AsyncIterable<AlipayRow>,
  options: AlipayBillOptions = {},
): Promise<void> {
  const prefix = `${options.pid ?? '2088000000000001'}0156_${options.date ?? '20240101'}`;
  const zip = gbkNamedZip();
  const detail = Readable.from(chunks(alipayDetail(rows, options))).pipe(iconv.encodeStream('gbk'));
  zip.addReadStream(detail, `${prefix}_业务明细.csv`);
  // The summary comes second in Alipay's zips; a reader must still pick the detail.
  zip.addBuffer(
    iconv.encode(
      '#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数,退款订单总笔数\r\n合计,,0,0\r\n',
      'gbk',
    ),
    `${prefix}_业务明细(汇总).csv`,
  );
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

// ---- WeChat Pay ------------------------------------------------------------------

export const WECHAT_COLUMNS = {
  current:
    '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注'.split(
      ',',
    ),
  old: '交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率'.split(
    ',',
  ),
};
const WECHAT_SUMMARY = {
  current: {
    header:
      '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
    values: '`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00',
  },
  old: {
    header: '总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额',
    values: '`0,`0.00,`0.00,`0.00,`0',
  },
};

export interface WechatRow {
  /** revoked: 交易状态 REVOKED (a payment code trade WeChat reversed). */
  kind: 'payment' | 'refund' | 'revoked';
  outTradeNo: string;
  transactionId?: string;
  amountFen: number;
  outRefundNo?: string;
  refundId?: string;
  /** 退款状态 of a refund; SUCCESS when absent. */
  refundState?: string;
  at?: Date;
  /** 手续费 as written (five decimals in the current layout). */
  fee?: string;
  /** Written in place of the amount (to write a broken one). */
  amountText?: string;
  /** Written as 交易状态 instead of SUCCESS / REFUND / REVOKED. */
  state?: string;
  /** A subject with commas in it: the format has no quoting and needs none. */
  subject?: string;
}

export interface WechatBillOptions {
  layout?: 'current' | 'old';
  /** A UTF-8 BOM first, as v3's files have. */
  bom?: boolean;
  /** The header's column order (a permutation of the layout's columns). */
  columns?: readonly string[];
}

function wechatLine(row: WechatRow, layout: 'current' | 'old', columns: readonly string[]) {
  const amount = row.amountText ?? yuan(row.amountFen);
  const refund = row.kind === 'refund';
  const values: Record<string, string> = {
    交易时间: beijing(row.at ?? new Date('2024-01-01T02:00:05Z')),
    公众账号ID: 'wx0000000000000001',
    商户号: '1900000001',
    特约商户号: '0',
    子商户号: '0',
    微信订单号:
      row.transactionId ?? `4200000000202401010${row.outTradeNo.slice(-9).padStart(9, '0')}`,
    商户订单号: row.outTradeNo,
    用户标识: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    交易类型: 'NATIVE',
    交易状态: row.state ?? (refund ? 'REFUND' : row.kind === 'revoked' ? 'REVOKED' : 'SUCCESS'),
    付款银行: 'OTHERS',
    货币种类: 'CNY',
    应结订单金额: refund ? '0.00' : amount,
    总金额: refund ? '0.00' : amount,
    订单金额: refund ? '0.00' : amount,
    微信退款单号: refund
      ? (row.refundId ?? `5000000000202401010${row.outTradeNo.slice(-10).padStart(10, '0')}`)
      : '0',
    商户退款单号: refund ? (row.outRefundNo ?? '') : '0',
    退款金额: refund ? amount : '0.00',
    申请退款金额: refund ? amount : '0.00',
    退款类型: refund ? 'ORIGINAL' : '',
    退款状态: refund ? (row.refundState ?? 'SUCCESS') : '',
    商品名称: row.subject ?? 'Blue mug',
    手续费: row.fee ?? (layout === 'old' ? '0' : '0.00000'),
    费率: '0.60%',
  };
  return `${columns.map((c) => `\`${values[c] ?? (c.includes('金额') ? '0.00' : '')}`).join(',')}\r\n`;
}

async function* wechatText(
  rows: Iterable<WechatRow> | AsyncIterable<WechatRow>,
  options: WechatBillOptions,
): AsyncGenerator<string> {
  const layout = options.layout ?? 'current';
  const columns = options.columns ?? WECHAT_COLUMNS[layout];
  yield `${options.bom ? '\uFEFF' : ''}${columns.join(',')}\r\n`;
  for await (const row of rows) yield wechatLine(row, layout, columns);
  yield `${WECHAT_SUMMARY[layout].header}\r\n${WECHAT_SUMMARY[layout].values}\r\n`;
}

/** The bill text in one string (small bills). */
export async function wechatBillText(
  rows: Iterable<WechatRow>,
  options: WechatBillOptions = {},
): Promise<string> {
  let text = '';
  for await (const part of wechatText(rows, options)) text += part;
  return text;
}

/** Streams a WeChat Pay bill to `path` (gzipped when asked); the SHA-1 of its text. */
export async function writeWechatBill(
  path: string,
  rows: Iterable<WechatRow> | AsyncIterable<WechatRow>,
  options: WechatBillOptions & { gzip?: boolean } = {},
): Promise<{ sha1: string }> {
  const hash = createHash('sha1');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const source = Readable.from(chunks(wechatText(rows, options)));
  if (options.gzip) await pipeline(source, hashing, createGzip(), createWriteStream(path));
  else await pipeline(source, hashing, createWriteStream(path));
  return { sha1: hash.digest('hex') };
}
