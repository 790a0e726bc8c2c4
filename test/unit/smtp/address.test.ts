import { describe, expect, it } from 'vitest';
import { classifyAddress, normaliseDomain } from '../../../src/smtp/address.js';

const LOCAL = new Set(['example.gov.vn']);

describe('classifyAddress (relay decisions)', () => {
  it.each([
    ['lan@example.gov.vn', 'local', 'lan@example.gov.vn'],
    ['Lan.Nguyen@EXAMPLE.gov.vn', 'local', 'lan.nguyen@example.gov.vn'],
    ['tc.ah@example.gov.vn', 'local', 'tc.ah@example.gov.vn'],
    ['a+tag@other.example.com', 'remote', 'a+tag@other.example.com'],
    ['người@ví-dụ.vn', 'remote', 'người@xn--v-d-rma6749a.vn'],
  ])('%s → %s', (raw, kind, address) => {
    const c = classifyAddress(raw, LOCAL);
    expect(c.kind).toBe(kind);
    if (c.kind !== 'invalid') expect(c.address).toBe(address);
  });

  it.each([
    'user%other.example.com@example.gov.vn',
    'other.example.com!user@example.gov.vn',
    '"user@other.example.com"@example.gov.vn',
    '"lan"@example.gov.vn',
    'user@other.example.com@example.gov.vn',
    '@example.gov.vn:user@other.example.com',
    'lan@example.gov.vn.',
    'lan@[127.0.0.1]',
    'lan@[IPv6:::1]',
    'lan@example\uFF0Egov\uFF0Evn',
    'lan@example\u3002gov.vn',
    'lan@example\uFF61gov.vn',
    'lan@localhost',
    '.lan@example.gov.vn',
    'lan..x@example.gov.vn',
    'lan@example..gov.vn',
    'lan@-example.gov.vn',
    'lan @example.gov.vn',
    'lan\r\n@example.gov.vn',
    '',
    'lan',
  ])('refuses %j', (raw) => {
    expect(classifyAddress(raw, LOCAL).kind).toBe('invalid');
  });

  it('normaliseDomain keeps the label structure', () => {
    expect(normaliseDomain('Example.GOV.vn')).toBe('example.gov.vn');
    expect(normaliseDomain('example.gov.vn.')).toBeNull();
    expect(normaliseDomain('ví-dụ.vn')).toBe('xn--v-d-rma6749a.vn');
  });
});
