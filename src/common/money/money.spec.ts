import {
  MAX_AMOUNT_FEN,
  MoneyFormatError,
  YuanTotal,
  fenFromColumn,
  fenToYuan,
  yuanToFen,
} from './money';

describe('money', () => {
  it.each([
    ['88.8', 8880],
    ['88.80', 8880],
    ['0.01', 1],
    ['0.1', 10],
    ['0', 0],
    ['100', 10000],
    ['100000000', MAX_AMOUNT_FEN],
    ['1234567.89', 123456789],
  ])('yuanToFen(%p) = %p', (yuan, fen) => {
    expect(yuanToFen(yuan)).toBe(fen);
  });

  it.each([
    '0.001',
    '1e3',
    '-1',
    ' 1',
    '1 ',
    '1.',
    '.5',
    '01',
    '1,00',
    '',
    'NaN',
    '0x10',
    '1.234',
    '１',
  ])('yuanToFen(%p) is an error', (yuan) => {
    expect(() => yuanToFen(yuan)).toThrow(MoneyFormatError);
  });

  it('converts amounts that floating point gets wrong', () => {
    // 0.29 * 100 = 28.999999999999996 in IEEE 754; the string path must not care.
    expect(yuanToFen('0.29')).toBe(29);
    expect(yuanToFen('1.13')).toBe(113);
    expect(yuanToFen('9007199254740.99')).toBe(900719925474099);
  });

  it.each([
    [1, '0.01'],
    [10, '0.10'],
    [8880, '88.80'],
    [100, '1.00'],
    [0, '0.00'],
    [MAX_AMOUNT_FEN, '100000000.00'],
  ])('fenToYuan(%p) = %p', (fen, yuan) => {
    expect(fenToYuan(fen)).toBe(yuan);
  });

  it('round-trips every fen value in a range', () => {
    for (let fen = 0; fen < 5000; fen += 7) expect(yuanToFen(fenToYuan(fen))).toBe(fen);
  });

  it.each([1.5, -1, Number.NaN, Infinity, 2 ** 53])('fenToYuan(%p) refuses', (bad) => {
    expect(() => fenToYuan(bad)).toThrow(RangeError);
  });

  it('reads BIGINT columns from either driver', () => {
    expect(fenFromColumn('10000000000')).toBe(10_000_000_000);
    expect(fenFromColumn(42)).toBe(42);
    expect(fenFromColumn(null)).toBeNull();
    expect(() => fenFromColumn('9007199254740993')).toThrow(RangeError);
    expect(() => fenFromColumn('abc')).toThrow(RangeError);
  });
});

describe('YuanTotal', () => {
  it('sums fees exactly, with up to five decimals and negative amounts', () => {
    const t = new YuanTotal();
    for (const fee of ['0.01000', '0.00600', '1.2', '-0.30', '0.1']) expect(t.add(fee)).toBe(true);
    expect(t.toString()).toBe('1.016');
    expect(new YuanTotal().toString()).toBe('0.00');
  });

  it('refuses what is not a decimal amount', () => {
    const t = new YuanTotal();
    for (const bad of ['', 'abc', '1e3', '0.000001', '1.2.3']) expect(t.add(bad)).toBe(false);
    expect(t.toString()).toBe('0.00');
  });
});
