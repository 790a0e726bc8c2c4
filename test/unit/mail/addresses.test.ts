import { describe, expect, it } from 'vitest';
import { displayAddresses, formatAddress, parseAddressList, parseAddressListStrict, parseEnvelopeAddress } from '../../../src/mail/addresses.js';
import { ENVELOPE_DISGUISES } from '../../helpers/envelope-disguises.js';
import type { EnvelopeAddress } from '../../../src/mail/types.js';

const A = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null): EnvelopeAddress => ({ name, adl, mailbox, host });
const GROUP_END = A(null, null, null);

describe('parseAddressList', () => {
  const table: Array<[string, string, EnvelopeAddress[]]> = [
    ['bare address', 'longnv@nghean.gov.vn', [A(null, 'longnv', 'nghean.gov.vn')]],
    ['angle with name', 'Nguyen Van Long <longnv@nghean.gov.vn>', [A('Nguyen Van Long', 'longnv', 'nghean.gov.vn')]],
    ['quoted name with comma', '"Trần, Văn B" <b@x.vn>, c@y.vn', [A('Trần, Văn B', 'b', 'x.vn'), A(null, 'c', 'y.vn')]],
    ['encoded name kept raw', '=?utf-8?B?Tmd1eeG7hW4=?= <n@x.vn>', [A('=?utf-8?B?Tmd1eeG7hW4=?=', 'n', 'x.vn')]],
    ['comment as name', 'a@b.vn (Phòng Tổ chức)', [A('Phòng Tổ chức', 'a', 'b.vn')]],
    ['quoted local part kept with quotes', '"john doe"@x.vn', [A(null, '"john doe"', 'x.vn')]],
    ['source route', '<@relay.vn:a@b.vn>', [A(null, 'a', 'b.vn', '@relay.vn')]],
    ['group', 'Lanh dao: a@x.vn, B <b@x.vn>;', [A(null, 'Lanh dao', null), A(null, 'a', 'x.vn'), A('B', 'b', 'x.vn'), GROUP_END]],
    ['empty group', 'undisclosed-recipients:;', [A(null, 'undisclosed-recipients', null), GROUP_END]],
    ['group then address', 'G: a@x;, c@y', [A(null, 'G', null), A(null, 'a', 'x'), GROUP_END, A(null, 'c', 'y')]],
    ['unterminated group', 'G: a@x', [A(null, 'G', null), A(null, 'a', 'x'), GROUP_END]],
    ['missing domain', 'alice', [A(null, 'alice', 'MISSING_DOMAIN')]],
    ['empty entries skipped', ' , a@b , ,', [A(null, 'a', 'b')]],
    ['unclosed angle', 'X <a@b', [A('X', 'a', 'b')]],
    ['empty', '', []],
    ['UTF-8 address (RFC 6532)', 'Hà <hà@bưu.vn>', [A('Hà', 'hà', 'bưu.vn')]],
  ];
  it.each(table)('%s', (_n, input, want) => {
    expect(parseAddressList(input).addresses).toEqual(want);
  });

  it('caps the number of addresses (CVE-2024-23184)', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `u${i}@x.vn`).join(', ');
    const r = parseAddressList(many, 100);
    expect(r.addresses.length).toBe(100);
    expect(r.truncated).toBe(true);
  });

  it('keeps group markers paired when the cap falls inside a group', () => {
    const r = parseAddressList('G: a@x, b@x, c@x, d@x;', 3);
    expect(r.truncated).toBe(true);
    expect(r.addresses).toEqual([A(null, 'G', null), A(null, 'a', 'x'), A(null, 'b', 'x'), GROUP_END]);
  });

  it('marks the list truncated when the one address past the cap is the last', () => {
    const r = parseAddressList('a@x, b@x, c@x', 2);
    expect(r.addresses.map((a) => a.mailbox)).toEqual(['a', 'b']);
    expect(r.truncated).toBe(true);
    expect(parseAddressList('a@x, b@x,', 2).truncated).toBe(false);
  });

  it('strict: reports tokens after ">", elements read as nothing, and every comment (RFC 5322 §3.4)', () => {
    const clean = parseAddressListStrict('"Long" <l@x>, m@x (Mai),');
    expect(clean.anomalies).toEqual({ afterAngle: false, emptyElement: false, comments: ['Mai'] });
    expect(clean.addresses).toEqual(parseAddressList('"Long" <l@x>, m@x (Mai),').addresses);
    expect(parseAddressListStrict('<l@x> h@x').anomalies.afterAngle).toBe(true);
    expect(parseAddressListStrict('<l@x> (note)').anomalies).toEqual({ afterAngle: false, emptyElement: false, comments: ['note'] });
    expect(parseAddressListStrict('l@x, (h@x)').anomalies.emptyElement).toBe(true);
    expect(parseAddressListStrict('l@x, <>').anomalies.emptyElement).toBe(true);
    expect(parseAddressListStrict('A (h@x) <l@x (i@x)>').anomalies.comments).toEqual(['h@x', 'i@x']);
  });

  it('reads at most max × 512 characters of a huge header', () => {
    const r = parseAddressList(`a@b${':c'.repeat(300_000)}`, 10);
    expect(r.truncated).toBe(true);
    expect(r.addresses.length).toBeLessThanOrEqual(10);
  });

  it('formats decoded display strings', () => {
    const list = parseAddressList('=?utf-8?B?Tmd1eeG7hW4gVsSDbiBMb25n?= <longnv@x.vn>, G: a@b;').addresses;
    expect(formatAddress(list[0]!)).toBe('Nguyễn Văn Long <longnv@x.vn>');
    expect(displayAddresses(list)).toEqual(['Nguyễn Văn Long <longnv@x.vn>', 'a@b']);
    expect(displayAddresses(null)).toEqual([]);
  });
});

