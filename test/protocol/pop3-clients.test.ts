/**
 * Real POP3 clients against the real app: Python's poplib (USER/PASS, STLS, POP3_SSL, errors)
 * and fetchmail when installed (.ci/run installs it; skipped loudly here when absent).
 */
import { has } from '../helpers/tools.js';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { deliver, makeAccount, PASSWORD, simpleMessage } from '../helpers/pop3-fixtures.js';


const PY = `
import json, poplib, ssl, sys
args = json.loads(sys.argv[1])
out = {}
try:
    ctx = ssl._create_unverified_context()
    if args["mode"] == "ssl":
        p = poplib.POP3_SSL("127.0.0.1", args["port"], context=ctx, timeout=30)
    else:
        p = poplib.POP3("127.0.0.1", args["port"], timeout=30)
    out["welcome"] = p.getwelcome().decode()
    out["capa_before"] = sorted(p.capa().keys())
    if args["mode"] == "stls":
        p.stls(context=ctx)
        out["capa_tls"] = sorted(p.capa().keys())
    try:
        p.user(args["user"])
        p.pass_(args["password"])
    except poplib.error_proto as e:
        out["auth_error"] = e.args[0].decode()
        p.quit()
        print(json.dumps(out))
        sys.exit(0)
    out["stat"] = list(p.stat())
    out["list"] = [l.decode() for l in p.list()[1]]
    out["uidl"] = [l.decode() for l in p.uidl()[1]]
    out["messages"] = []
    for i in range(1, out["stat"][0] + 1):
        resp, lines, octets = p.retr(i)
        out["messages"].append(b"\\r\\n".join(lines).decode() + "\\r\\n")
    out["top"] = [l.decode() for l in p.top(1, 1)[1]]
    if args.get("dele"):
        p.dele(1)
    out["quit"] = p.quit().decode()
except Exception as e:
    out["error"] = repr(e)
print(json.dumps(out))
`;

type PyResult = {
  welcome?: string;
  capa_before?: string[];
  capa_tls?: string[];
  auth_error?: string;
  stat?: [number, number];
  list?: string[];
  uidl?: string[];
  messages?: string[];
  top?: string[];
  quit?: string;
  error?: string;
};

function poplib(dir: string, args: Record<string, unknown>): Promise<PyResult> {
  const script = path.join(dir, 'pop.py');
  writeFileSync(script, PY);
  return new Promise((resolve, reject) => {
    execFile('python3', [script, JSON.stringify(args)], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python3 failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout) as PyResult);
    });
  });
}

const hasPython = has('python3');
if (!hasPython) console.warn('SKIPPED: python3 is not installed; the poplib POP3 tests do not run');

describe.skipIf(!hasPython)('POP3 with Python poplib', () => {
  let app: TestApp;
  let user: Account;
  let dir: string;
  const raws = [
    simpleMessage('Thu mot', 'Xin chao\r\n.dong bat dau bang dau cham\r\nhet\r\n'),
    simpleMessage('Thu hai', 'Noi dung thu hai\r\n'),
  ];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-poplib-'));
    app = await startApp({ security: { authFailureDelayMs: 1, authFailureMaxDelayMs: 2 } });
    user = await makeAccount(app.store, 'hoanglt@example.gov.vn');
    for (const r of raws) await deliver(app.store, user, r);
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('USER/PASS on the plain port (loopback): STAT, LIST, UIDL, RETR (unstuffed exactly), TOP', async () => {
    const r = await poplib(dir, { mode: 'plain', port: app.port('pop3'), user: 'hoanglt', password: PASSWORD });
    expect(r.error).toBeUndefined();
    expect(r.welcome).toMatch(/^\+OK /);
    expect(r.capa_before).toEqual(expect.arrayContaining(['USER', 'SASL', 'STLS', 'TOP', 'UIDL', 'RESP-CODES']));
    expect(r.stat).toEqual([2, raws.reduce((n, x) => n + Buffer.byteLength(x), 0)]);
    expect(r.list).toEqual(raws.map((x, i) => `${i + 1} ${Buffer.byteLength(x)}`));
    expect(r.uidl).toHaveLength(2);
    expect(r.messages).toEqual(raws);
    expect(r.top?.at(-1)).toBe('Xin chao');
    expect(r.top).toContain('Subject: Thu mot');
  });

  it('STLS upgrade, then sign-in; CAPA after TLS drops STLS', async () => {
    const r = await poplib(dir, { mode: 'stls', port: app.port('pop3'), user: 'hoanglt@example.gov.vn', password: PASSWORD });
    expect(r.error).toBeUndefined();
    expect(r.capa_before).toContain('STLS');
    expect(r.capa_tls).not.toContain('STLS');
    expect(r.capa_tls).toContain('USER');
    expect(r.stat?.[0]).toBe(2);
  });

  it('POP3_SSL on pop3s; DELE then QUIT removes the message from the store', async () => {
    const before = await poplib(dir, { mode: 'ssl', port: app.port('pop3s'), user: 'hoanglt', password: PASSWORD });
    const r = await poplib(dir, { mode: 'ssl', port: app.port('pop3s'), user: 'hoanglt', password: PASSWORD, dele: true });
    expect(r.error).toBeUndefined();
    expect(r.quit).toMatch(/^\+OK \S+ tạm biệt \(đã xóa 1 thư\) \/ \S+ signing off \(1 message deleted\)$/);
    const inbox = await app.store.getMailbox(user.id, 'INBOX');
    expect(await app.store.listMessages(inbox?.id as number)).toHaveLength(1);
    const after = await poplib(dir, { mode: 'plain', port: app.port('pop3'), user: 'hoanglt', password: PASSWORD });
    expect(after.uidl?.map((l) => l.split(' ')[1])).toEqual(before.uidl?.slice(1).map((l) => l.split(' ')[1]));
  });

  it('a wrong password reaches poplib as -ERR [AUTH] with the bilingual text', async () => {
    const r = await poplib(dir, { mode: 'plain', port: app.port('pop3'), user: 'hoanglt', password: 'sai' });
    expect(r.auth_error).toBe('-ERR [AUTH] Sai tên đăng nhập hoặc mật khẩu / Wrong user name or password');
  });
});

