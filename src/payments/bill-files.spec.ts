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

/** `list` in batches of `size`; the batch holding row `failAt` throws instead. */
async function* source(list: BillRow[], size: number, failAt?: number): AsyncGenerator<BillRow[]> {
  for (let i = 0; i < list.length; i += size) {
    if (failAt !== undefined && failAt < i + size)
      throw new BillError('wechat', 'corrupt', 'line 3: not yuan');
    yield list.slice(i, i + size);
  }
}

describe('bill files', () => {
  it('loggedRows passes every batch through and logs the count of rows; a failure is logged and thrown', async () => {
    const logged: string[] = [];
    const logger = {
      log: (m: string) => logged.push(`log ${m}`),
      warn: (m: string) => logged.push(`warn ${m}`),
      error: (m: string) => logged.push(`error ${m}`),
    };
    const back: BillRow[][] = [];
    for await (const batch of loggedRows(source(rows, 1), 'WeChat bill of 2024-01-01', logger))
      back.push(batch);
    expect(back).toEqual([[rows[0]], [rows[1]]]);
    expect(logged).toEqual(['log WeChat bill of 2024-01-01: 2 rows']);
    logged.length = 0;
    const many = Array.from({ length: 1000 }, (_, i) => ({ ...rows[0], outTradeNo: `P${i}` }));
    let seen = 0;
    await expect(
      (async () => {
        for await (const batch of loggedRows(
          source(many, 250, 999),
          'WeChat bill of 2024-01-01',
          logger,
        ))
          seen += batch.length;
      })(),
    ).rejects.toMatchObject({ reason: 'corrupt' });
    expect(seen).toBe(750);
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
