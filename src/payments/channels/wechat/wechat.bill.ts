/**
 * WeChat Pay's trade bill text, the same for v2 /pay/downloadbill and the v3
 * trade bill file (protocols.md B6, C4 "Trade bill"): UTF-8, maybe behind a
 * BOM; line 1 the comma-separated column header; then one line per record,
 * every field prefixed with a backtick and fields joined by `` ,` ``; last the
 * summary header and the summary values, which are not records.
 *
 * Columns are found by name, for the current ALL layout (应结订单金额 … 订单金额,
 * 申请退款金额) and the layout before 2017 (子商户号 … 总金额, 代金券或立减优惠金额 …).
 * The format has no quoting and no escape: a record is exactly its line, and
 * the fields are exactly the pieces between `` ,` `` — so splitting on that
 * separator is the whole grammar, and lines come from node:readline.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { MoneyFormatError, yuanToFen } from '../../../common/money/money';
import { BillError, type BillRow } from '../../payment-provider';

const SEPARATOR = ',`';

/** Where each field of a row is, by column name; alternatives are tried in order. */
const COLUMNS = {
  at: ['交易时间'],
  transactionId: ['微信订单号'],
  outTradeNo: ['商户订单号'],
  state: ['交易状态'],
  /** The trade's total (订单金额), else what settles (应结订单金额), else the old 总金额. */
  total: ['订单金额', '应结订单金额', '总金额'],
  refundId: ['微信退款单号'],
  outRefundNo: ['商户退款单号'],
  /** What the merchant asked to refund (申请退款金额), else what settles (退款金额). */
  refund: ['申请退款金额', '退款金额'],
  refundState: ['退款状态'],
  refundedAt: ['退款成功时间'],
  fee: ['手续费'],
} as const;
type Column = keyof typeof COLUMNS;
const REQUIRED: readonly Column[] = ['outTradeNo', 'state', 'total'];

export interface WechatBillReadOptions {
  /** Names the bill in errors, e.g. "WeChat Pay bill of 2024-01-01". */
  label?: string;
}

const corrupt = (message: string) => new BillError('wechat', 'corrupt', message);

/**
 * The payments and refunds of a WeChat Pay bill text stream, in file order
 * (the stream is read to its end, or destroyed when the reading stops early).
 * Rows of a revoked payment (REVOKED: a payment code trade reversed in full, no
 * money kept) and refunds WeChat closed (REFUNDCLOSE: nothing left the account)
 * are not payments or refunds and are passed over. Throws BillError `corrupt`
 * naming the line for a record that cannot be read.
 */
export async function* readWechatBillText(
  input: Readable,
  options: WechatBillReadOptions = {},
): AsyncGenerator<BillRow> {
  const label = options.label ?? 'WeChat Pay bill';
  input.setEncoding('utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  let columns: Record<Column, number> | undefined;
  let names: string[] = [];
  let width = 0;
  let summary = 0;
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      const line = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim() === '') continue;
      if (!columns) {
        names = line.split(',').map((name) => name.trim());
        columns = indexes(names, `${label}: line ${n}`);
        width = names.length;
        continue;
      }
      // The summary header has no backtick, then its values line: neither is a record.
      if (summary > 0 || !line.startsWith('`')) {
        if (++summary > 2) throw corrupt(`${label}: line ${n}: text after the summary lines`);
        continue;
      }
      const cells = line.slice(1).split(SEPARATOR);
      if (cells.length !== width) {
        throw corrupt(`${label}: line ${n}: ${cells.length} fields, the header names ${width}`);
      }
      const row = toRow(cells, columns, names, `${label}: line ${n}`);
      if (row) yield row;
    }
  } catch (error) {
    if (error instanceof BillError) throw error;
    throw corrupt(`${label}: unreadable text (${(error as Error).message})`);
  } finally {
    lines.close();
    input.destroy();
  }
  if (!columns) throw corrupt(`${label}: no column header`);
}

function indexes(names: string[], at: string): Record<Column, number> {
  const found = {} as Record<Column, number>;
  for (const [key, options] of Object.entries(COLUMNS) as [Column, readonly string[]][]) {
    found[key] = -1;
    for (const name of options) {
      const i = names.indexOf(name);
      if (i >= 0) {
        found[key] = i;
        break;
      }
    }
  }
  const missing = REQUIRED.filter((k) => found[k] < 0).map((k) => COLUMNS[k].join('/'));
  if (missing.length > 0) throw corrupt(`${at}: column header lacks ${missing.join(', ')}`);
  return found;
}

function toRow(
  cells: string[],
  c: Record<Column, number>,
  names: string[],
  at: string,
): BillRow | null {
  const cell = (k: Column) => (c[k] >= 0 ? cells[c[k]].trim() : '');
  const state = cell('state');
  const outTradeNo = cell('outTradeNo');
  if (!outTradeNo) throw corrupt(`${at}: no 商户订单号`);
  const where = `${at} (${outTradeNo})`;
  const transactionId = cell('transactionId');
  const fee = cell('fee');
  const common = {
    outTradeNo,
    ...(transactionId ? { channelTradeNo: transactionId } : {}),
    ...(fee ? { fee } : {}),
  };
  switch (state) {
    case 'SUCCESS': {
      const at = beijingTime(cell('at'));
      return {
        kind: 'payment',
        ...common,
        amount: fen(cell('total'), where, names[c.total]),
        channelStatus: state,
        ...(at ? { at } : {}),
      };
    }
    case 'REFUND': {
      const refundState = cell('refundState');
      if (refundState === 'REFUNDCLOSE') return null;
      const outRefundNo = cell('outRefundNo');
      if (!outRefundNo) throw corrupt(`${where}: a REFUND record without 商户退款单号`);
      const refundId = cell('refundId');
      const at = beijingTime(cell('refundedAt')) ?? beijingTime(cell('at'));
      return {
        kind: 'refund',
        ...common,
        outRefundNo,
        ...(refundId ? { channelRefundNo: refundId } : {}),
        amount: fen(cell('refund'), where, names[c.refund] ?? '退款金额'),
        // A refund still under way (PROCESSING) or stuck (CHANGE) says so in the report.
        channelStatus: refundState && refundState !== 'SUCCESS' ? `REFUND/${refundState}` : state,
        ...(at ? { at } : {}),
      };
    }
    case 'REVOKED':
      // A payment code trade WeChat reversed: no money was kept, nothing to reconcile.
      return null;
    default:
      throw corrupt(
        `${where}: 交易状态 ${JSON.stringify(state)} is not SUCCESS, REFUND or REVOKED`,
      );
  }
}

function fen(text: string, where: string, column: string): number {
  try {
    return yuanToFen(text);
  } catch (error) {
    if (!(error instanceof MoneyFormatError)) throw error;
    throw corrupt(`${where}: ${column} ${JSON.stringify(text)} is not yuan`);
  }
}

/** `2024-01-01 12:00:00` in Beijing time; the old documentation's sample writes `：`. */
function beijingTime(text: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2})[:：](\d{2})[:：](\d{2})$/.exec(text);
  if (!m) return undefined;
  const at = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** readWechatBillText over a downloaded (already decompressed) bill file. */
export function readWechatBillFile(
  path: string,
  options: WechatBillReadOptions = {},
): AsyncGenerator<BillRow> {
  return readWechatBillText(createReadStream(path), options);
}