const hasFetchmail = has('fetchmail');
if (!hasFetchmail) console.warn('SKIPPED: fetchmail is not installed (apt-get install fetchmail); the fetchmail POP3 tests do not run');

describe.skipIf(!hasFetchmail)('POP3 with fetchmail', () => {
  let app: TestApp;
  let user: Account;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-fetchmail-'));
    app = await startApp({ security: { authFailureDelayMs: 1, authFailureMaxDelayMs: 2 } });
    user = await makeAccount(app.store, 'fetch@example.gov.vn');
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function fetchmail(name: string, poll: string, options: string): Promise<{ code: number; out: string; mail: string }> {
    const home = path.join(dir, name);
    execFileSync('mkdir', ['-p', home]);
    const mailFile = path.join(home, 'mail.txt');
    writeFileSync(mailFile, '');
    const rc = path.join(home, 'fetchmailrc');
    writeFileSync(
      rc,
      [
        'set no bouncemail',
        poll,
        `  user "fetch" there with password "${PASSWORD}" is "root" here`,
        `  options ${options}`,
        `  mda "/bin/sh -c 'cat >> ${mailFile}; echo ==END== >> ${mailFile}'"`,
        '',
      ].join('\n'),
    );
    chmodSync(rc, 0o600);
    return new Promise((resolve) => {
      execFile(
        'fetchmail',
        ['-f', rc, '--nodetach', '--nosyslog', '-v', '--pidfile', path.join(home, 'pid'), '--idfile', path.join(home, 'ids')],
        { timeout: 60_000, env: { ...process.env, FETCHMAILHOME: home, HOME: home } },
        (err, stdout, stderr) => {
          const code = err && typeof err.code === 'number' ? err.code : 0;
          resolve({ code, out: `${stdout}\n${stderr}`, mail: readFileSync(mailFile, 'utf8') });
        },
      );
    });
  }

  it('fetches over STLS (fetchall, delete after fetch) and the store sees the expunge', async () => {
    await deliver(app.store, user, simpleMessage('Cong van so 1', 'Noi dung 1\r\n.dau cham\r\n'));
    await deliver(app.store, user, simpleMessage('Cong van so 2', 'Noi dung 2\r\n'));
    const r = await fetchmail('stls', `poll 127.0.0.1 with proto POP3 and port ${app.port('pop3')}`, 'fetchall no keep sslproto "TLS1.2+" no sslcertck');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/STLS/);
    expect(r.mail).toContain('Subject: Cong van so 1');
    expect(r.mail).toContain('Subject: Cong van so 2');
    expect(r.mail).toContain('\n.dau cham');
    expect(r.mail.split('==END==')).toHaveLength(3);
    const inbox = await app.store.getMailbox(user.id, 'INBOX');
    expect(await app.store.listMessages(inbox?.id as number)).toHaveLength(0);
  });

  it('fetches over implicit TLS (pop3s) and keeps mail when told to (UIDL-based)', async () => {
    await deliver(app.store, user, simpleMessage('Cong van so 3', 'Noi dung 3\r\n'));
    const poll = `poll 127.0.0.1 with proto POP3 and port ${app.port('pop3s')}`;
    const options = 'keep ssl no sslcertck';
    const first = await fetchmail('ssl', poll, options);
    expect(first.code, first.out).toBe(0);
    expect(first.mail).toContain('Subject: Cong van so 3');
    const inbox = await app.store.getMailbox(user.id, 'INBOX');
    expect(await app.store.listMessages(inbox?.id as number)).toHaveLength(1);
    // Second run: UIDL says it was seen, nothing new (fetchmail exits 1 = no mail).
    const second = await fetchmail('ssl', poll, options);
    expect(second.code, second.out).toBe(1);
  });
});
