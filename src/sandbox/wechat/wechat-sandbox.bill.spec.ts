import type { SandboxRefund, SandboxTrade } from './wechat-sandbox.types';
import { BILL_HEADERS, buildBill, isBillDate, yuan } from './wechat-sandbox.bill';

const trade = (over: Partial<SandboxTrade>): SandboxTrade => ({
  outTradeNo: 'T1',
  product: 'native',
  appId: 'wx0000000000000001',
  description: 'Tea',
  notifyUrl: 'http://localhost/notify',
  totalFen: 100,
  fingerprint: '',
  prepayId: 'wx1',
  status: 'SUCCESS',
  transactionId: '4200000000000000000000000001',
  payerOpenid: 'o1',
  createdAt: new Date('2024-01-01T15:00:00Z'),
  expiresAt: new Date('2024-01-01T17:00:00Z'),
  refunds: [],
  notifications: [],
  ...over,
});

const refund = (over: Partial<SandboxRefund>): SandboxRefund => ({
  outRefundNo: 'R1',
  refundId: '50000000000000000000000000001',
  amountFen: 30,
  status: 'SUCCESS',
  endsAs: 'SUCCESS',
  createdAt: new Date('2024-01-02T01:00:00Z'),
  settleAt: new Date('2024-01-02T01:00:10Z'),
  successAt: new Date('2024-01-02T01:00:10Z'),
  ...over,
});

const rows = (text: string) => text.split('\r\n').filter((l) => l.startsWith('`'));

describe('WeChat Pay v2 sandbox bill (downloadbill text)', () => {
  it('writes fen as yuan with two decimals, exactly', () => {
    expect([0, 1, 5, 10, 99, 100, 8880, 123456789, -1001].map(yuan)).toEqual([
      '0.00',
      '0.01',
      '0.05',
      '0.10',
      '0.99',
      '1.00',
      '88.80',
      '1234567.89',
      '-10.01',
    ]);
    expect(() => yuan(0.5)).toThrow(RangeError);
  });

  it('takes real yyyyMMdd days only', () => {
    expect(['20240229', '20240101'].map(isBillDate)).toEqual([true, true]);
    expect(
      ['20230229', '20240230', '20241301', '2024-01-01', '2024011', ''].map(isBillDate),
    ).toEqual(Array(6).fill(false));
  });

  it('bills by the Beijing day: paid 16:30Z is the next day; the refund by its accept day', () => {
    const t = trade({ paidAt: new Date('2024-01-01T16:30:00Z'), refunds: [refund({})] });
    expect(buildBill([t], '20240101', 'ALL', 'wx', '1900')).toBeNull();
    const text = buildBill([t], '20240102', 'ALL', 'wx', '1900')!;
    expect(text.split('\r\n')[0]).toBe(BILL_HEADERS.ALL);
    const [pay, ref] = rows(text);
    expect(pay.startsWith('`2024-01-02 00:30:00,`wx0000000000000001,`1900,`0,`,`42')).toBe(true);
    expect(ref.startsWith('`2024-01-02 09:00:00,')).toBe(true);
    expect(rows(text).at(-1)).toBe('`2,`1.00,`0.30,`0.00,`0.00000,`1.00,`0.30');
  });

  it('a REFUNDCLOSE refund shows what was asked and refunds nothing; values cannot break the layout', () => {
    const t = trade({
      paidAt: new Date('2024-01-02T02:00:00Z'),
      description: 'Tea, `green`\r\nlarge',
      refunds: [refund({ status: 'CLOSED', createdAt: new Date('2024-01-02T03:00:00Z') })],
    });
    const text = buildBill([t], '20240102', 'ALL', 'wx', '1900')!;
    const [pay, ref, summary] = rows(text);
    expect(pay).toContain(",`Tea, 'green' large,`");
    expect(ref).toContain(',`REFUND,`');
    expect(ref).toContain(',`0.00,`0.00,`ORIGINAL,`REFUNDCLOSE,`');
    expect(summary).toBe('`2,`1.00,`0.00,`0.00,`0.00000,`1.00,`0.30');
    expect(text.split('\r\n')).toHaveLength(6); // header, 2 rows, summary header, summary, ''
  });

  it('SUCCESS leaves refunds out, REFUND payments; unpaid trades are never billed', () => {
    const paid = trade({ paidAt: new Date('2024-01-02T02:00:00Z'), refunds: [refund({})] });
    const unpaid = trade({ outTradeNo: 'T2', status: 'NOTPAY', transactionId: undefined });
    expect(rows(buildBill([paid, unpaid], '20240102', 'SUCCESS', 'wx', '1900')!)).toHaveLength(2);
    const onlyRefund = buildBill([paid, unpaid], '20240102', 'REFUND', 'wx', '1900')!;
    expect(onlyRefund.split('\r\n')[0]).toBe(BILL_HEADERS.REFUND);
    const [ref] = rows(onlyRefund);
    // 交易时间 (the payment), 退款申请时间, 退款成功时间 after 代金券金额.
    expect(ref.startsWith('`2024-01-02 10:00:00,')).toBe(true);
    expect(ref).toContain(',`0.00,`0.00,`2024-01-02 09:00:00,`2024-01-02 09:00:10,`5000');
  });
});
