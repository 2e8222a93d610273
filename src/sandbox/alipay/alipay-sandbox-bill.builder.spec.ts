import { TextDecoder } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { buildTradeBillFiles, DETAIL_COLUMNS } from './alipay-sandbox-bill.builder';
import { encodeGbk } from './gbk-encoder';
import { crc32, writeZip } from './zip-writer';

const gbk = new TextDecoder('gbk');

/** A reader written for the test: central directory → local header → inflate. */
function readZip(zip: Buffer): Array<{ name: Buffer; data: Buffer; flags: number }> {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const out: Array<{ name: Buffer; data: Buffer; flags: number }> = [];
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const flags = zip.readUInt16LE(at + 8);
    const crc = zip.readUInt32LE(at + 16);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength);
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = inflateRawSync(zip.subarray(dataAt, dataAt + size));
    expect(crc32(data)).toBe(crc);
    out.push({ name, data, flags });
    at += 46 + nameLength;
  }
  return out;
}

describe('alipay sandbox bill', () => {
  it('computes the standard CRC-32 check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('encodes GBK so that a GBK decoder reads the same text back', () => {
    const text = '支付宝交易号,商户订单号（元）abc 123';
    const bytes = encodeGbk(text);
    expect(bytes.subarray(0, 4)).toEqual(Buffer.from([0xd6, 0xa7, 0xb8, 0xb6]));
    expect(gbk.decode(bytes)).toBe(text);
    expect(encodeGbk('a😀b').toString('latin1')).toBe('a?b');
  });

  it('writes the detail file parsers expect and zips it with GBK names', () => {
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

    const time = { year: 2024, month: 1, day: 2, hour: 9, minute: 0, second: 0 };
    const zip = writeZip(
      files.map((f) => ({ name: encodeGbk(f.name), data: encodeGbk(f.text), time })),
    );
    const entries = readZip(zip);
    expect(entries.map((e) => gbk.decode(e.name))).toEqual(files.map((f) => f.name));
    expect(entries.every((e) => (e.flags & 0x800) === 0)).toBe(true);
    expect(gbk.decode(entries[0].data)).toBe(files[0].text);
  });
});
