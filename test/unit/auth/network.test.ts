import { describe, expect, it } from 'vitest';
import { networkOf, throttleKeyOf } from '../../../src/auth/network.js';

describe('networkOf', () => {
  it('gives an IPv4 /24 and an IPv6 /48; IPv4-mapped addresses are IPv4', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('203.0.113.1')).toBe(networkOf('203.0.113.254'));
    expect(networkOf('203.0.114.1')).not.toBe(networkOf('203.0.113.1'));
    expect(networkOf('::ffff:10.1.2.3')).toBe('10.1.2.0/24');
    expect(networkOf('2001:db8:1234:5::1')).toBe('2001:db8:1234::/48');
    expect(networkOf('2001:DB8:1234:ffff:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1234::/48');
    expect(networkOf('::1')).toBe('0:0:0::/48');
    expect(networkOf('fe80::1%eth0')).toBe('fe80:0:0::/48');
  });

  it('keeps anything that is no address as it is (bounded)', () => {
    expect(networkOf('')).toBe('');
    expect(networkOf('not-an-ip')).toBe('not-an-ip');
    expect(networkOf('x'.repeat(100))).toHaveLength(64);
  });

  it('throttleKeyOf: an IPv4 address itself, an IPv6 /64', () => {
    expect(throttleKeyOf('203.0.113.77')).toBe('203.0.113.77');
    expect(throttleKeyOf('::ffff:203.0.113.77')).toBe('203.0.113.77');
    expect(throttleKeyOf('::ffff:cb00:714d')).toBe('203.0.113.77');
    expect(networkOf('::FFFF:cb00:714d')).toBe('203.0.113.0/24');
    expect(throttleKeyOf('2001:db8:0:7::1')).toBe('2001:db8:0:7::/64');
    expect(throttleKeyOf('2001:db8:0:7:ffff::9')).toBe(throttleKeyOf('2001:db8:0:7::1'));
    expect(throttleKeyOf('2001:db8:0:8::1')).not.toBe(throttleKeyOf('2001:db8:0:7::1'));
  });
});
