// Table-driven: one command line → the typed ImapCommand (grammar of RFC 9051 §9 and extensions).
import { describe, expect, it } from 'vitest';
import type { ImapCommand } from '../../../../src/imap/protocol/types.js';
import { box, cmd, ranges, refused } from './helpers.js';

const noSel = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
const noRet = { subscribed: false, children: false, specialUse: false, status: null };

const table: Array<[string, ImapCommand]> = [
  // any state / not authenticated
  ['a CAPABILITY', { type: 'CAPABILITY' }],
  ['a noop', { type: 'NOOP' }],
  ['a LOGOUT', { type: 'LOGOUT' }],
  ['a STARTTLS', { type: 'STARTTLS' }],
  ['a LOGIN bob secret', { type: 'LOGIN', username: 'bob', password: 'secret' }],
  ['a LOGIN "nv.an@so.gov.vn" "p a\\"s\\\\s"', { type: 'LOGIN', username: 'nv.an@so.gov.vn', password: 'p a"s\\s' }],
  // A delegate's sign-in name as an atom (R-ACC-6): "*" taken in the userid (RFC 3501 wants it quoted), not in the password.
  ['a LOGIN vpubnd*vanlt secret', { type: 'LOGIN', username: 'vpubnd*vanlt', password: 'secret' }],
  ['a AUTHENTICATE PLAIN', { type: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: null }],
  ['a authenticate plain AGJvYgBzZWNyZXQ=', { type: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: Buffer.from('\0bob\0secret') }],
  ['a AUTHENTICATE PLAIN =', { type: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: Buffer.alloc(0) }],
  ['a ID NIL', { type: 'ID', params: null }],
  ['a ID ("name" "Thunderbird" "version" NIL)', { type: 'ID', params: [['name', 'Thunderbird'], ['version', null]] }],
  ['a ID ()', { type: 'ID', params: [] }],
  // authenticated
  ['a ENABLE condstore utf8=accept', { type: 'ENABLE', capabilities: ['CONDSTORE', 'UTF8=ACCEPT'] }],
  ['a COMPRESS DEFLATE', { type: 'COMPRESS', mechanism: 'DEFLATE' }],
  ['a SELECT INBOX', { type: 'SELECT', mailbox: box('INBOX'), condstore: false, qresync: null }],
  ['a select inbox', { type: 'SELECT', mailbox: box('inbox', 'INBOX'), condstore: false, qresync: null }],
  ['a EXAMINE "Inbox/Sub"', { type: 'EXAMINE', mailbox: box('Inbox/Sub', 'INBOX/Sub'), condstore: false, qresync: null }],
  ['a SELECT "INBOXES"', { type: 'SELECT', mailbox: box('INBOXES'), condstore: false, qresync: null }],
  ['a SELECT "Th&AbA-ng b&AOE-o"', { type: 'SELECT', mailbox: box('Th&AbA-ng b&AOE-o', 'Thưng báo'), condstore: false, qresync: null }],
  ['a SELECT INBOX (CONDSTORE)', { type: 'SELECT', mailbox: box('INBOX'), condstore: true, qresync: null }],
  [
    'a SELECT INBOX (QRESYNC (67890007 2005071519404500 41,43:211,214:541))',
    { type: 'SELECT', mailbox: box('INBOX'), condstore: false, qresync: { uidValidity: 67890007, modseq: 2005071519404500, knownUids: ranges([41, 41], [43, 211], [214, 541]), seqMatch: null } },
  ],
  [
    'a SELECT INBOX (QRESYNC (67890007 900601151940450 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))',
    {
      type: 'SELECT',
      mailbox: box('INBOX'),
      condstore: false,
      qresync: {
        uidValidity: 67890007,
        modseq: 900601151940450,
        knownUids: ranges([1, 29997]),
        seqMatch: {
          seqs: ranges([5000, 5000], [7500, 7500], [9000, 9000], [9990, 9999]),
          uids: ranges(...[15000, 22500, 27000, 29970, 29973, 29976, 29979, 29982, 29985, 29988, 29991, 29994, 29997].map((n): [number, number] => [n, n])),
        },
      },
    },
  ],
  ['a SELECT INBOX (QRESYNC (1 2 (3 4)))', { type: 'SELECT', mailbox: box('INBOX'), condstore: false, qresync: { uidValidity: 1, modseq: 2, knownUids: null, seqMatch: { seqs: ranges([3, 3]), uids: ranges([4, 4]) } } }],
  ['a CREATE Projects/', { type: 'CREATE', mailbox: box('Projects/', 'Projects'), specialUse: [] }],
  ['a CREATE "L&AbA-u tr&Hu8-" (USE (\\Archive))', { type: 'CREATE', mailbox: box('L&AbA-u tr&Hu8-', 'Lưu trữ'), specialUse: ['\\Archive'] }],
  ['a DELETE foo', { type: 'DELETE', mailbox: box('foo') }],
  ['a RENAME foo "bar/baz"', { type: 'RENAME', from: box('foo'), to: box('bar/baz') }],
  ['a SUBSCRIBE &-Co', { type: 'SUBSCRIBE', mailbox: box('&-Co', '&Co') }],
  ['a UNSUBSCRIBE x', { type: 'UNSUBSCRIBE', mailbox: box('x') }],
  ['a LIST "" *', { type: 'LIST', reference: box(''), patterns: [{ raw: '*', pattern: '*' }], selection: noSel, returnOptions: noRet, extended: false }],
  ['a LIST "" ""', { type: 'LIST', reference: box(''), patterns: [{ raw: '', pattern: '' }], selection: noSel, returnOptions: noRet, extended: false }],
  ['a LIST ~/Mail/ %', { type: 'LIST', reference: box('~/Mail/'), patterns: [{ raw: '%', pattern: '%' }], selection: noSel, returnOptions: noRet, extended: false }],
  [
    'a LIST (SUBSCRIBED RECURSIVEMATCH) "" (INBOX "Sent*") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))',
    {
      type: 'LIST',
      reference: box(''),
      patterns: [
        { raw: 'INBOX', pattern: 'INBOX' },
        { raw: 'Sent*', pattern: 'Sent*' },
      ],
      selection: { ...noSel, subscribed: true, recursiveMatch: true },
      returnOptions: { subscribed: false, children: true, specialUse: true, status: ['MESSAGES', 'UNSEEN'] },
      extended: true,
    },
  ],
  ['a LIST () "" % RETURN ()', { type: 'LIST', reference: box(''), patterns: [{ raw: '%', pattern: '%' }], selection: noSel, returnOptions: noRet, extended: true }],
  ['a LIST (SPECIAL-USE) "" *', { type: 'LIST', reference: box(''), patterns: [{ raw: '*', pattern: '*' }], selection: { ...noSel, specialUse: true }, returnOptions: noRet, extended: true }],
  ['a LSUB "" "*"', { type: 'LSUB', reference: box(''), pattern: { raw: '*', pattern: '*' } }],
  ['a NAMESPACE', { type: 'NAMESPACE' }],
  [
    'a STATUS Sent (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ APPENDLIMIT)',
    { type: 'STATUS', mailbox: box('Sent'), items: ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ', 'APPENDLIMIT'] },
  ],
  ['a IDLE', { type: 'IDLE' }],
  ['a GETQUOTA ""', { type: 'GETQUOTA', root: '' }],
  ['a GETQUOTAROOT INBOX', { type: 'GETQUOTAROOT', mailbox: box('INBOX') }],
  ['a SETQUOTA "" (STORAGE 512)', { type: 'SETQUOTA', root: '', limits: [{ resource: 'STORAGE', limit: 512 }] }],
  // selected
  ['a CHECK', { type: 'CHECK' }],
  ['a CLOSE', { type: 'CLOSE' }],
  ['a UNSELECT', { type: 'UNSELECT' }],
  ['a EXPUNGE', { type: 'EXPUNGE', uid: false, uidSet: null }],
  ['a UID EXPUNGE 3000:3002', { type: 'EXPUNGE', uid: true, uidSet: ranges([3000, 3002]) }],
  ['a FETCH 1 UID', { type: 'FETCH', uid: false, set: ranges([1, 1]), items: [{ kind: 'UID' }], changedSince: null, vanished: false }],
  [
    'a FETCH 2:4 ALL',
    { type: 'FETCH', uid: false, set: ranges([2, 4]), items: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }], changedSince: null, vanished: false },
  ],
  ['a FETCH 1 fast', { type: 'FETCH', uid: false, set: ranges([1, 1]), items: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }], changedSince: null, vanished: false }],
  [
    'a FETCH * FULL',
    { type: 'FETCH', uid: false, set: ranges(['*', '*']), items: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }, { kind: 'BODY' }], changedSince: null, vanished: false },
  ],
  [
    'a UID FETCH 1:* (UID FLAGS)',
    { type: 'FETCH', uid: true, set: ranges([1, '*']), items: [{ kind: 'UID' }, { kind: 'FLAGS' }], changedSince: null, vanished: false },
  ],
  [
    'a FETCH 1:10000 (ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE INTERNALDATE MODSEQ RFC822 RFC822.HEADER RFC822.TEXT)',
    {
      type: 'FETCH',
      uid: false,
      set: ranges([1, 10000]),
      items: ['ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'RFC822.SIZE', 'INTERNALDATE', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT'].map((k) => ({ kind: k }) as never),
      changedSince: null,
      vanished: false,
    },
  ],
  [
    'a FETCH 1 (BODY[] BODY.PEEK[HEADER] BODY[TEXT]<0.2048> BODY[1.2.MIME] BODY[2] BODY[3.HEADER] BODY[4.1.TEXT])',
    {
      type: 'FETCH',
      uid: false,
      set: ranges([1, 1]),
      items: [
        { kind: 'BODY[]', peek: false, section: { part: [], text: { kind: 'all' } }, partial: null },
        { kind: 'BODY[]', peek: true, section: { part: [], text: { kind: 'header' } }, partial: null },
        { kind: 'BODY[]', peek: false, section: { part: [], text: { kind: 'text' } }, partial: { offset: 0, length: 2048 } },
        { kind: 'BODY[]', peek: false, section: { part: [1, 2], text: { kind: 'mime' } }, partial: null },
        { kind: 'BODY[]', peek: false, section: { part: [2], text: { kind: 'all' } }, partial: null },
        { kind: 'BODY[]', peek: false, section: { part: [3], text: { kind: 'header' } }, partial: null },
        { kind: 'BODY[]', peek: false, section: { part: [4, 1], text: { kind: 'text' } }, partial: null },
      ],
      changedSince: null,
      vanished: false,
    },
  ],
  [
    'a UID FETCH 5 (BODY.PEEK[HEADER.FIELDS (From Subject "X-Priority")] BODY[HEADER.FIELDS.NOT (Received)])',
    {
      type: 'FETCH',
      uid: true,
      set: ranges([5, 5]),
      items: [
        { kind: 'BODY[]', peek: true, section: { part: [], text: { kind: 'header.fields', not: false, fields: ['From', 'Subject', 'X-Priority'] } }, partial: null },
        { kind: 'BODY[]', peek: false, section: { part: [], text: { kind: 'header.fields', not: true, fields: ['Received'] } }, partial: null },
      ],
      changedSince: null,
      vanished: false,
    },
  ],
  [
    'a FETCH 1 (BINARY[1.2] BINARY.PEEK[]<10.20> BINARY.SIZE[3])',
    {
      type: 'FETCH',
      uid: false,
      set: ranges([1, 1]),
      items: [
        { kind: 'BINARY[]', peek: false, part: [1, 2], partial: null },
        { kind: 'BINARY[]', peek: true, part: [], partial: { offset: 10, length: 20 } },
        { kind: 'BINARY.SIZE', part: [3] },
      ],
      changedSince: null,
      vanished: false,
    },
  ],
  [
    'a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)',
    { type: 'FETCH', uid: true, set: ranges([300, 500]), items: [{ kind: 'FLAGS' }], changedSince: 12345, vanished: true },
  ],
  ['a FETCH $ FLAGS', { type: 'FETCH', uid: false, set: { kind: 'saved' }, items: [{ kind: 'FLAGS' }], changedSince: null, vanished: false }],
  ['a STORE 2:4 +FLAGS (\\Deleted)', { type: 'STORE', uid: false, set: ranges([2, 4]), unchangedSince: null, operation: 'add', silent: false, flags: ['\\Deleted'] }],
  ['a UID STORE 7 -FLAGS.SILENT (\\seen $Label1)', { type: 'STORE', uid: true, set: ranges([7, 7]), unchangedSince: null, operation: 'remove', silent: true, flags: ['\\Seen', '$Label1'] }],
  ['a STORE 1 FLAGS ()', { type: 'STORE', uid: false, set: ranges([1, 1]), unchangedSince: null, operation: 'set', silent: false, flags: [] }],
  ['a STORE 1 +flags \\Flagged \\Answered', { type: 'STORE', uid: false, set: ranges([1, 1]), unchangedSince: null, operation: 'add', silent: false, flags: ['\\Flagged', '\\Answered'] }],
  [
    'a STORE 1:* (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)',
    { type: 'STORE', uid: false, set: ranges([1, '*']), unchangedSince: 320162338, operation: 'add', silent: true, flags: ['\\Deleted'] },
  ],
  ['a COPY 2:4 MEETING', { type: 'COPY', uid: false, set: ranges([2, 4]), mailbox: box('MEETING') }],
  ['a UID MOVE 42:69 foo', { type: 'MOVE', uid: true, set: ranges([42, 69]), mailbox: box('foo') }],
  ['a SEARCH ALL', { type: 'SEARCH', uid: false, returnOptions: null, charset: null, criteria: { op: 'all' } }],
  [
    'a UID SEARCH RETURN (MIN MAX COUNT ALL SAVE) CHARSET utf-8 TEXT "Đà Nẵng"',
    { type: 'SEARCH', uid: true, returnOptions: ['MIN', 'MAX', 'COUNT', 'ALL', 'SAVE'], charset: 'UTF-8', criteria: { op: 'text', where: 'text', value: 'Đà Nẵng' } },
  ],
  ['a SEARCH RETURN () UNSEEN', { type: 'SEARCH', uid: false, returnOptions: [], charset: null, criteria: { op: 'flag', flag: '\\Seen', set: false } }],
  [
    'a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"',
    {
      type: 'SEARCH',
      uid: false,
      returnOptions: null,
      charset: null,
      criteria: {
        op: 'and',
        keys: [
          { op: 'flag', flag: '\\Flagged', set: true },
          { op: 'date', field: 'internal', cmp: 'since', date: { year: 1994, month: 2, day: 1 } },
          { op: 'not', key: { op: 'header', field: 'from', value: 'Smith' } },
        ],
      },
    },
  ],
  [
    'a SEARCH OR (TO a CC b) BCC c SUBJECT s BODY b2 HEADER X-Spam yes',
    {
      type: 'SEARCH',
      uid: false,
      returnOptions: null,
      charset: null,
      criteria: {
        op: 'and',
        keys: [
          {
            op: 'or',
            left: {
              op: 'and',
              keys: [
                { op: 'header', field: 'to', value: 'a' },
                { op: 'header', field: 'cc', value: 'b' },
              ],
            },
            right: { op: 'header', field: 'bcc', value: 'c' },
          },
          { op: 'header', field: 'subject', value: 's' },
          { op: 'text', where: 'body', value: 'b2' },
          { op: 'header', field: 'x-spam', value: 'yes' },
        ],
      },
    },
  ],
  [
    'a SEARCH ANSWERED DELETED DRAFT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED KEYWORD $Junk UNKEYWORD foo',
    {
      type: 'SEARCH',
      uid: false,
      returnOptions: null,
      charset: null,
      criteria: {
        op: 'and',
        keys: [
          { op: 'flag', flag: '\\Answered', set: true },
          { op: 'flag', flag: '\\Deleted', set: true },
          { op: 'flag', flag: '\\Draft', set: true },
          { op: 'flag', flag: '\\Seen', set: true },
          { op: 'flag', flag: '\\Answered', set: false },
          { op: 'flag', flag: '\\Deleted', set: false },
          { op: 'flag', flag: '\\Draft', set: false },
          { op: 'flag', flag: '\\Flagged', set: false },
          { op: 'flag', flag: '$Junk', set: true },
          { op: 'flag', flag: 'foo', set: false },
        ],
      },
    },
  ],
  [
    'a SEARCH NEW OLD RECENT BEFORE "5-Mar-2024" ON 29-Feb-2024 SENTBEFORE 1-Jan-2025 SENTON 1-Jan-2025 SENTSINCE 1-Jan-2025',
    {
      type: 'SEARCH',
      uid: false,
      returnOptions: null,
      charset: null,
      criteria: {
        op: 'and',
        keys: [
          { op: 'and', keys: [{ op: 'recent' }, { op: 'flag', flag: '\\Seen', set: false }] },
          { op: 'not', key: { op: 'recent' } },
          { op: 'recent' },
          { op: 'date', field: 'internal', cmp: 'before', date: { year: 2024, month: 3, day: 5 } },
          { op: 'date', field: 'internal', cmp: 'on', date: { year: 2024, month: 2, day: 29 } },
          { op: 'date', field: 'sent', cmp: 'before', date: { year: 2025, month: 1, day: 1 } },
          { op: 'date', field: 'sent', cmp: 'on', date: { year: 2025, month: 1, day: 1 } },
          { op: 'date', field: 'sent', cmp: 'since', date: { year: 2025, month: 1, day: 1 } },
        ],
      },
    },
  ],
  [
    'a SEARCH LARGER 1000 SMALLER 5000 UID 1:5,9 2,4:* OLDER 3600 YOUNGER 60 MODSEQ 620162338 MODSEQ "/flags/\\\\draft" all 620162338',
    {
      type: 'SEARCH',
      uid: false,
      returnOptions: null,
      charset: null,
      criteria: {
        op: 'and',
        keys: [
          { op: 'size', cmp: 'larger', bytes: 1000 },
          { op: 'size', cmp: 'smaller', bytes: 5000 },
          { op: 'uid', set: ranges([1, 5], [9, 9]) },
          { op: 'seq', set: ranges([2, 2], [4, '*']) },
          { op: 'within', cmp: 'older', seconds: 3600 },
          { op: 'within', cmp: 'younger', seconds: 60 },
          { op: 'modseq', modseq: 620162338, entry: null },
          { op: 'modseq', modseq: 620162338, entry: { name: '/flags/\\draft', type: 'all' } },
        ],
      },
    },
  ],
  ['a SEARCH UID $', { type: 'SEARCH', uid: false, returnOptions: null, charset: null, criteria: { op: 'uid', set: { kind: 'saved' } } }],
  [
    'a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL',
    { type: 'SORT', uid: true, returnOptions: null, sort: [{ key: 'DATE', reverse: true }, { key: 'SUBJECT', reverse: false }], charset: 'UTF-8', criteria: { op: 'all' } },
  ],
  [
    'a SORT RETURN (COUNT) (ARRIVAL SIZE FROM TO CC DISPLAYFROM DISPLAYTO) US-ASCII UNSEEN',
    {
      type: 'SORT',
      uid: false,
      returnOptions: ['COUNT'],
      sort: ['ARRIVAL', 'SIZE', 'FROM', 'TO', 'CC', 'DISPLAYFROM', 'DISPLAYTO'].map((key) => ({ key, reverse: false }) as never),
      charset: 'US-ASCII',
      criteria: { op: 'flag', flag: '\\Seen', set: false },
    },
  ],
  ['a THREAD REFERENCES UTF-8 ALL', { type: 'THREAD', uid: false, algorithm: 'REFERENCES', charset: 'UTF-8', criteria: { op: 'all' } }],
  ['a UID THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000', { type: 'THREAD', uid: true, algorithm: 'ORDEREDSUBJECT', charset: 'UTF-8', criteria: { op: 'date', field: 'internal', cmp: 'since', date: { year: 2000, month: 3, day: 5 } } }],
];

