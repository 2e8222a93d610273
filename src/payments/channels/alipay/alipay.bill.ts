/**
 * Alipay's daily trade bill (alipay.data.dataservice.bill.downloadurl.query,
 * bill_type `trade`; protocols.md A7 "File format"): a zip whose entry names are
 * GBK, holding `<PID>_<yyyyMMdd>_业务明细.csv` (one line per payment and refund)
 * and `…_业务明细(汇总).csv` (totals, not read here). The detail file is GBK text:
 * `#` lines before and after, one column-header line, the rows, then the
 * `#…合计` footer. Columns are found by name; values carry padding tabs.
 *
 * Read from a file on disk so that a bill of any size streams: yauzl reads the
 * central directory first (a truncated download fails before any row), the
 * entry's CRC-32 is checked in a first pass over its bytes, and only then are
 * the rows parsed and yielded.
 */
import iconv from 'iconv-lite';
import { parse as parseCsv } from 'csv-parse';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import * as yauzl from 'yauzl';
import { MoneyFormatError, yuanToFen } from '../../../common/money/money';
import { BillError, type BillRow } from '../../payment-provider';
import { parseBeijingTime } from './alipay.mapper';

const DETAIL_SUFFIX = '_业务明细.csv';

/** The columns a row is read from, by their name in the header line (brackets normalised). */
const COLUMNS = {
  tradeNo: '支付宝交易号',
  outTradeNo: '商户订单号',
  type: '业务类型',
  finishedAt: '完成时间',
  amount: '订单金额(元)',
  outRequestNo: '退款批次号/请求号',
  fee: '服务费(元)',
} as const;
type Column = keyof typeof COLUMNS;
const REQUIRED: readonly Column[] = ['outTradeNo', 'type', 'amount'];

/** 业务类型: the two kinds of line a trade bill holds. */
const KINDS: Readonly<Record<string, BillRow['kind']>> = { 交易: 'payment', 退款: 'refund' };

export interface AlipayBillReadOptions {
  /** Names the bill in errors, e.g. "Alipay bill of 2024-01-01". */
  label?: string;
}

const corrupt = (message: string) => new BillError('alipay', 'corrupt', message);

/** Alipay writes `订单金额（元）`; tools that re-save the file write ASCII brackets. */
const columnName = (text: string) => text.trim().replace(/（/g, '(').replace(/）/g, ')');

/**
 * The payments and refunds of an Alipay trade-bill zip on disk, in file order.
 * Throws BillError `corrupt` — before any row when the zip or its detail entry
 * is damaged, at the row when a row cannot be read.
 */
export async function* readAlipayBillZip(
  path: string,
  options: AlipayBillReadOptions = {},
): AsyncGenerator<BillRow> {
  const label = options.label ?? 'Alipay bill';
  let zip: yauzl.ZipFile;
  try {
    // decodeStrings off: the names are GBK, which yauzl would read as CP437.
    zip = await yauzl.openPromise(path, {
      lazyEntries: true,
      decodeStrings: false,
      autoClose: false,
      validateEntrySizes: true,
    });
  } catch (error) {
    throw corrupt(`${label}: not a readable zip (${(error as Error).message})`);
  }
  try {
    const entry = await detailEntry(zip, label);
    await checkCrc(zip, entry, label);
    yield* detailRows(await zip.openReadStreamPromise(entry), label);
  } finally {
    zip.close();
  }
}

/** General purpose bit 11 set: the name is UTF-8; otherwise Alipay's GBK. */
function entryName(entry: yauzl.Entry): string {
  const raw = entry.fileNameRaw ?? (entry.fileName as unknown as Buffer);
  return entry.generalPurposeBitFlag & 0x800 ? raw.toString('utf8') : iconv.decode(raw, 'gbk');
}

async function detailEntry(zip: yauzl.ZipFile, label: string): Promise<yauzl.Entry> {
  const names: string[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entryName(entry);
      // `…_业务明细(汇总).csv` holds the totals: it does not end with the suffix.
      if (name.endsWith(DETAIL_SUFFIX)) return entry;
      names.push(name);
    }
  } catch (error) {
    throw corrupt(`${label}: unreadable zip directory (${(error as Error).message})`);
  }
  throw corrupt(
    `${label}: no …${DETAIL_SUFFIX} entry in the zip (entries: ${names.join(', ') || 'none'})`,
  );
}

