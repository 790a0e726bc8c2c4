/**
 * R-POL-6: which texts carry a secrecy mark ("Mật", "Tối mật", "Tuyệt mật" as a stamp) and which
 * do not ("bảo mật", "mật khẩu", "bí mật" are ordinary words). Then the rule on parsed messages:
 * the subject, file names, an attached message's subject.
 */
import { describe, expect, it } from 'vitest';
import { classified, secrecyMark } from '../../../src/policy/rules/classified.js';
import { configFrom } from '../../../src/config/load.js';
import { attachedMessagePart, mimeMessage, policyMessage, zip } from './fixtures.js';

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
    // After reply, forward and urgency words.
    ['Re: MẬT: báo cáo', 'MẬT'],
    ['TL: Mật - x', 'Mật'],
    ['Chuyển tiếp: MẬT - x', 'MẬT'],
    ['KHẨN, MẬT: Báo cáo', 'MẬT'],
    ['Hỏa tốc - Mật - x', 'Mật'],
    ['MẬT, KHẨN: x', 'MẬT'],
    ['MẬT. Báo cáo', 'MẬT'],
    ['Gửi anh tài liệu tối mật', 'tối mật'],
    // Other dashes, invisible marks, fullwidth and other brackets.
    ['Tối–mật: kế hoạch', 'Tối–mật'],
    ['Tối\u2011mật: kế hoạch', 'Tối\u2010mật'],
    ['TỐI\u200bMẬT kế hoạch', 'TỐIMẬT'],
    ['\u200bMẬT: x', 'MẬT'],
    ['［MẬT］ Công văn', 'MẬT'],
    ['【MẬT】 Công văn', 'MẬT'],
    ['{MẬT} Công văn', 'MẬT'],
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
    // Mail about the degrees, not stamped with one.
    'Hướng dẫn đóng dấu độ mật (Mật, Tối mật, Tuyệt mật)',
    'Danh mục bí mật nhà nước độ Tối mật của Sở Nội vụ',
    'Thông báo khắc dấu "MẬT", "TỐI MẬT"',
    'V/v hướng dẫn phân loại độ Mật, Tối mật, Tuyệt mật',
    'Phim "Mật" phần 2',
    'mật ong rừng',
    'Re: mật khẩu mới',
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
    // "tôi mất" (I lost) is no stamp; a leading "Mật" in a file name is a word.
    expect(secrecyMark('Ban tuong trinh viec toi mat tai lieu.docx', { fileName: true })).toBeNull();
    expect(secrecyMark('Mật-ong.jpg', { fileName: true })).toBeNull();
    expect(secrecyMark('mat-ong.jpg', { fileName: true })).toBeNull();
    expect(secrecyMark('TUYỆT_MẬT_KH.docx', { fileName: true })).toBe('TUYỆT_MẬT');
    expect(secrecyMark('TOI_MAT.pdf\u200b', { fileName: true })).toBe('TOI_MAT');
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
      'classified; mark="MẬT"; in="chuyen-tiep.eml: Subject"',
      'classified; mark="Toi_mat"; in="Toi_mat.pdf"',
    ]);
    expect(v.reply?.code).toBe(550);
    expect(v.reply?.enhanced).toBe('5.7.1');
    expect(v.reply?.text).toBe(
      'Thư bị từ chối: tiêu đề mang dấu độ mật "Tuyệt mật"; tài liệu mật không được gửi qua thư điện tử. Nếu không mật, bỏ dấu rồi gửi lại (quy tắc classified) / Message refused: the subject bears the secrecy mark "Tuyệt mật"; classified documents may not go by e-mail. If not secret, remove the mark and resend (rule classified)',
    );
  });

  it('reads names inside archives; keeps the reply within one SMTP line and the findings to 20', async () => {
    const inZip = await rule.check(ctx, policyMessage(mimeMessage({ subject: 'Gửi anh', attachments: [{ name: 'ho-so.zip', data: zip([{ name: 'TUYỆT MẬT - Kế hoạch.docx', data: 'x', deflate: true }]) }] })));
    expect(inZip.kind === 'hit' && inZip.finding).toBe('classified; mark="TUYỆT MẬT"; in="ho-so.zip/TUYỆT MẬT - Kế hoạch.docx"');
    const longName = `Tối mật ${'báo cáo tổng hợp '.repeat(20)}.pdf`;
    const many = Array.from({ length: 30 }, (_, i) => ({ name: i === 0 ? longName : `Tối mật ${i}.pdf`, data: '%PDF' }));
    const v = await rule.check(ctx, policyMessage(mimeMessage({ subject: 'Gửi anh', attachments: many })));
    if (v.kind !== 'hit') throw new Error('expected a hit');
    expect(1 + (v.extraFindings?.length ?? 0)).toBe(21);
    expect(v.extraFindings?.at(-1)).toBe('classified; 10 more');
    // "550 5.7.1 " + text + CRLF within RFC 5321's 512 octets (§4.5.3.1.5).
    expect(Buffer.byteLength(`550 5.7.1 ${v.reply?.text ?? ''}\r\n`)).toBeLessThanOrEqual(512);
  });

  it('reads a stamp typed with a TCVN3 or VNI font as the font shows it (R-POL-8)', async () => {
    const word = (s: string) => '=?UTF-8?B?' + Buffer.from(s).toString('base64') + '?=';
    // "MËt: …" is what a .VnTime user's "Mật: …" arrives as; "Toái maät" is VNI for "Tối mật".
    const tcvn = await rule.check(ctx, policyMessage(mimeMessage({ subject: word('MËt: KÕ ho¹ch c«ng t¸c') })));
    expect(tcvn.kind === 'hit' && tcvn.finding).toBe('classified; mark="Mật"; in="Subject"');
    const vni = await rule.check(ctx, policyMessage(mimeMessage({ subject: 'Gui anh', attachments: [{ name: 'Toái maät - Keá hoaïch.docx', data: 'x' }] })));
    expect(vni.kind === 'hit' && vni.finding).toBe('classified; mark="Tối mật"; in="Toái maät - Keá hoaïch.docx"');
    // Latin-1 text that reads as no stamp either way passes.
    expect((await rule.check(ctx, policyMessage(mimeMessage({ subject: word('Réunion à Mâcon: ordre du jour') })))).kind).toBe('pass');
  });

  it('passes ordinary mail about security and passwords', async () => {
    const v = await rule.check(ctx, policyMessage(mimeMessage({ subject: 'CẢNH BÁO BẢO MẬT: đổi mật khẩu', attachments: [{ name: 'huong-dan-bao-mat.pdf', data: '%PDF-1.4' }] })));
    expect(v.kind).toBe('pass');
  });
});
