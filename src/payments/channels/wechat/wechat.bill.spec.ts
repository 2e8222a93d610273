import { Readable } from 'node:stream';
import {
  WECHAT_COLUMNS,
  wechatBillText,
  type WechatRow,
} from '../../../../test/support/bill-builder';
import { BillError, type BillRow } from '../../payment-provider';
import { readWechatBillText } from './wechat.bill';

const label = 'WeChat Pay bill of 2024-01-01';

async function read(text: string): Promise<BillRow[]> {
  const rows: BillRow[] = [];
  for await (const row of readWechatBillText(Readable.from([Buffer.from(text)]), { label }))
    rows.push(row);
  return rows;
}

async function failure(text: string): Promise<Error> {
  try {
    await read(text);
  } catch (error) {
    return error as Error;
  }
  throw new Error('the bill was read without an error');
}

const paidAt = new Date('2024-01-01T02:00:05Z');
const payment: WechatRow = {
  kind: 'payment',
  outTradeNo: 'P0000000000000000000000000000001',
  transactionId: '4200000000202401010000000001',
  amountFen: 8880,
  at: paidAt,
  fee: '0.53000',
};
const refund: WechatRow = {
  kind: 'refund',
  outTradeNo: 'P0000000000000000000000000000001',
  transactionId: '4200000000202401010000000001',
  outRefundNo: 'R0000000000000000000000000000001',
  refundId: '50000000002024010100000000001',
  amountFen: 1001,
  at: new Date('2024-01-01T03:00:00Z'),
};

describe('WeChat Pay bill text reader (protocols.md B6, C4)', () => {
  it('the current ALL layout with a BOM: every field, summary lines not rows', async () => {
    const rows = await read(await wechatBillText([payment, refund], { bom: true }));
    expect(rows).toEqual([
      {
        kind: 'payment',
        outTradeNo: payment.outTradeNo,
        channelTradeNo: payment.transactionId,
        amount: 8880,
        fee: '0.53000',
        channelStatus: 'SUCCESS',
        at: paidAt,
      },
      {
        kind: 'refund',
        outTradeNo: refund.outTradeNo,
        channelTradeNo: refund.transactionId,
        outRefundNo: refund.outRefundNo,
        channelRefundNo: refund.refundId,
        amount: 1001,
        fee: '0.00000',
        channelStatus: 'REFUND',
        at: new Date('2024-01-01T03:00:00Z'),
      },
    ]);
  });

  it('the layout before 2017 (总金额, 代金券或立减优惠金额 …), without a BOM', async () => {
    const rows = await read(await wechatBillText([payment, refund], { layout: 'old' }));
    expect(rows.map((r) => [r.kind, r.amount, r.outRefundNo, r.fee])).toEqual([
      ['payment', 8880, undefined, '0.53000'],
      ['refund', 1001, refund.outRefundNo, '0'],
    ]);
  });

  it('the old documentation sample as published (full-width colons in 交易时间)', async () => {
    const text = [
      WECHAT_COLUMNS.old.join(','),
      '`2014-11-10 16：33：45,`wx2421b1c4370ec43b,`10000100,`0,`1000,`1001690740201411100005734289,`1415640626,`085e9858e3ba5186aafcbaed1,`MICROPAY,`SUCCESS,`OTHERS,`CNY,`0.01,`0.0,`0,`0,`0,`0,`,`,`被扫支付测试,`订单额外描述,`0,`0.60%',
      '总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额',
      '`1,`0.01,`0.0,`0.0,`0',
    ].join('\n');
    expect(await read(text)).toEqual([
      {
        kind: 'payment',
        outTradeNo: '1415640626',
        channelTradeNo: '1001690740201411100005734289',
        amount: 1,
        fee: '0',
        channelStatus: 'SUCCESS',
        at: new Date('2014-11-10T08:33:45Z'),
      },
    ]);
  });

  it('finds columns by name: a shuffled header still reads', async () => {
    const shuffled = [...WECHAT_COLUMNS.current].reverse();
    const rows = await read(await wechatBillText([payment, refund], { columns: shuffled }));
    expect(rows.map((r) => [r.kind, r.amount, r.channelTradeNo])).toEqual([
      ['payment', 8880, payment.transactionId],
      ['refund', 1001, refund.transactionId],
    ]);
  });

  it('a subject with commas stays one field: the separator is ,`', async () => {
    const rows = await read(await wechatBillText([{ ...payment, subject: 'Tea, green, 2 kg' }]));
    expect(rows[0].amount).toBe(8880);
  });

  it('REVOKED and REFUNDCLOSE are passed over; a PROCESSING refund says so', async () => {
    const rows = await read(
      await wechatBillText([
        payment,
        { ...payment, kind: 'revoked', outTradeNo: 'PREVOKED' },
        { ...refund, refundState: 'REFUNDCLOSE', outRefundNo: 'RCLOSED' },
        { ...refund, refundState: 'PROCESSING', outRefundNo: 'RBUSY' },
      ]),
    );
    expect(rows.map((r) => [r.outRefundNo ?? r.outTradeNo, r.channelStatus])).toEqual([
      [payment.outTradeNo, 'SUCCESS'],
      ['RBUSY', 'REFUND/PROCESSING'],
    ]);
  });

  it('a day without records yields nothing', async () => {
    expect(await read(await wechatBillText([], { bom: true }))).toEqual([]);
  });

  it('an amount that is not yuan is corrupt, naming the line and the trade', async () => {
    const error = await failure(
      await wechatBillText([payment, { ...payment, outTradeNo: 'PBAD', amountText: '1,5' }]),
    );
    expect(error).toBeInstanceOf(BillError);
    expect(error).toMatchObject({ channel: 'wechat', reason: 'corrupt' });
    expect(error.message).toMatch(/2024-01-01: line 3 \(PBAD\): 订单金额 "1,5" is not yuan/);
  });

  it('a record with a missing field, an unknown 交易状态, text after the summary: corrupt', async () => {
    const good = await wechatBillText([payment]);
    const lines = good.split('\r\n');
    const short = [lines[0], lines[1].replace(/,`[^,]*$/, ''), ...lines.slice(2)].join('\r\n');
    expect((await failure(short)).message).toMatch(/line 2: 26 fields, the header names 27/);
    expect(
      (await failure(await wechatBillText([{ ...payment, state: 'NOTPAY' }]))).message,
    ).toMatch(/交易状态 "NOTPAY"/);
    expect((await failure(`${good}\`more\r\n`)).message).toMatch(/after the summary/);
  });

  it('a header without 商户订单号 is corrupt', async () => {
    const error = await failure(
      '交易时间,交易状态,订单金额\r\n`2024-01-01 10:00:00,`SUCCESS,`1.00\r\n',
    );
    expect(error.message).toMatch(/column header lacks 商户订单号/);
  });
});