/** yauzl checks sizes, not CRC-32: one pass over the inflated bytes does (zlib.crc32, Node ≥ 20.15). */
async function checkCrc(zip: yauzl.ZipFile, entry: yauzl.Entry, label: string): Promise<void> {
  const crc32 = (zlib as { crc32?: (data: Buffer, value?: number) => number }).crc32;
  let crc = 0;
  try {
    const stream = await zip.openReadStreamPromise(entry);
    for await (const chunk of stream as AsyncIterable<Buffer>) if (crc32) crc = crc32(chunk, crc);
  } catch (error) {
    throw corrupt(`${label}: the detail entry does not inflate (${(error as Error).message})`);
  }
  if (crc32 && crc >>> 0 !== entry.crc32 >>> 0) {
    throw corrupt(`${label}: the detail entry fails its CRC-32 check (damaged download)`);
  }
}

type Indexes = Record<Column, number>;

function indexes(header: string[], label: string): Indexes {
  const names = header.map(columnName);
  const found = {} as Indexes;
  for (const [key, name] of Object.entries(COLUMNS) as [Column, string][]) {
    found[key] = names.indexOf(name);
  }
  const missing = REQUIRED.filter((k) => found[k] < 0).map((k) => COLUMNS[k]);
  if (missing.length > 0) {
    throw corrupt(`${label}: the column header lacks ${missing.join(', ')}`);
  }
  return found;
}

async function* detailRows(entry: Readable, label: string): AsyncGenerator<BillRow> {
  // Only what the layout needs: csv-parse's per-record `info` and empty-line
  // skipping cost a third of the parse on a large bill. Errors name the data
  // row (the first line after the column header is row 1) and its trade.
  const parser = parseCsv({
    // Only whole `#` lines are comments: a `#` inside a subject is text.
    comment: '#',
    comment_no_infix: true,
    relax_column_count: true,
    relax_quotes: true,
  });
  pipeline(entry, iconv.decodeStream('gbk'), parser, () => undefined);
  let columns: Indexes | undefined;
  let row = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (record.length === 1 && record[0].trim() === '') continue;
      if (!columns) columns = indexes(record, label);
      else yield toRow(record, columns, label, ++row);
    }
  } catch (error) {
    if (error instanceof BillError) throw error;
    throw corrupt(`${label}: the detail file does not parse (${(error as Error).message})`);
  }
  if (!columns) throw corrupt(`${label}: the detail file has no column header`);
}

function toRow(record: string[], c: Indexes, label: string, line: number): BillRow {
  const cell = (k: Column) => (c[k] >= 0 ? (record[c[k]] ?? '').trim() : '');
  const at = `${label}: row ${line} of the detail list`;
  const type = cell('type');
  const kind = KINDS[type];
  if (!kind) throw corrupt(`${at}: 业务类型 ${JSON.stringify(type)} is neither 交易 nor 退款`);
  const outTradeNo = cell('outTradeNo');
  if (!outTradeNo) throw corrupt(`${at}: no 商户订单号`);
  const amountText = cell('amount');
  // Refund lines are written negative; paygate counts every amount positive.
  const unsigned = kind === 'refund' ? amountText.replace(/^-/, '') : amountText;
  let amount: number;
  try {
    amount = yuanToFen(unsigned);
  } catch (error) {
    if (!(error instanceof MoneyFormatError)) throw error;
    throw corrupt(`${at} (${outTradeNo}): 订单金额 ${JSON.stringify(amountText)} is not yuan`);
  }
  const tradeNo = cell('tradeNo');
  const fee = cell('fee');
  const finishedAt = parseBeijingTime(cell('finishedAt'));
  return {
    kind,
    outTradeNo,
    // A refund made without out_request_no is filed under the trade's out_trade_no (A7).
    ...(kind === 'refund' ? { outRefundNo: cell('outRequestNo') || outTradeNo } : {}),
    ...(tradeNo ? { channelTradeNo: tradeNo } : {}),
    amount,
    ...(fee ? { fee } : {}),
    channelStatus: type,
    ...(finishedAt ? { at: finishedAt } : {}),
  };
}
