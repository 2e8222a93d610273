import { buildBlockList, callerIp } from './notify-allowlist.guard';
import type { Request } from 'express';

describe('notify allowlist', () => {
  it('matches single addresses and CIDR blocks of both families', () => {
    const list = buildBlockList([
      '127.0.0.1/32',
      '203.0.113.0/24',
      '2001:db8::/32',
      '198.51.100.7',
    ])!;
    expect(list.check('127.0.0.1', 'ipv4')).toBe(true);
    expect(list.check('127.0.0.2', 'ipv4')).toBe(false);
    expect(list.check('203.0.113.200', 'ipv4')).toBe(true);
    expect(list.check('198.51.100.7', 'ipv4')).toBe(true);
    expect(list.check('198.51.100.8', 'ipv4')).toBe(false);
    expect(list.check('2001:db8::1', 'ipv6')).toBe(true);
    expect(list.check('2001:db9::1', 'ipv6')).toBe(false);
  });

  it('an empty list means no restriction', () => {
    expect(buildBlockList([])).toBeUndefined();
  });

  it('reads IPv4-mapped IPv6 peers as IPv4', () => {
    expect(callerIp({ ip: '::ffff:127.0.0.2', socket: {} } as unknown as Request)).toBe(
      '127.0.0.2',
    );
    expect(callerIp({ ip: '2001:db8::1', socket: {} } as unknown as Request)).toBe('2001:db8::1');
  });
});
