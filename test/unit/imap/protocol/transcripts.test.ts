// Real client byte streams through the parser, whole, one byte at a time, and split at every
// byte boundary: the parse must not depend on how TCP cut the stream.
//  - RFC 9051 §8 sample session (client side, SCRAM exchange as lines)
//  - imapflow 2.1.2 and Python imaplib, captured from the real clients by capture-clients.ts
//    (fixtures/clients.json)
//  - Thunderbird's UTF8 APPEND (RFC 6855 §4), in the shape seen in client traces:
//    `34 append "Sent" (\Seen) UTF8 (~{n}` then the message, then `)`
//  - RFC 2177 IDLE and RFC 7888 LITERAL+ examples
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCommandParser } from '../../../../src/imap/protocol/parser.js';
import type { ImapCommand, ParseEvent } from '../../../../src/imap/protocol/types.js';
import { LIMITS } from './helpers.js';

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/clients.json', import.meta.url), 'utf8')) as { imapflow: string; imaplib: string };

interface Outcome {
  summary: string[];
  commands: Array<{ tag: string; command: ImapCommand }>;
}

/**
 * Drive a parser like a session: resume after a command; after IDLE read one line; after
 * AUTHENTICATE read `authLines` lines; ENABLE UTF8=ACCEPT switches name decoding to UTF-8.
 */
function run(stream: Buffer, cuts: number[], authLines: number): Outcome {
  let utf8 = false;
  const p = createCommandParser({ ...LIMITS, utf8Enabled: () => utf8 });
  const out: Outcome = { summary: [], commands: [] };
  let pendingLines = 0;
  const handle = (evs: ParseEvent[]): void => {
    let batch = evs;
    for (;;) {
      for (const e of batch) {
        if (e.kind === 'command') {
          out.summary.push(`${e.tag} ${e.command.type}`);
          out.commands.push({ tag: e.tag, command: e.command });
          if (e.command.type === 'IDLE') pendingLines = 1;
          if (e.command.type === 'AUTHENTICATE') pendingLines = authLines;
          if (e.command.type === 'ENABLE' && e.command.capabilities.includes('UTF8=ACCEPT')) utf8 = true;
        } else if (e.kind === 'line') {
          out.summary.push(`line:${e.text}`);
          pendingLines--;
        } else if (e.kind === 'continue') {
          out.summary.push('+');
        } else {
          out.summary.push(`error:${e.tag}:${e.response}:${e.text}`);
        }
      }
      if (!p.paused) return;
      batch = pendingLines > 0 ? p.expectLine() : p.resume();
    }
  };
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    handle(p.push(stream.subarray(prev, c)));
    prev = c;
  }
  return out;
}

/** The outcome must be the same whole, byte by byte, and for every two-piece split. */
function everySplit(stream: Buffer, authLines = 0): Outcome {
  const whole = run(stream, [], authLines);
  const bytewise = run(
    stream,
    Array.from({ length: stream.length - 1 }, (_, i) => i + 1),
    authLines,
  );
  expect(bytewise).toEqual(whole);
  for (let cut = 1; cut < stream.length; cut++) {
    const split = run(stream, [cut], authLines);
    if (JSON.stringify(split.summary) !== JSON.stringify(whole.summary)) {
      expect(split.summary, `split at byte ${cut}`).toEqual(whole.summary);
    }
  }
  return whole;
}

const find = (o: Outcome, tag: string): ImapCommand => {
  const c = o.commands.find((x) => x.tag === tag);
  if (!c) throw new Error(`no command ${tag}`);
  return c.command;
};

