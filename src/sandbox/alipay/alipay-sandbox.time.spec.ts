import {
  beijingCompactDate,
  beijingDate,
  formatBeijing,
  formatBeijingMillis,
  parseBeijing,
} from './alipay-sandbox.time';

describe('alipay sandbox Beijing time', () => {
  const instant = new Date('2024-01-31T16:30:05.123Z'); // 2024-02-01 00:30:05 in Beijing

  it('writes UTC+8 whatever the server zone', () => {
    expect(formatBeijing(instant)).toBe('2024-02-01 00:30:05');
    expect(formatBeijingMillis(instant)).toBe('2024-02-01 00:30:05.123');
    expect(beijingDate(instant)).toBe('2024-02-01');
    expect(beijingCompactDate(instant)).toBe('20240201');
  });

  it('parses Beijing stamps back to the instant and refuses impossible dates', () => {
    expect(parseBeijing('2024-02-01 00:30:05')?.toISOString()).toBe('2024-01-31T16:30:05.000Z');
    expect(parseBeijing('2024-02-30 00:00:00')).toBeNull();
    expect(parseBeijing('2024-02-01T00:30:05')).toBeNull();
    expect(parseBeijing('2024-2-1 00:30:05')).toBeNull();
  });
});
