import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ALIPAY_COLUMNS,
  writeAlipayBillZip,
  type AlipayRow,
} from '../../../../test/support/bill-builder';
import { BillError, type BillRow } from '../../payment-provider';
import { readAlipayBillZip } from './alipay.bill';

const dir = mkdtempSync(join(tmpdir(), 'alipay-bill-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function zipOf(rows: AlipayRow[], options = {}): Promise<string> {
  const path = join(dir, `bill-${n++}.zip`);
  await writeAlipayBillZip(path, rows, options);
  return path;
}

async function read(path: string): Promise<BillRow[]> {
  const rows: BillRow[] = [];
  for await (const row of readAlipayBillZip(path, { label: 'Alipay bill of 2024-01-01' }))
    rows.push(row);
  return rows;
}

/** The error a read ends with, and how many rows came before it. */
async function failure(path: string): Promise<{ error: unknown; yielded: number }> {
  let yielded = 0;
  try {
    for await (const _ of readAlipayBillZip(path, { label: 'Alipay bill of 2024-01-01' }))
      yielded++;
  } catch (error) {
    return { error, yielded };
  }
  throw new Error('the bill was read without an error');
}

const paidAt = new Date('2024-01-01T02:00:05Z');
const payment: AlipayRow = {
  kind: 'payment',
  outTradeNo: 'P0000000000000000000000000000001',
  tradeNo: '2024010122001400000000000001',
  amountFen: 8880,
  finishedAt: paidAt,
  fee: '-0.53',
};
const refund: AlipayRow = {
  kind: 'refund',
  outTradeNo: 'P0000000000000000000000000000001',
  tradeNo: '2024010122001400000000000001',
  amountFen: 1001,
  outRequestNo: 'R0000000000000000000000000000001',
  finishedAt: new Date('2024-01-01T03:00:00Z'),
};

describe('Alipay bill zip reader (protocols.md A7)', () => {
  it('reads every field of payments and refunds: tabs trimmed, refunds positive, times in Beijing', async () => {
    const rows = await read(await zipOf([payment, refund]));
    expect(rows).toEqual([
      {
        kind: 'payment',
        outTradeNo: payment.outTradeNo,
        channelTradeNo: payment.tradeNo,
        amount: 8880,
        fee: '-0.53',
        channelStatus: '交易',
        at: paidAt,
      },
      {
        kind: 'refund',
        outTradeNo: refund.outTradeNo,
        outRefundNo: refund.outRequestNo,
        channelTradeNo: refund.tradeNo,
        amount: 1001,
        fee: '0.00',
        channelStatus: '退款',
        at: new Date('2024-01-01T03:00:00Z'),
      },
    ]);
  });

  it('takes the detail entry, not the 汇总 one; a day without trades yields nothing', async () => {
    expect(await read(await zipOf([]))).toEqual([]);
  });

  it('finds columns by name: a shuffled header still reads; ASCII brackets too', async () => {
    const shuffled = [...ALIPAY_COLUMNS].reverse();
    const rows = await read(await zipOf([payment, refund], { columns: shuffled }));
    expect(rows.map((r) => [r.kind, r.amount, r.outRefundNo])).toEqual([
      ['payment', 8880, undefined],
      ['refund', 1001, refund.outRequestNo],
    ]);
    const ascii = ALIPAY_COLUMNS.map((c) => c.replace('（', '(').replace('）', ')'));
    expect((await read(await zipOf([payment], { columns: ascii })))[0].amount).toBe(8880);
  });

  it('a # inside a subject is text, and a comma-free GBK subject reads', async () => {
    const rows = await read(await zipOf([{ ...payment, subject: '马克杯 #2 蓝色' }]));
    expect(rows).toHaveLength(1);
  });

  it('many rows stream in order', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({
      ...payment,
      outTradeNo: `P${String(i).padStart(31, '0')}`,
      amountFen: i + 1,
    }));
    const rows = await read(await zipOf(many));
    expect(rows).toHaveLength(5000);
    expect(rows[4999]).toMatchObject({ outTradeNo: many[4999].outTradeNo, amount: 5000 });
  });

  it('an amount that is not yuan is corrupt, naming the row and the trade', async () => {
    const bad = await zipOf([payment, { ...payment, outTradeNo: 'PBAD', amountText: '88.888' }]);
    const { error } = await failure(bad);
    expect(error).toBeInstanceOf(BillError);
    expect(error).toMatchObject({ channel: 'alipay', reason: 'corrupt' });
    expect((error as Error).message).toMatch(
      /2024-01-01: row 2 of the detail list \(PBAD\): 订单金额 "88\.888"/,
    );
  });

  it('an unknown 业务类型 is corrupt, not passed over', async () => {
    const { error } = await failure(await zipOf([{ ...payment, type: '冻结' }]));
    expect((error as Error).message).toMatch(/业务类型 "冻结"/);
  });

  it('a truncated zip is corrupt before any row', async () => {
    const path = await zipOf([payment, refund]);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 30));
    const { error, yielded } = await failure(path);
    expect(yielded).toBe(0);
    expect(error).toMatchObject({ reason: 'corrupt' });
    expect((error as Error).message).toMatch(/not a readable zip/);
  });

  it('damaged compressed data is corrupt before any row (inflate or CRC-32)', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({
      ...payment,
      outTradeNo: `P${String(i).padStart(31, '0')}`,
    }));
    const path = await zipOf(many);
    const bytes = Buffer.from(readFileSync(path));
    // Well inside the detail entry's data, far from the headers.
    for (let i = 2000; i < 2010; i++) bytes[i] ^= 0xff;
    writeFileSync(path, bytes);
    const { error, yielded } = await failure(path);
    expect(yielded).toBe(0);
    expect(error).toMatchObject({ channel: 'alipay', reason: 'corrupt' });
  });

  it('a zip without a detail entry, and a file that is no zip, are corrupt', async () => {
    const notZip = join(dir, 'not.zip');
    writeFileSync(notZip, '<html>expired</html>');
    expect((await failure(notZip)).error).toMatchObject({ reason: 'corrupt' });
  });
});