describe('parseEnvelopeAddress (relay decisions)', () => {
  const accept: Array<[string, { local: string; domain: string }]> = [
    ['longnv@nghean.gov.vn', { local: 'longnv', domain: 'nghean.gov.vn' }],
    ['<longnv@nghean.gov.vn>', { local: 'longnv', domain: 'nghean.gov.vn' }],
    ['Long.NV@NgheAn.GOV.vn', { local: 'Long.NV', domain: 'nghean.gov.vn' }],
    ['a+tag@x.vn', { local: 'a+tag', domain: 'x.vn' }],
    ['"plain"@x.vn', { local: 'plain', domain: 'x.vn' }],
    ['"john doe"@x.vn', { local: '"john doe"', domain: 'x.vn' }],
    ['user@Bücher.example', { local: 'user', domain: 'xn--bcher-kva.example' }],
    ['hà@x.vn', { local: 'hà', domain: 'x.vn' }],
    ['a@localhost', { local: 'a', domain: 'localhost' }],
    ['lan@Example.GOV.vn', { local: 'lan', domain: 'example.gov.vn' }],
    ['người@ví-dụ.vn', { local: 'người', domain: 'xn--v-d-rma6749a.vn' }],
  ];
  it.each(accept)('accepts %s', (input, want) => {
    expect(parseEnvelopeAddress(input)).toEqual(want);
  });

  it('turns a Vietnamese IDN domain into punycode (NFC and NFD alike)', () => {
    const nfc = parseEnvelopeAddress('user@bưuđiện.vn');
    expect(nfc?.domain).toMatch(/^xn--[a-z0-9-]+\.vn$/);
    expect(parseEnvelopeAddress('user@bưuđiện.vn'.normalize('NFD'))).toEqual(nfc);
  });

  it.each(ENVELOPE_DISGUISES)('rejects %s', (_n, input) => {
    expect(parseEnvelopeAddress(input)).toBeNull();
  });
});
