import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBillDate, beijingToday, billTempDir, spoolRows } from './bill-files';
import { BillError, type BillRow } from './payment-provider';

const dir = mkdtempSync(join(tmpdir(), 'bill-files-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rows: BillRow[] = [
  {
    kind: 'payment',
    outTradeNo: 'P1',
    channelTradeNo: '4200000000202401010000000001',
    amount: 8880,
    fee: '0.53000',
    channelStatus: 'SUCCESS',
    at: new Date('2024-01-01T02:00:05Z'),
  },
  { kind: 'refund', outTradeNo: 'P1', outRefundNo: 'R1', amount: 1, channelStatus: '退款' },
];

async function* source(list: BillRow[], failAfter?: number): AsyncGenerator<BillRow> {
  for (const [i, row] of list.entries()) {
    if (i === failAfter) throw new BillError('wechat', 'corrupt', 'line 3: not yuan');
    yield row;
  }
}

describe('bill files', () => {
  it('spoolRows gives back every row exactly, optional fields absent stay absent', async () => {
    const spool = await spoolRows(source(rows), join(dir, 'a.jsonl'));
    expect(spool.count).toBe(2);
    const back: BillRow[] = [];
    for await (const row of spool.rows()) back.push(row);
    expect(back).toEqual(rows);
    expect('fee' in back[1]).toBe(false);
  });

  it('spoolRows: a reader failing at its last row fails before anything is yielded', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ ...rows[0], outTradeNo: `P${i}` }));
    await expect(spoolRows(source(many, 999), join(dir, 'b.jsonl'))).rejects.toMatchObject({
      reason: 'corrupt',
    });
  });

  it('days: YYYY-MM-DD real days only; today in Beijing', () => {
    expect(() => assertBillDate('2024-02-29')).not.toThrow();
    for (const bad of ['2023-02-29', '2024-1-01', '20240101', '2024-13-01', ''])
      expect(() => assertBillDate(bad)).toThrow(RangeError);
    expect(beijingToday(new Date('2024-01-01T16:00:00Z'))).toBe('2024-01-02');
    expect(beijingToday(new Date('2024-01-01T15:59:59Z'))).toBe('2024-01-01');
  });

  it('billTempDir is private and removed', async () => {
    const temp = await billTempDir();
    expect(existsSync(temp.dir)).toBe(true);
    await temp.remove();
    expect(existsSync(temp.dir)).toBe(false);
    await temp.remove();
  });
});
