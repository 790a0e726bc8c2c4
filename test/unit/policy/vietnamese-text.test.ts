import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { findingKind } from '../../../src/accounts/operations-report.js';
import { isVietnameseSyllable, legacyCharset, legacyFont } from '../../../src/policy/vietnamese-text.js';

/** Unicode text as a TCVN3 (.VnTime) user's mail program sends it: the TCVN3 bytes read as Latin-1. */
const asTcvn3 = (s: string): string => iconv.encode(s, 'tcvn').toString('latin1');

describe('isVietnameseSyllable', () => {
  it('spells Vietnamese syllables, composed or not, in any case; not foreign words', () => {
    for (const w of ['nghĩa', 'Việt', 'KHUYẾT', 'người', 'giữa', 'quốc', 'hoạch', 'ngoằn', 'Nguye\u0302\u0303n', 'a', 'ơi']) expect(isVietnameseSyllable(w), w).toBe(true);
    for (const w of ['hôtel', 'près', 'Grüße', 'más', 'Việtt', 'áà', 'strong', 'bảo\u0301']) expect(isVietnameseSyllable(w), w).toBe(false);
  });
});

describe('legacyCharset', () => {
  it('names the Vietnamese character sets that are not Unicode, by any alias', () => {
    expect(legacyCharset('Windows-1258')).toBe('windows-1258');
    expect(legacyCharset('"cp1258"')).toBe('windows-1258');
    expect(legacyCharset('VISCII')).toBe('VISCII');
    expect(legacyCharset('x-viet-tcvn')).toBe('TCVN 5712');
    expect(legacyCharset('utf-8')).toBeNull();
    expect(legacyCharset('iso-8859-1')).toBeNull();
  });
});

describe('legacyFont', () => {
  it('recognises TCVN3 (.VnTime) text shown as Latin-1, with an example read back', () => {
    const text = asTcvn3('Báo cáo tình hình thực hiện nhiệm vụ quý IV năm 2026 của Sở Nội vụ');
    expect(text).toContain('B¸o c¸o');
    const r = legacyFont(text);
    expect(r?.encoding).toBe('TCVN3');
    expect(r && asTcvn3(r.example.meant)).toBe(r?.example.written);
  });

  it('recognises VNI Windows text shown as Latin-1', () => {
    expect(legacyFont('Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam. Ñoäc laäp - Töï do - Haïnh phuùc')).toEqual({ encoding: 'VNI', example: { written: 'Coäng', meant: 'Cộng' } });
  });

  it('leaves Unicode Vietnamese and European languages alone', () => {
    for (const text of [
      'Cộng hòa xã hội chủ nghĩa Việt Nam — Độc lập, Tự do, Hạnh phúc. Kính gửi các đồng chí.',
      'Nguye\u0302\u0303n Va\u0306n A (tổ hợp) gửi báo cáo tháng 11',
      "Réunion à l'hôtel élégant près de la forêt, déjà très agréable, où était-il ?",
      'Grüße aus München, schön dass Sie da waren. Für Ihre Mühe danke ich.',
      'Mañana está aquí, el niño comió más pan y habló con José sobre la canción.',
      'Não há nada que você possa fazer, são questões de coração e ação.',
      'Café crème, naïve façade, Noël, résumé, señor, smörgåsbord, Ångström',
    ]) {
      expect(legacyFont(text), text).toBeNull();
    }
  });

  it('needs several such words, and more of them than words that spell nothing either way', () => {
    expect(legacyFont(asTcvn3('Báo cáo'))).toBeNull();
    expect(legacyFont(asTcvn3('Báo cáo'), 2)?.encoding).toBe('TCVN3');
    // Mostly French with three TCVN3 words in it: not enough to say the text is TCVN3.
    expect(legacyFont(`${asTcvn3('Báo cáo tình')} réunion élégant forêt déjà très agréable était noël façade`)).toBeNull();
  });

  it('does not take signs standing alone or Scandinavian words for TCVN3 (review)', () => {
    for (const [text, min] of [
      ['Phòng Tổng hợp · Sở Nội vụ · Hà Nội\n© 2026', 3],
      ['Home · About · Contact', 2],
      ['« Compte rendu » réunion', 2],
      ['Screen 1920×1080 and 2560×1440 and 3840×2160', 3],
      ['Rua Augusta, nº 25, 2º andar, 1ª vez, 3º dia', 3],
      ['Giá 1½ triệu × 2', 2],
      ['Lunch på fredag? Så kul', 2],
      ['Vi ses på mandag, så må du gå nå, då', 2],
    ] as const) {
      expect(legacyFont(text, min), text).toBeNull();
    }
  });

  it('counts words that spell a syllable either way once one that spells only in the font is found (review)', () => {
    // "Về việc cấp số", "Tờ trình", "Có việc gấp" in TCVN3; "Trần Thị Mai", "Đỗ Thị Lan" in VNI.
    expect(legacyFont('VÒ viÖc cÊp sè', 2)?.example).toEqual({ written: 'viÖc', meant: 'việc' });
    expect(legacyFont('Tê tr×nh', 2)?.encoding).toBe('TCVN3');
    expect(legacyFont('Cã viÖc gÊp', 2)?.encoding).toBe('TCVN3');
    expect(legacyFont('Traàn Thò Mai', 2)?.example).toEqual({ written: 'Traàn', meant: 'Trần' });
    expect(legacyFont('Ñoã Thò Lan', 2)?.encoding).toBe('VNI');
    expect(legacyFont('Chò Mî Voõ Thò Saùu', 2)?.encoding).toBe('VNI');
  });

  it('is counted per problem in the operations report', () => {
    expect(findingKind('unicode: flag unicode; in="body"; problem=legacy-font; encoding=TCVN3; example="B¸o" is "Báo"')).toBe('unicode: flag legacy-font');
  });
});
