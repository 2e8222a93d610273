import { existsSync } from 'node:fs';
import { assertBillDate, beijingToday, billTempDir, loggedRows } from './bill-files';
import { BillError, type BillRow } from './payment-provider';

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
  it('loggedRows passes every row through and logs the count; a failure is logged and thrown', async () => {
    const logged: string[] = [];
    const logger = {
      log: (m: string) => logged.push(`log ${m}`),
      warn: (m: string) => logged.push(`warn ${m}`),
      error: (m: string) => logged.push(`error ${m}`),
    };
    const back: BillRow[] = [];
    for await (const row of loggedRows(source(rows), 'WeChat bill of 2024-01-01', logger))
      back.push(row);
    expect(back).toEqual(rows);
    expect(logged).toEqual(['log WeChat bill of 2024-01-01: 2 rows']);
    logged.length = 0;
    const many = Array.from({ length: 1000 }, (_, i) => ({ ...rows[0], outTradeNo: `P${i}` }));
    let seen = 0;
    await expect(
      (async () => {
        for await (const _ of loggedRows(source(many, 999), 'WeChat bill of 2024-01-01', logger))
          seen++;
      })(),
    ).rejects.toMatchObject({ reason: 'corrupt' });
    expect(seen).toBe(999);
    expect(logged).toEqual(['warn line 3: not yuan']);
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
