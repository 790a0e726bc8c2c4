import { describe, expect, it } from 'vitest';
import { numbered, personalLocalPart, splitPersonalName, unitAddress, unitCode, normalizeUnitCode, foldName } from '../../../src/accounts/naming.js';
import { isMailError } from '../../../src/lib/errors.js';

const NA = '{given}{initials}';
const NB = '{given}{initials}.{unit}';

// [full name as typed, expected NA local part]
const PERSONAL: Array<[string, string]> = [
  ['Nguyễn Văn Long', 'longnv'],
  ['Nguyễn Thị Minh Khai', 'khaintm'],
  ['Trần Hưng Đạo', 'daoth'],
  ['Lê Thị Hồng Gấm', 'gamlth'],
  ['Phạm Văn Đồng', 'dongpv'],
  ['Võ Nguyên Giáp', 'giapvn'],
  ['Hoàng Thị Thu Hương', 'huonghtt'],
  ['Đặng Thùy Trâm', 'tramdt'],
  ['Đỗ Mười', 'muoid'],
  ['Đinh Bộ Lĩnh', 'linhdb'],
  ['Ưng Hoàng Phúc', 'phucuh'],
  ['Âu Cơ', 'coa'],
  ['Ông Ích Khiêm', 'khiemoi'],
  ['Ông Văn Đàn', 'danov'],
  ['Ê Văn Ba', 'baev'],
  ['Ôn Như Hầu', 'hauon'],
  ['Ứng Văn Thành', 'thanhuv'],
  ['Bùi Thị Xuân', 'xuanbt'],
  ['Huỳnh Tấn Phát', 'phatht'],
  ['Dương Văn Minh', 'minhdv'],
  ['Lý Thường Kiệt', 'kietlt'],
  ['Ngô Quyền', 'quyenn'],
  ['Tôn Nữ Thị Ninh', 'ninhtnt'],
  ['Nguyễn Phúc Vĩnh Thụy', 'thuynpv'],
  ['Vũ Trọng Phụng', 'phungvt'],
  ['Hồ Xuân Hương', 'huonghx'],
  ['Trịnh Công Sơn', 'sontc'],
  ['Lương Thế Vinh', 'vinhlt'],
  ['Quách Thị Quỳnh', 'quynhqt'],
  ['Giáp Văn Được', 'duocgv'],
  ['Chu Văn An', 'ancv'],
  // upper case, extra spaces, tabs and no-break spaces
  ['NGUYỄN VĂN LONG', 'longnv'],
  ['  nguyễn   văn    long  ', 'longnv'],
  ['Nguyễn\tVăn\u00a0Long', 'longnv'],
  ['ĐẶNG VĂN ĐỨC', 'ducdv'],
  // NFD (decomposed) input, as some Mac and web forms send it
  ['Nguyễn Văn Long'.normalize('NFD'), 'longnv'],
  ['Đặng Thùy Trâm'.normalize('NFD'), 'tramdt'],
  ['Ưng Hoàng Phúc'.normalize('NFD'), 'phucuh'],
  // one-word names
  ['Long', 'long'],
  ['Đức', 'duc'],
  // hyphens and apostrophes (ethnic-minority and compound names)
  ['Nguyễn Thị Thu-Hà', 'thuhant'],
  ['H\'Hen Niê', 'nieh'],
  ['Y-Moan Ênuôl', 'enuoly'],
  ['Nguyễn - Văn Long', 'longnv'],
  ['Ksor H\'Bia', 'hbiak'],
];

