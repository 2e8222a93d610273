import {
  CHANNEL_NO_PATTERN,
  newChannelNo,
  newClientSecret,
  newId,
  randomAlphanumeric,
} from './ids';

describe('ids', () => {
  it('channel numbers are 32 alphanumerics starting with Beijing time', () => {
    const no = newChannelNo(new Date('2024-01-01T16:30:05Z'));
    expect(no).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(no).toMatch(CHANNEL_NO_PATTERN);
    expect(no.slice(0, 14)).toBe('20240102003005');
  });

  it('channel numbers do not collide in a large sample', () => {
    const seen = new Set<string>();
    const now = new Date();
    for (let i = 0; i < 50_000; i++) seen.add(newChannelNo(now));
    expect(seen.size).toBe(50_000);
  });

  it('ids carry their prefix', () => {
    expect(newId('ord')).toMatch(/^ord_[0-9A-Za-z]{24}$/);
    expect(newClientSecret()).toMatch(/^cs_[0-9A-Za-z]{40}$/);
  });

  it('random characters use the whole alphabet', () => {
    const chars = new Set(randomAlphanumeric(20_000));
    expect(chars.size).toBe(62);
  });
});
