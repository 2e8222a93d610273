import { beijingStamp, formatRfc3339Beijing, parseRfc3339 } from './wechat-sandbox.time';

describe('WeChat Pay v3 sandbox times (RFC 3339, Beijing)', () => {
  it('writes Beijing time with +08:00 whatever the zone, and reads any offset back', () => {
    const at = new Date('2024-01-01T16:30:05Z');
    expect(formatRfc3339Beijing(at)).toBe('2024-01-02T00:30:05+08:00');
    expect(beijingStamp(at)).toBe('20240102003005');
    expect(parseRfc3339('2024-01-02T00:30:05+08:00')).toEqual(at);
    expect(parseRfc3339('2024-01-01T11:30:05-05:00')).toEqual(at);
  });

  it.each([
    '2024-01-01T16:30:05Z',
    '2024-01-01T16:30:05.000+08:00',
    '2024-01-01 16:30:05+08:00',
    '2024-02-30T00:00:00+08:00',
    '2024-01-01T24:00:00+08:00',
    '2024-01-01T00:00:00+25:00',
  ])('refuses %j', (text) => {
    expect(parseRfc3339(text)).toBeNull();
  });
});