describe('R-ADDR-3 personal local parts', () => {
  it('has a realistic table of at least 40 names', () => {
    expect(PERSONAL.length).toBeGreaterThanOrEqual(40);
  });
  it.each(PERSONAL)('%j → %s (NA template)', (name, expected) => {
    expect(personalLocalPart(name, NA)).toBe(expected);
  });
  it.each(PERSONAL)('%j → %s.stttt (NB template)', (name, expected) => {
    expect(personalLocalPart(name, NB, 'stttt')).toBe(`${expected}.stttt`);
  });
  it('takes the given name as the LAST word and initials of all the others', () => {
    expect(splitPersonalName('Nguyễn Thị Minh Khai')).toEqual({ given: 'khai', initials: 'ntm' });
  });
  it('puts a sub-unit address after the dot', () => {
    expect(personalLocalPart('Nguyễn Văn Long', NB, 'tc.ah')).toBe('longnv.tc.ah');
  });
  it.each(['', '   ', '---', '!!!', '123 ?', '\u00a0'])('refuses %j: it yields no address', (name) => {
    let caught: unknown;
    try {
      personalLocalPart(name, NA);
    } catch (e) {
      caught = e;
    }
    expect(isMailError(caught, 'INVALID_INPUT')).toBe(true);
    expect((caught as Error).message).toMatch(/ \/ /); // bilingual
  });
  it('refuses a {unit} template without a unit', () => {
    expect(() => personalLocalPart('Nguyễn Văn Long', NB)).toThrow(/unit/);
  });
});

describe('R-ADDR-4 namesakes', () => {
  it('keeps the first, numbers the second 2 (position in registration order)', () => {
    expect(numbered('longnv', 1, NA)).toBe('longnv');
    expect(numbered('longnv', 2, NA)).toBe('longnv2');
    expect(numbered('longnv', 3, NA)).toBe('longnv3');
  });
  it('puts the number right after the name part (NB: longnv2.stttt)', () => {
    expect(numbered('longnv.stttt', 2, NB)).toBe('longnv2.stttt');
    expect(numbered('longnv.tc.ah', 12, NB)).toBe('longnv12.tc.ah');
  });
  it('works with a unit-first template', () => {
    expect(numbered('stttt.longnv', 2, '{unit}.{given}{initials}')).toBe('stttt.longnv2');
  });
  it('refuses n < 1 and a base that does not fit the template', () => {
    expect(() => numbered('longnv', 0, NA)).toThrow();
    expect(() => numbered('longnv', 2, NB)).toThrow();
  });
});

describe('R-ADDR-1 unit codes', () => {
  it.each([
    ['Sở Kế hoạch và Đầu tư', 'skhdt'],
    ['Ủy ban nhân dân', 'ubnd'],
    ['Uỷ ban nhân dân', 'ubnd'],
    ['Sở Thông tin và Truyền thông', 'stttt'],
    ['Sở Lao động - Thương binh và Xã hội', 'sldtbxh'],
    ['Sở Lao động–Thương binh và Xã hội', 'sldtbxh'],
    ['SỞ KẾ HOẠCH VÀ ĐẦU TƯ', 'skhdt'],
    ['  Sở   Tài   chính ', 'stc'],
    ['Sở Kế hoạch và Đầu tư'.normalize('NFD'), 'skhdt'],
    ['Phòng Tài chính', 'ptc'],
    ['Trung tâm CNTT', 'ttcntt'],
    ['Văn phòng UBND tỉnh', 'vpubndt'],
    ['Phòng 2', 'p2'],
    ['Ban Dân tộc', 'bdt'],
    ['Đài Phát thanh và Truyền hình', 'dptth'],
  ])('%j → %s', (name, code) => {
    expect(unitCode(name)).toBe(code);
  });
  it('refuses a name with no letters', () => {
    expect(() => unitCode(' - và - ')).toThrow(/no code/);
  });
});

describe('R-ADDR-2 sub-unit addresses', () => {
  it('joins the parent address when configured', () => {
    expect(unitAddress('tc', 'ah', true)).toBe('tc.ah');
    expect(unitAddress('vhxh', 'bk', true)).toBe('vhxh.bk');
    expect(unitAddress('ptc', 'tc.ah', true)).toBe('ptc.tc.ah');
  });
  it('uses the code alone otherwise, and for top-level units', () => {
    expect(unitAddress('tc', 'ah', false)).toBe('tc');
    expect(unitAddress('ubnd', null, true)).toBe('ubnd');
  });
  it('normalizes hand-written codes', () => {
    expect(normalizeUnitCode('TPB')).toBe('tpb');
    expect(normalizeUnitCode('Đông Sơn'.replace(' ', ''))).toBe('dongson');
    expect(() => normalizeUnitCode('a.b')).toThrow();
    expect(foldName('  SỞ  Tài chính ')).toBe('so tai chinh');
  });
});
