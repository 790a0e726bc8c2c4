/**
 * The notice of a recipient left for its notice alone (buildDsn, RFC 3464): each recipient's
 * Last-Attempt-Date is the time of its own attempt, and a notice about a message of which nothing
 * is known (no bytes, no header line) has no third part rather than an empty one.
 */
import { describe, expect, it } from 'vitest';
import { buildDsn, type DsnInput } from '../../src/smtp/dsn.js';

const base: DsnInput = {
  hostname: 'mail.example.gov.vn',
  to: 'longnv@example.gov.vn',
  recipients: [{ recipient: 'gone@other.example.com', action: 'failed', status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 no such user', remoteMta: 'mx.other.example.com' }],
  original: Buffer.from('Message-ID: <m@example.gov.vn>\r\nSubject: x\r\n\r\nbody\r\n'),
  arrivalDate: new Date('2026-11-23T00:00:00Z'),
  now: new Date('2026-11-23T02:00:00Z'),
};

const parts = (dsn: Buffer): string[] => {
  const text = dsn.toString();
  const boundary = /boundary="([^"]+)"/.exec(text)?.[1] ?? 'none';
  return text.split(`--${boundary}`).slice(1, -1);
};

describe('Last-Attempt-Date', () => {
  it('is each recipient\'s own attempt time when given, else the notice\'s', () => {
    const dsn = buildDsn({
      ...base,
      recipients: [
        { ...(base.recipients[0] as DsnInput['recipients'][number]), lastAttemptDate: new Date('2026-11-23T00:30:00Z') },
        { recipient: 'late@other.example.com', action: 'failed', status: '4.4.7', diagnostic: null, remoteMta: null, lastAttemptDate: null },
      ],
    }).toString();
    const blocks = dsn.split(/\r\n\r\n(?=Final-Recipient)/);
    expect(blocks.find((b) => b.startsWith('Final-Recipient: rfc822; gone@'))).toContain('Last-Attempt-Date: Mon, 23 Nov 2026 00:30:00 +0000');
    expect(blocks.find((b) => b.startsWith('Final-Recipient: rfc822; late@'))).toContain('Last-Attempt-Date: Mon, 23 Nov 2026 02:00:00 +0000');
    expect(dsn).toContain('Date: Mon, 23 Nov 2026 02:00:00 +0000');
  });
});

describe('the returned-content part', () => {
  it('is left out when nothing is known of the message (empty bytes, RET=HDRS or FULL)', () => {
    for (const ret of ['HDRS', 'FULL', null] as const) {
      const p = parts(buildDsn({ ...base, original: Buffer.alloc(0), ret }));
      expect(p).toHaveLength(2);
      expect(p[1]).toContain('Content-Type: message/delivery-status');
    }
  });

  it('is left out for a lost message with no known header line, empty or null', () => {
    for (const headers of [null, Buffer.alloc(0)]) {
      const p = parts(buildDsn({ ...base, original: { lost: true, headers } }));
      expect(p).toHaveLength(2);
    }
  });

  it('carries what is known otherwise', () => {
    const p = parts(buildDsn({ ...base, original: Buffer.from('Message-ID: <m@example.gov.vn>\r\n'), ret: 'HDRS' }));
    expect(p).toHaveLength(3);
    expect(p[2]).toMatch(/^\r\nContent-Type: text\/rfc822-headers\r\n[^]*Message-ID: <m@example\.gov\.vn>\r\n/);
  });
});
