import { describe, expect, it } from 'vitest';
import { classifyAddress } from '../../../src/smtp/address.js';
import { ENVELOPE_DISGUISES } from '../../helpers/envelope-disguises.js';

const LOCAL = new Set(['example.gov.vn', 'local.vn']);

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

  // Every disguise parseEnvelopeAddress refuses (the shared table in test/helpers/).
  it.each(ENVELOPE_DISGUISES)('refuses %s', (_name, raw) => {
    expect(classifyAddress(raw, LOCAL).kind).toBe('invalid');
  });

  // Stricter than mail/ on the relay path: these parse as envelope addresses but are never routed.
  it.each([
    ['a quoted local part, even a plain one', '"lan"@example.gov.vn'],
    ['a quoted local part with a space', '"lan nguyen"@example.gov.vn'],
    ['a single-label domain', 'lan@localhost'],
    ['angle brackets (smtp-server strips the path)', '<lan@example.gov.vn>'],
    ['leading whitespace', ' lan@example.gov.vn'],
    ['trailing whitespace', 'lan@example.gov.vn '],
  ])('refuses %s', (_name, raw) => {
    expect(classifyAddress(raw, LOCAL).kind).toBe('invalid');
  });
});