describe('RFC 9051 §8 sample session', () => {
  const stream = Buffer.from(
    [
      'a000 starttls',
      'A001 AUTHENTICATE SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=',
      'Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==',
      '',
      'babc ENABLE IMAP4rev2',
      'a002 select inbox',
      'a003 fetch 12 full',
      'a004 fetch 12 body[header]',
      'a005 store 12 +flags \\deleted',
      'a006 logout',
      '',
    ].join('\r\n'),
  );

  it('parses identically however the stream is split', () => {
    const o = everySplit(stream, 2);
    expect(o.summary).toEqual([
      'a000 STARTTLS',
      'A001 AUTHENTICATE',
      'line:Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==',
      'line:',
      'babc ENABLE',
      'a002 SELECT',
      'a003 FETCH',
      'a004 FETCH',
      'a005 STORE',
      'a006 LOGOUT',
    ]);
    expect(find(o, 'A001')).toEqual({ type: 'AUTHENTICATE', mechanism: 'SCRAM-SHA-256', initialResponse: Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO') });
    expect(find(o, 'a002')).toEqual({ type: 'SELECT', mailbox: { raw: 'inbox', name: 'INBOX' }, condstore: false, qresync: null });
    expect(find(o, 'a004')).toMatchObject({ type: 'FETCH', items: [{ kind: 'BODY[]', peek: false, section: { part: [], text: { kind: 'header' } }, partial: null }] });
    expect(find(o, 'a005')).toEqual({ type: 'STORE', uid: false, set: { kind: 'ranges', ranges: [{ from: 12, to: 12 }] }, unchangedSince: null, operation: 'add', silent: false, flags: ['\\Deleted'] });
  });
});

describe('imapflow 2.1.2 (captured)', () => {
  const stream = Buffer.from(fixtures.imapflow, 'utf8');

  it('parses the whole session identically however the stream is split', () => {
    const o = everySplit(stream, 1);
    expect(o.summary.filter((s) => s.startsWith('error'))).toEqual([]);
    expect(o.summary).toEqual([
      '1 ID',
      '2 AUTHENTICATE',
      'line:AG52LmFuQHNvLmdvdi52bgBN4bqtdCBraOG6qXUgImtow7MiIFwgMTIz',
      '3 ID',
      '4 NAMESPACE',
      '5 ENABLE',
      '6 LIST',
      '7 LSUB',
      '8 SELECT',
      '9 FETCH',
      'A FETCH',
      'B SEARCH',
      'C STORE',
      'D MOVE',
      'E APPEND',
      'F CREATE',
      '10 SUBSCRIBE',
      '11 STATUS',
      '12 IDLE',
      'line:DONE',
      '13 NOOP',
      '14 LOGOUT',
    ]);
    // The SASL PLAIN response carries the Vietnamese password byte-exactly.
    expect(Buffer.from('AG52LmFuQHNvLmdvdi52bgBN4bqtdCBraOG6qXUgImtow7MiIFwgMTIz', 'base64').toString('utf8')).toBe('\0nv.an@so.gov.vn\0Mật khẩu "khó" \\ 123');
    expect(find(o, '6')).toMatchObject({ type: 'LIST', patterns: [{ raw: 'INBOX', pattern: 'INBOX' }], returnOptions: { specialUse: true, children: true, subscribed: true, status: null }, extended: true });
    expect(find(o, 'A')).toMatchObject({
      type: 'FETCH',
      uid: true,
      changedSince: 1,
      vanished: true,
      items: [
        { kind: 'UID' },
        { kind: 'FLAGS' },
        { kind: 'MODSEQ' },
        { kind: 'BODY[]', peek: true, section: { part: [], text: { kind: 'header.fields', not: false, fields: ['from', 'subject'] } } },
        { kind: 'BODY[]', peek: true, section: { part: [1], text: { kind: 'all' } } },
      ],
    });
    expect(find(o, 'B')).toEqual({
      type: 'SEARCH',
      uid: true,
      returnOptions: null,
      charset: null,
      criteria: {
        op: 'and',
        keys: [
          { op: 'header', field: 'from', value: 'Nguyễn' },
          { op: 'flag', flag: '\\Seen', set: false },
          { op: 'date', field: 'internal', cmp: 'since', date: { year: 2024, month: 1, day: 1 } },
        ],
      },
    });
    // After ENABLE UTF8=ACCEPT imapflow sends UTF-8 names as they are.
    expect(find(o, 'D')).toMatchObject({ type: 'MOVE', uid: true, mailbox: { raw: 'Lưu trữ', name: 'Lưu trữ' } });
    expect(find(o, 'F')).toMatchObject({ type: 'CREATE', mailbox: { name: 'Lưu trữ/2026' } });
    const append = find(o, 'E');
    expect(append.type === 'APPEND' && append.messages[0]?.data.toString('utf8')).toBe('From: an@so.gov.vn\r\nSubject: Báo cáo tháng\r\n\r\nNội dung\r\n');
    expect(append).toMatchObject({ messages: [{ flags: ['\\Seen'], internalDate: { date: new Date('2026-11-20T01:00:00Z'), offsetMinutes: 0 }, form: 'literal' }] });
  });
});

describe('Python imaplib (captured)', () => {
  const stream = Buffer.from(fixtures.imaplib, 'utf8');

  it('parses the whole session identically however the stream is split', () => {
    const o = everySplit(stream);
    const tags = o.commands.map((c) => c.command.type);
    expect(tags).toEqual(['CAPABILITY', 'LOGIN', 'SELECT', 'SEARCH', 'SEARCH', 'FETCH', 'STORE', 'APPEND', 'EXPUNGE', 'LOGOUT']);
    expect(o.summary.filter((s) => s.startsWith('error'))).toEqual([]);
    expect(o.summary.filter((s) => s === '+')).toHaveLength(1); // APPEND's synchronising literal
    const login = o.commands[1]?.command;
    expect(login).toEqual({ type: 'LOGIN', username: 'bob', password: 'pa ss"w' });
    const append = o.commands[7]?.command;
    expect(append).toMatchObject({ type: 'APPEND', mailbox: { name: 'Sent' }, messages: [{ flags: ['\\Seen'], internalDate: { date: new Date('2026-11-20T01:00:00Z'), offsetMinutes: 420 } }] });
    expect(append?.type === 'APPEND' && append.messages[0]?.data.toString()).toBe('Subject: x\r\n\r\nbody\r\n');
  });
});

describe('Thunderbird UTF8 APPEND (RFC 6855 §4)', () => {
  const message = Buffer.from('From: Nguyễn Văn An <an@so.gov.vn>\r\nSubject: Báo cáo quý IV\r\n\r\nKính gửi Sở.\r\n', 'utf8');
  const stream = Buffer.concat([
    Buffer.from('33 ENABLE UTF8=ACCEPT\r\n'),
    Buffer.from(`34 append "Sent" (\\Seen) UTF8 (~{${message.length}}\r\n`),
    message,
    Buffer.from(')\r\n35 NOOP\r\n'),
  ]);

  it('asks for the literal8, then returns the message bytes exactly, however split', () => {
    const o = everySplit(stream);
    expect(o.summary).toEqual(['33 ENABLE', '+', '34 APPEND', '35 NOOP']);
    const c = find(o, '34');
    expect(c).toMatchObject({ type: 'APPEND', mailbox: { raw: 'Sent', name: 'Sent' }, messages: [{ flags: ['\\Seen'], internalDate: null, form: 'utf8' }] });
    expect(c.type === 'APPEND' && c.messages[0]?.data.equals(message)).toBe(true);
  });
});

describe('RFC examples', () => {
  it('RFC 2177 IDLE with DONE, then the next command', () => {
    const o = everySplit(Buffer.from('A001 SELECT INBOX\r\nA002 IDLE\r\nDONE\r\nA003 NOOP\r\n'));
    expect(o.summary).toEqual(['A001 SELECT', 'A002 IDLE', 'line:DONE', 'A003 NOOP']);
  });

  it('RFC 7888 LITERAL+ LOGIN', () => {
    const o = everySplit(Buffer.from('A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n'));
    expect(o.commands).toEqual([{ tag: 'A001', command: { type: 'LOGIN', username: 'FRED FOOBAR', password: 'fat man' } }]);
  });

  it('RFC 3502 MULTIAPPEND with synchronising literals', () => {
    const m1 = 'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n';
    const m2 = 'Subject: second\r\n\r\nx\r\n';
    const o = everySplit(Buffer.from(`A003 APPEND saved-messages (\\Seen) {${m1.length}}\r\n${m1} (\\Seen) " 7-Feb-1994 22:43:04 -0800" {${m2.length}}\r\n${m2}\r\n`));
    expect(o.summary).toEqual(['+', '+', 'A003 APPEND']);
    const c = o.commands[0]?.command;
    expect(c?.type === 'APPEND' ? c.messages.map((m) => m.data.toString()) : null).toEqual([m1, m2]);
  });
});
