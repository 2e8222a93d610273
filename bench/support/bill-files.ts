/**
 * Channel bills for the reconciliation bench, written to disk as a stream
 * (a million rows never sit in memory) in the layouts protocols.md A7 and B6/C4
 * describe: Alipay's zip of GBK CSV with `#` lines and tab-padded values, and
 * WeChat Pay's back-quoted text with a BOM and summary lines, gzipped. The bench
 * writes them with the maintained libraries, independently of src/.
 */
import { stringify } from 'csv-stringify/sync';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import iconv from 'iconv-lite';
import { ZipFile } from 'yazl';
import { yuan } from './alipay-bench';

export interface BenchBillRow {
  kind: 'payment' | 'refund';
  outTradeNo: string;
  channelTradeNo: string;
  /** refunds only */
  outRefundNo?: string;
  /** fen, positive */
  amount: number;
  at: Date;
}

const ALIPAY_COLUMNS = [
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
];

function beijingText(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

function alipayRecord(r: BenchBillRow): string[] {
  const refund = r.kind === 'refund';
  const amount = `${refund ? '-' : ''}${yuan(r.amount)}`;
  return [
    `${r.channelTradeNo}\t`,
    `${r.outTradeNo}\t`,
    refund ? '退款' : '交易',
    '商品',
    `${beijingText(r.at)}\t`,
    `${beijingText(r.at)}\t`,
    '',
    '',
    '',
    '',
    'buy***@example.com\t',
    amount,
    amount,
    '0.00',
    '0.00',
    '0.00',
    '0.00',
    '0.00',
    '',
    '0.00',
    '0.00',
    refund ? `${r.outRefundNo}\t` : '',
    refund ? '0.01' : '-0.06',
    '0.00',
    '',
  ];
}

/** Alipay's detail CSV as text: `#` header lines, the column line, rows (CSV by csv-stringify), footer. */
async function* alipayDetail(
  rows: AsyncIterable<BenchBillRow> | Iterable<BenchBillRow>,
  date: string,
): AsyncGenerator<string> {
  const csv = (records: string[][]) => stringify(records, { record_delimiter: '\r\n' });
  yield (
    '#支付宝业务明细查询\r\n#账号：[20880000000000000156]\r\n' +
    `#起始日期：[${date} 00:00:00]   终止日期：[${date} 23:59:59]\r\n` +
    '#-----------------------------------------业务明细列表----------------------------------------\r\n'
  );
  yield csv([ALIPAY_COLUMNS]);
  let payments = 0;
  let refunds = 0;
  let batch: string[][] = [];
  for await (const r of rows) {
    if (r.kind === 'refund') refunds++;
    else payments++;
    batch.push(alipayRecord(r));
    if (batch.length === 1000) {
      yield csv(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield csv(batch);
  yield (
    '#-----------------------------------------业务明细列表结束------------------------------------\r\n' +
    `#交易合计：${payments}笔，商家实收共0.00元，商家优惠共0.00元\r\n` +
    `#退款合计：${refunds}笔，商家实收退款共0.00元\r\n` +
    `#导出时间：[${date} 09:00:00]\r\n`
  );
}

/**
 * A zip like Alipay's download: the detail file and its (汇总) summary. Entry
 * names here are UTF-8 with the zip's UTF-8 flag, which readers honour; the
 * sandbox's bills carry GBK names like Alipay's own.
 */
export async function writeAlipayBillZip(
  path: string,
  date: string,
  rows: AsyncIterable<BenchBillRow> | Iterable<BenchBillRow>,
): Promise<void> {
  const zip = new ZipFile();
  const stamp = date.replace(/-/g, '');
  zip.addReadStream(
    Readable.from(alipayDetail(rows, date)).pipe(iconv.encodeStream('gbk')) as unknown as Readable,
    `20880000000000000156_${stamp}_业务明细.csv`,
  );
  zip.addBuffer(
    iconv.encode(`#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数\r\n,,0\r\n`, 'gbk'),
    `20880000000000000156_${stamp}_业务明细(汇总).csv`,
  );
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

const WECHAT_COLUMNS =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';

/**
 * WeChat Pay's ALL bill, gzipped, with the SHA-1 of the text before compression
 * (what /v3/bill/tradebill's hash_value states).
 */
export async function writeWechatBillGz(
  path: string,
  ids: { appId: string; mchId: string },
  rows: AsyncIterable<BenchBillRow> | Iterable<BenchBillRow>,
): Promise<{ sha1: string }> {
  const hash = createHash('sha1');
  let count = 0;
  const lines = Readable.from(
    (async function* () {
      yield `\uFEFF${WECHAT_COLUMNS}\r\n`;
      let batch = '';
      for await (const r of rows) {
        count++;
        const refund = r.kind === 'refund';
        const fields = [
          beijingText(r.at),
          ids.appId,
          ids.mchId,
          '0',
          '',
          r.channelTradeNo,
          r.outTradeNo,
          'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
          'NATIVE',
          refund ? 'REFUND' : 'SUCCESS',
          'OTHERS',
          'CNY',
          refund ? '0.00' : yuan(r.amount),
          '0.00',
          refund ? `50300${r.channelTradeNo.slice(-20)}` : '0',
          refund ? r.outRefundNo! : '0',
          refund ? yuan(r.amount) : '0.00',
          '0.00',
          refund ? 'ORIGINAL' : '',
          refund ? 'SUCCESS' : '',
          '商品',
          '',
          refund ? '-0.00100' : '0.00600',
          '0.60%',
          refund ? '0.00' : yuan(r.amount),
          refund ? yuan(r.amount) : '0.00',
          '',
        ];
        batch += `\`${fields.join(',`')}\r\n`;
        if (count % 1000 === 0) {
          yield batch;
          batch = '';
        }
      }
      if (batch) yield batch;
      yield '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n';
      yield `\`${count},\`0.00,\`0.00,\`0.00,\`0.00000,\`0.00,\`0.00\r\n`;
    })(),
  );
  const hashing = new Transform({
    transform(chunk: Buffer | string, _encoding, done) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      hash.update(bytes);
      done(null, bytes);
    },
  });
  await pipeline(lines, hashing, createGzip(), createWriteStream(path));
  return { sha1: hash.digest('hex') };
}
