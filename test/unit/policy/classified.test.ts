/**
 * R-POL-6: which texts carry a secrecy mark ("Mật", "Tối mật", "Tuyệt mật" as a stamp) and which
 * do not ("bảo mật", "mật khẩu", "bí mật" are ordinary words). Then the rule on parsed messages:
 * the subject, file names, an attached message's subject.
 */
import { describe, expect, it } from 'vitest';
import { classified, secrecyMark } from '../../../src/policy/rules/classified.js';
import { configFrom } from '../../../src/config/load.js';
import { attachedMessagePart, mimeMessage, policyMessage } from './fixtures.js';

describe('secrecyMark', () => {
  it.each([
    ['TỐI MẬT - Báo cáo tình hình an ninh quý 3', 'TỐI MẬT'],
    ['Tuyệt mật: kế hoạch', 'Tuyệt mật'],
    ['Fwd: tài liệu tối mật', 'tối mật'],
    ['[MẬT] Công văn số 123/UBND', 'MẬT'],
    ['Công văn số 123 (Mật)', 'Mật'],
    ['MẬT: Báo cáo nhân sự', 'MẬT'],
    ['Mật – kế hoạch kiểm tra', 'Mật'],
    ['Độ mật: Mật. Số 12/BC', 'Mật'],
    ['ĐỘ MẬT: TỐI MẬT', 'TỐI MẬT'],
    // Decomposed (NFD) Vietnamese, as macOS writes file names.
    ['TỐI MẬT bao cao'.normalize('NFD'), 'TỐI MẬT'],
  ])('%s → %s', (text, mark) => {
    expect(secrecyMark(text)).toBe(mark);
  });

  it.each([
    'Cảnh báo bảo mật: đổi mật khẩu trước 30/11',
    'HƯỚNG DẪN ĐỔI MẬT KHẨU',
    'CẢNH BÁO BẢO MẬT',
    'Tập huấn bảo vệ bí mật nhà nước',
    'Mật độ dân số năm 2026',
    'Quan hệ mật thiết',
    'Sổ tay mật mã',
    'Mật khẩu: đã đổi',
    'Tối mai họp',
    'Tuyệt vời, mật ong rừng',
    'mật',
  ])('no mark: %s', (text) => {
    expect(secrecyMark(text)).toBeNull();
  });

  it('reads file names written without diacritics, but only those', () => {
    expect(secrecyMark('Tuyet_mat_KH2026.docx', { fileName: true })).toBe('Tuyet_mat');
    expect(secrecyMark('TOI-MAT.pdf', { fileName: true })).toBe('TOI-MAT');
    expect(secrecyMark('[MAT] bao cao.pdf', { fileName: true })).toBe('MAT');
    expect(secrecyMark('Tối_mật.pdf', { fileName: true })).toBe('Tối_mật');
    // Not in a subject (an English or unaccented subject has other words), nor in a name with Vietnamese letters.
    expect(secrecyMark('toi mat', {})).toBeNull();
    expect(secrecyMark('Báo cáo toi mat.pdf', { fileName: true })).toBeNull();
    expect(secrecyMark('format.pdf', { fileName: true })).toBeNull();
    expect(secrecyMark('photoimat-2026.pdf', { fileName: true })).toBeNull();
  });
});

describe('the classified rule', () => {
  const rule = classified({ config: configFrom({ domains: ['example.gov.vn'] }) } as never);
  const ctx = { direction: 'submission' as const, clientIp: '127.0.0.1', account: 'a@example.gov.vn', sender: 'a@example.gov.vn', recipients: ['b@example.gov.vn'] };

  it('finds the mark in the subject, in a file name and in an attached message’s subject, and names each', async () => {
    const inner = mimeMessage({ subject: '=?UTF-8?B?' + Buffer.from('[MẬT] Kế hoạch').toString('base64') + '?=' });
    const v = await rule.check(ctx, policyMessage(mimeMessage({ subject: 'Tuyệt mật: báo cáo', attachments: [{ name: 'Toi_mat.pdf', data: '%PDF-1.4' }], rawParts: [attachedMessagePart(inner, 'chuyen-tiep.eml')] })));
    expect(v.kind).toBe('hit');
    if (v.kind !== 'hit') return;
    expect([v.finding, ...(v.extraFindings ?? [])]).toEqual([
      'classified; mark="Tuyệt mật"; in="Subject"',
      'classified; mark="Toi_mat"; in="Toi_mat.pdf"',
      'classified; mark="MẬT"; in="chuyen-tiep.eml: Subject"',
    ]);
    expect(v.reply?.code).toBe(550);
    expect(v.reply?.enhanced).toBe('5.7.1');
    expect(v.reply?.text).toMatch(/^Thư bị từ chối: tiêu đề thư mang dấu độ mật "Tuyệt mật"; tài liệu bí mật nhà nước không được gửi, nhận qua thư điện tử\. .* \/ Message refused: the subject carries the secrecy mark "Tuyệt mật"; state secrets may not be sent or received by e-mail\. /);
  });

  it('passes ordinary mail about security and passwords', async () => {
    const v = await rule.check(ctx, policyMessage(mimeMessage({ subject: 'CẢNH BÁO BẢO MẬT: đổi mật khẩu', attachments: [{ name: 'huong-dan-bao-mat.pdf', data: '%PDF-1.4' }] })));
    expect(v.kind).toBe('pass');
  });
});
