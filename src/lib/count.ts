/** Counts written out for people: thousands grouped per language, and English plurals. */

/** Thousands grouped the Vietnamese way (1.234.567). */
export const vnCount = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '.');

/** Thousands grouped the English way (1,234,567). */
export const enCount = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** "1 message", "2 messages", "1,500 messages" (English; Vietnamese nouns do not change). */
export const many = (n: number, one: string, other = `${one}s`): string => `${enCount(n)} ${n === 1 ? one : other}`;
