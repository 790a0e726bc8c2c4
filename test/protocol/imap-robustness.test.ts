/**
 * Handlers against hostile input: valid commands with random arguments, mutated bytes and
 * out-of-range numbers, in the selected state. Every command must get a tagged answer and the
 * session (and server) must stay up.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/log.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

const COMMANDS = [
  'FETCH 1:* (FLAGS UID)',
  'FETCH 1 (BODY.PEEK[1.2.3.MIME] BODY[HEADER.FIELDS.NOT (X)]<5.10>)',
  'UID FETCH 1:* (BINARY.PEEK[1] BINARY.SIZE[2])',
  'FETCH 99999 (UID)',
  'UID FETCH 4294967295 (UID)',
  'STORE 1 +FLAGS (\\Seen $Junk)',
  'UID STORE 1:* -FLAGS.SILENT (\\Flagged)',
  'STORE 1 (UNCHANGEDSINCE 1) FLAGS ()',
  'SEARCH OR (SUBJECT "x") (NOT BODY "đà") SINCE 1-Jan-2020',
  'UID SEARCH RETURN (MIN MAX COUNT SAVE) HEADER X-Foo ""',
  'SEARCH MODSEQ 1 LARGER 10 SMALLER 100000 YOUNGER 1000000',
  'SORT (REVERSE SUBJECT FROM) UTF-8 ALL',
  'THREAD REFERENCES UTF-8 ALL',
  'COPY 1:* Archive',
  'MOVE 99 Nowhere',
  'EXPUNGE',
  'UID EXPUNGE 1:*',
  'STATUS INBOX (MESSAGES SIZE DELETED)',
  'LIST "" "%/*"',
  'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*" RETURN (CHILDREN STATUS (UNSEEN))',
  'CREATE "a/b/c"',
  'RENAME "a" "z"',
  'DELETE "z/b/c"',
  'SELECT INBOX (CONDSTORE)',
  'EXAMINE Trash',
  'GETQUOTA "x"',
  'SETQUOTA "" (STORAGE 1)',
  'ENABLE CONDSTORE QRESYNC X-UNKNOWN',
  'NOOP',
];

function mutate(line: string, seed: number): string {
  let x = seed;
  const rnd = (n: number): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x % n;
  };
  const chars = [...line];
  const edits = rnd(4);
  for (let i = 0; i < edits; i++) {
    const at = rnd(chars.length + 1);
    switch (rnd(4)) {
      case 0:
        chars.splice(at, 1);
        break;
      case 1:
        chars.splice(at, 0, '()[]<>*%"\\{}0123456789:,.é '[rnd(28)] ?? ' ');
        break;
      case 2:
        chars.splice(at, 0, String(rnd(2 ** 31)));
        break;
      default:
        chars.splice(at, 0, '*');
    }
  }
  return chars.join('').replace(/[\r\n]/g, ' ').replace(/\{\d*\+?\}/g, '');
}

describe('IMAP handlers under hostile input', () => {
  let app: TestApp;
  const errors: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        errors.push(chunk.toString());
        done();
      },
    });
    app = await startApp({}, { log: createLogger({ level: 'error', destination: sink }) });
    const u = await createUser(app, 'fuzz');
    for (let i = 0; i < 5; i++) await deliver(app, u, message({ subject: `Thư ${i}` }));
  });
  afterAll(async () => app?.stop());

  it('answers 600 mutated commands, each with a tagged reply, without dropping the session', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('fuzz');
    await c.cmd('s', 'SELECT INBOX');
    for (let i = 0; i < 600; i++) {
      const base = COMMANDS[i % COMMANDS.length] as string;
      const line = i < COMMANDS.length ? base : mutate(base, i);
      const r = await c.cmd(`t${i}`, line);
      expect(r.at(-1)).toMatch(new RegExp(`^t${i} (OK|NO|BAD)`));
      if (!/^t\d+ OK/.test(r.at(-1) ?? '') && i % 50 === 0) await c.cmd(`r${i}`, 'SELECT INBOX');
    }
    const n = await c.cmd('end', 'NOOP');
    expect(n.at(-1)).toMatch(/^end OK/);
    expect(app.healthy()).toBe(true);
    // Refusals are answers, not server bugs: nothing reached the error log.
    expect(errors).toEqual([]);
    c.close();
  });
});
