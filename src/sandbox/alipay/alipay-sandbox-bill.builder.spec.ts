import iconv from 'iconv-lite';
import { TextDecoder } from 'node:util';
import * as yauzl from 'yauzl';
import { buildTradeBillFiles, DETAIL_COLUMNS } from './alipay-sandbox-bill.builder';
import { gbkNamedZip, zipBytes } from './alipay-sandbox.zip';

const gbk = new TextDecoder('gbk');

/** Each entry's raw name, general purpose flags and inflated bytes, read with yauzl. */
async function readZip(zip: Buffer): Promise<Array<{ name: Buffer; data: Buffer; flags: number }>> {
  const file = await yauzl.fromBufferPromise(zip, { lazyEntries: true, decodeStrings: false });
  const out: Array<{ name: Buffer; data: Buffer; flags: number }> = [];
  for await (const entry of file.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const c of await file.openReadStreamPromise(entry)) chunks.push(c as Buffer);
    out.push({
      name: entry.fileNameRaw,
      data: Buffer.concat(chunks),
      flags: entry.generalPurposeBitFlag,
    });
  }
  return out;
}

describe('alipay sandbox bill', () => {
  it('writes the detail file parsers expect and zips it with GBK names', async () => {
    const paidAt = new Date('2024-01-01T02:00:05Z');
    const files = buildTradeBillFiles({
      sellerId: '2088000000000001',
      period: '20240101',
      from: new Date('2023-12-31T16:00:00Z'),
      to: new Date('2024-01-01T16:00:00Z'),
      exportedAt: new Date('2024-01-02T01:00:00Z'),
      lines: [
        {
          kind: 'payment',
          tradeNo: '2024010122001000000000000001',
          outTradeNo: 'T1',
          subject: 'Tea, green',
          createdAt: paidAt,
          finishedAt: paidAt,
          buyerLogonId: '138****0000',
          amountFen: 8880,
        },
        {
          kind: 'refund',
          tradeNo: '2024010122001000000000000001',
          outTradeNo: 'T1',
          subject: 'Tea, green',
          createdAt: paidAt,
          finishedAt: paidAt,
          buyerLogonId: '138****0000',
          amountFen: 80,
          outRequestNo: 'R1',
        },
      ],
    });
    expect(files.map((f) => f.name)).toEqual([
      '20880000000000010156_20240101_业务明细.csv',
      '20880000000000010156_20240101_业务明细(汇总).csv',
    ]);
    const lines = files[0].text.split('\r\n');
    expect(lines[0]).toBe('#支付宝业务明细查询');
    expect(lines[1]).toBe('#账号：[20880000000000010156]');
    expect(lines[2]).toBe(
      '#起始日期：[2024年01月01日 00:00:00]   终止日期：[2024年01月02日 00:00:00]',
    );
    expect(lines[3]).toContain('业务明细列表');
    expect(lines[4].split(',')).toEqual([...DETAIL_COLUMNS]);
    const payment = lines[5].split(',');
    const refund = lines[6].split(',');
    expect(payment).toHaveLength(DETAIL_COLUMNS.length);
    expect(payment.slice(0, 6)).toEqual([
      '2024010122001000000000000001\t',
      'T1\t',
      '交易',
      'Tea  green',
      '2024-01-01 10:00:05',
      '2024-01-01 10:00:05',
    ]);
    expect(payment[11]).toBe('88.80');
    expect(refund[2]).toBe('退款');
    expect(refund[11]).toBe('-0.80');
    expect(refund[12]).toBe('-0.80');
    expect(refund[21]).toBe('R1\t');
    expect(lines[7]).toContain('业务明细列表结束');
    expect(lines[8]).toBe('#交易合计：1笔，商家实收共88.80元，商家优惠共0.00元');

    const writer = gbkNamedZip();
    for (const f of files) writer.addBuffer(iconv.encode(f.text, 'gbk'), f.name);
    writer.end();
    const entries = await readZip(await zipBytes(writer));
    // GBK names (two bytes a character), the UTF-8 flag clear, as Alipay writes them.
    expect(entries[0].name).toEqual(iconv.encode(files[0].name, 'gbk'));
    expect(entries.map((e) => gbk.decode(e.name))).toEqual(files.map((f) => f.name));
    expect(entries.every((e) => (e.flags & 0x800) === 0)).toBe(true);
    expect(gbk.decode(entries[0].data)).toBe(files[0].text);
  });
});