describe('IMAP command grammar', () => {
  it.each(table)('%s', (line, expected) => {
    expect(cmd(line)).toEqual(expected);
  });

  it('parses UTF-8 mailbox names verbatim once UTF8=ACCEPT is enabled', () => {
    expect(cmd('a SELECT "Thư mục"', { utf8Enabled: () => true })).toEqual({ type: 'SELECT', mailbox: box('Thư mục'), condstore: false, qresync: null });
    // The same name without UTF8=ACCEPT is not modified UTF-7: refused.
    expect(refused('a SELECT "Thư mục"').response).toBe('BAD');
  });
});

const errors: Array<[string, 'BAD' | 'NO', RegExp]> = [
  ['a FOO', 'BAD', /Unknown command: FOO/],
  ['a UID FOO 1', 'BAD', /Unknown UID command/],
  ['a LOGIN bob se*cret', 'BAD', /space|unexpected/],
  ['a LOGIN bob', 'BAD', /space/],
  ['a LOGIN bob secret extra', 'BAD', /unexpected data/],
  ['a FETCH 0 FLAGS', 'BAD', /non-zero/],
  ['a FETCH 1 (FLAGS', 'BAD', /expected "\)"/],
  ['a FETCH 1 ()', 'BAD', /empty list/],
  ['a FETCH 1 BODY[MIME]', 'BAD', /unknown section/],
  ['a FETCH 1 (BODY[1.FOO])', 'BAD', /unknown section/],
  ['a FETCH 1 FOO', 'BAD', /unknown FETCH item/],
  ['a FETCH 1 FLAGS (VANISHED)', 'BAD', /VANISHED/],
  ['a FETCH 99999999999 FLAGS', 'BAD', /too large/],
  ['a STORE 1 +FLAGS (\\Recent)', 'BAD', /Recent/],
  ['a STORE 1 XFLAGS (\\Seen)', 'BAD', /STORE operation/],
  ['a SELECT "a&Jjo"', 'BAD', /modified UTF-7/],
  ['a SELECT "&AGE-"', 'BAD', /modified UTF-7/],
  ['a SEARCH CHARSET KOI8-R TEXT x', 'NO', /^\[BADCHARSET \(UTF-8 US-ASCII\)\] /],
  ['a SEARCH FOO', 'BAD', /unknown search key/],
  ['a SEARCH SINCE 31-Feb-2024', 'BAD', /invalid date/],
  ['a SEARCH', 'BAD', /space/],
  ['a SELECT INBOX (QRESYNC (1 9007199254740993))', 'BAD', /too large/],
  ['a STATUS INBOX (MESSAGES BOGUS)', 'BAD', /STATUS item/],
  ['a LIST (BOGUS) "" *', 'BAD', /selection option/],
  ['a LIST (RECURSIVEMATCH) "" *', 'BAD', /RECURSIVEMATCH/],
  ['a AUTHENTICATE PLAIN !!!', 'BAD', /base64/],
  ['a CREATE x (USE (\\Bogus))', 'NO', /^\[USEATTR\] /],
  ['a APPEND INBOX', 'BAD', /missing message/],
  ['a LOGIN "unterminated', 'BAD', /unterminated/],
  ['a LOGIN "bad\\escape" x', 'BAD', /escape/],
  ['* NOOP', 'BAD', /tag/],
  ['a+b NOOP', 'BAD', /tag/],
  ['NOOP', 'BAD', /tag/],
];

describe('IMAP command grammar refusals', () => {
  it.each(errors)('%s → %s', (line, response, text) => {
    const e = refused(line);
    expect(e.response).toBe(response);
    expect(e.text).toMatch(text);
    expect(e.fatal).toBe(false);
    expect(e.text).toContain(' / '); // bilingual
  });

  it('reports the tag of a refused command', () => {
    expect(refused('x17 FOO').tag).toBe('x17');
    expect(refused('NOOP').tag).toBeNull();
  });
});
