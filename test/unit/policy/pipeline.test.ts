/** The pipeline's own behaviour: config order, actions, fail closed, time-outs, registry, sending limits, clamd/rspamd clients against fakes. */
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, configFrom } from '../../../src/config/load.js';
import { ManualClock, systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { clamdScan } from '../../../src/policy/clamd.js';
import { checkForwardTarget } from '../../../src/policy/forward.js';
import { createPipeline, knownRules } from '../../../src/policy/pipeline.js';
import type { RuleFactory } from '../../../src/policy/deps.js';
import type { PolicyContext, Rule } from '../../../src/policy/types.js';
import type { Account, Store } from '../../../src/store/port.js';
import { EICAR, mimeMessage, policyMessage } from './fixtures.js';

const store = {} as Store;
const ctx: PolicyContext = { direction: 'inbound', clientIp: '192.0.2.1', account: null, sender: 'a@example.org', recipients: ['b@example.gov.vn'] };
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

/** Throw-away rules for one test, given to createPipeline as extraRules. */
let extraRules: Record<string, RuleFactory> = {};
function withRule(name: string, rule: Omit<Rule, 'name'>): void {
  extraRules[name] = () => ({ name, ...rule });
  cleanup.push(() => {
    extraRules = {};
  });
}

function make(rules: Array<{ name: string; action: string }>, extra: Record<string, unknown> = {}) {
  return createPipeline({ config: configFrom({ policy: { rules, ...extra } }), log: silentLogger(), store, clock: systemClock, extraRules });
}

describe('pipeline', () => {
  it('an unknown rule name is a config error at start-up', () => {
    let err: unknown;
    try {
      make([{ name: 'no-such-rule', action: 'reject' }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]).toMatch(/^policy\.rules\.0\.name: expected one of executables \| .*, got "no-such-rule"$/);
    expect(knownRules()).toEqual(expect.arrayContaining(['executables', 'encrypted-archives', 'attachment-size', 'malware', 'spam', 'auto-forward']));
  });

  it('a rule that throws defers with 451 4.3.0 (fail closed), naming the rule', async () => {
    withRule('boom', { stages: ['data'], check: () => Promise.reject(new Error('kaput')) });
    const r = await make([{ name: 'boom', action: 'flag' }]).checkMessage(ctx, policyMessage(mimeMessage({})));
    expect(r).toMatchObject({ action: 'defer', reply: { code: 451, enhanced: '4.3.0' } });
    expect(r.reply?.text).toContain('boom');
    expect(r.findings).toEqual(['boom: error kaput']);
  });

  it('a rule that takes longer than ruleTimeoutMs defers', async () => {
    withRule('slow', { stages: ['mail'], check: () => new Promise(() => undefined) });
    const r = await make([{ name: 'slow', action: 'reject' }], { ruleTimeoutMs: 50 }).checkMailFrom(ctx);
    expect(r).toMatchObject({ action: 'defer', reply: { code: 451, enhanced: '4.3.0' } });
    expect(r.findings[0]).toMatch(/^slow: error timed out/);
  });

  it('runs in config order, first reject wins, flags collect headers, off rules never run', async () => {
    const ran: string[] = [];
    const hit = (n: string): Omit<Rule, 'name'> => ({
      stages: ['rcpt'],
      check: async () => {
        ran.push(n);
        return { kind: 'hit', finding: `${n}-finding` };
      },
    });
    withRule('r1', hit('r1'));
    withRule('r2', hit('r2'));
    withRule('r3', hit('r3'));
    withRule('r4', hit('r4'));
    const r = await make([
      { name: 'r1', action: 'flag' },
      { name: 'r2', action: 'off' },
      { name: 'r3', action: 'reject' },
      { name: 'r4', action: 'flag' },
    ]).checkRecipient(ctx, 'b@example.gov.vn');
    expect(ran).toEqual(['r1', 'r3']);
    expect(r.action).toBe('reject');
    expect(r.reply).toMatchObject({ code: 550, enhanced: '5.7.1' });
    expect(r.reply?.text).toBe('Thư bị từ chối theo quy tắc r3: r3-finding / Message refused by rule r3: r3-finding');
    expect(r.findings).toEqual(['r1: flag r1-finding', 'r3: reject r3-finding']);
  });

  it('a later reject wins over an earlier quarantine; quarantine alone quarantines', async () => {
    withRule('q', { stages: ['data'], check: async () => ({ kind: 'hit', finding: 'q' }) });
    withRule('x', { stages: ['data'], check: async () => ({ kind: 'hit', finding: 'x' }) });
    const m = policyMessage(mimeMessage({}));
    expect((await make([{ name: 'q', action: 'quarantine' }, { name: 'x', action: 'reject' }]).checkMessage(ctx, m)).action).toBe('reject');
    expect((await make([{ name: 'q', action: 'quarantine' }]).checkMessage(ctx, m)).action).toBe('quarantine');
  });

  it('incoming X-Buudien-* headers are not trusted: headers come only from findings', async () => {
    const m = policyMessage(mimeMessage({ headers: ['X-Buudien-Policy: clean'] }));
    const r = await make([]).checkMessage(ctx, m);
    expect(r.headers).toEqual([]);
  });
});

describe('sending limits', () => {
  it('messages per hour → 451 4.7.1, a notice, and counting restarts after an hour', async () => {
    const clock = new ManualClock(new Date('2026-11-22T10:00:00Z'));
    const delivered: string[] = [];
    const admin = { id: 2, address: 'admin@example.gov.vn', role: 'unit', unitId: 7 } as Account;
    const fake = {
      getAccountByAddress: async () => ({ id: 1, address: 'u@example.gov.vn', unitId: 7 }) as Account,
      listAccounts: async () => [admin],
      submissionTimes: async () => [],
      getMailbox: async () => ({ id: 99 }),
      storeMessage: async (i: { raw: Buffer }) => {
        delivered.push(i.raw.toString('utf8'));
        return [];
      },
    } as unknown as Store;
    const p = createPipeline({ config: configFrom({ policy: { rules: [], maxMessagesPerHour: 2 } }), log: silentLogger(), store: fake, clock });
    const sub: PolicyContext = { direction: 'submission', clientIp: '10.0.0.1', account: 'u@example.gov.vn', sender: 'u@example.gov.vn', recipients: ['x@example.gov.vn'] };
    const m = policyMessage(mimeMessage({}));
    for (let i = 0; i < 2; i++) {
      expect((await p.checkMailFrom(sub)).action).toBe('accept');
      expect((await p.checkMessage(sub, m)).action).toBe('accept');
    }
    const r = await p.checkMailFrom(sub);
    expect(r).toMatchObject({ action: 'defer', reply: { code: 451, enhanced: '4.7.1' } });
    expect(r.findings).toEqual(['sending-limits: reject sending-limit; messages-per-hour=2']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toContain('To: <admin@example.gov.vn>');
    clock.advance(3600_001);
    expect((await p.checkMailFrom(sub)).action).toBe('accept');
  });
});

describe('checkForwardTarget', () => {
  const config = configFrom({ domains: ['nghean.gov.vn'], policy: { forwardAllowlist: ['*.gov.vn', 'partner.vn'] } });
  it.each([
    ['a@nghean.gov.vn', true],
    ['a@hanoi.gov.vn', true],
    ['a@partner.vn', true],
    ['a@gmail.com', false],
    ['a@gov.vn.evil.com', false],
  ])('%s allowed: %s', (addr, ok) => {
    const e = checkForwardTarget(addr, config);
    expect(e === null).toBe(ok);
    if (e) expect(e.code).toBe('POLICY_REJECT');
  });
});

/** A fake clamd speaking zINSTREAM: answers FOUND when the stream contains EICAR. */
async function fakeClamd(mode: 'ok' | 'silent'): Promise<{ socket: string; received: () => Buffer }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clamd-'));
  const socket = path.join(dir, 'clamd.sock');
  let got = Buffer.alloc(0);
  const server = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!buf.subarray(0, 10).equals(Buffer.from('zINSTREAM\0'))) return;
      // Parse chunks: 4-byte big-endian length + data, until a zero-length chunk.
      let p = 10;
      const chunks: Buffer[] = [];
      while (p + 4 <= buf.length) {
        const n = buf.readUInt32BE(p);
        if (n === 0) {
          got = Buffer.concat(chunks);
          if (mode === 'ok') s.end(got.includes(EICAR) ? 'stream: Eicar-Test-Signature FOUND\0' : 'stream: OK\0');
          return;
        }
        if (p + 4 + n > buf.length) return;
        chunks.push(buf.subarray(p + 4, p + 4 + n));
        p += 4 + n;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanup.push(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { socket, received: () => got };
}

describe('clamd client and malware rule (fake clamd)', () => {
  it('sends the message in chunks and reads FOUND / OK', async () => {
    const fake = await fakeClamd('ok');
    const big = Buffer.concat([Buffer.alloc(200_000, 0x61), Buffer.from(EICAR)]);
    expect(await clamdScan({ socket: fake.socket }, big, 5000)).toEqual({ kind: 'infected', signature: 'Eicar-Test-Signature' });
    expect(fake.received().equals(big)).toBe(true);
    expect(await clamdScan({ socket: fake.socket }, Buffer.from('hello'), 5000)).toEqual({ kind: 'clean' });
  });

  it('infected → 550 5.7.1 naming the signature; unreachable → 451 4.7.0; failOpen passes', async () => {
    const fake = await fakeClamd('ok');
    const rules = [{ name: 'malware', action: 'reject' }];
    // The fake looks for EICAR in the raw bytes (real clamd decodes MIME itself): send it as a text body.
    const m = policyMessage(mimeMessage({ text: EICAR }));
    const hit = await make(rules, { clamd: { socket: fake.socket } }).checkMessage(ctx, m);
    expect(hit).toMatchObject({ action: 'reject', reply: { code: 550, enhanced: '5.7.1' } });
    expect(hit.reply?.text).toContain('Eicar-Test-Signature');
    expect(hit.findings).toEqual(['malware: reject malware; signature="Eicar-Test-Signature"']);
    const down = await make(rules, { clamd: { socket: path.join(os.tmpdir(), 'no-such-clamd.sock') } }).checkMessage(ctx, m);
    expect(down).toMatchObject({ action: 'defer', reply: { code: 451, enhanced: '4.7.0' } });
    const open = await make(rules, { clamd: { socket: path.join(os.tmpdir(), 'no-such-clamd.sock'), failOpen: true } }).checkMessage(ctx, m);
    expect(open.action).toBe('accept');
    expect(open.headers).toEqual(['X-Buudien-Policy: malware-unscanned']);
  });

  it('a clamd that never answers defers within the rule time-out', async () => {
    const fake = await fakeClamd('silent');
    const r = await make([{ name: 'malware', action: 'reject' }], { ruleTimeoutMs: 1500, clamd: { socket: fake.socket } }).checkMessage(ctx, policyMessage(mimeMessage({})));
    expect(r).toMatchObject({ action: 'defer', reply: { code: 451 } });
  });
});

describe('spam rule and learning (fake rspamd)', () => {
  async function fakeRspamd(score: number): Promise<{ url: string; calls: string[] }> {
    const calls: string[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls.push(`${req.url} from=${String(req.headers.from)} ip=${String(req.headers.ip)} bytes=${Buffer.concat(chunks).length}`);
        res.setHeader('content-type', 'application/json');
        if (req.url === '/checkv2') res.end(JSON.stringify({ score, required_score: 15, action: 'add header', symbols: { BAYES_SPAM: { name: 'BAYES_SPAM', score: 5.1 }, R_SPF_NA: { score: 0 } } }));
        else res.end('{"success":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as net.AddressInfo).port;
    return { url: `http://127.0.0.1:${port}`, calls };
  }

  it('low score: headers only; over junkScore: Junk + flag; over rejectScore: refused even with action flag', async () => {
    const m = policyMessage(mimeMessage({}));
    const low = await fakeRspamd(1.5);
    const r1 = await make([{ name: 'spam', action: 'flag' }], { rspamd: { url: low.url } }).checkMessage(ctx, m);
    expect(r1).toMatchObject({ action: 'accept', junk: false });
    expect(r1.headers[0]).toBe('X-Spam-Score: 1.50');
    expect(r1.headers[1]).toMatch(/^X-Spamd-Result: default: False \[1.50 \/ 15.00\]; BAYES_SPAM\(5.10\)/);
    expect(low.calls[0]).toBe(`/checkv2 from=a@example.org ip=192.0.2.1 bytes=${m.raw.length}`);
    const mid = await fakeRspamd(8);
    const r2 = await make([{ name: 'spam', action: 'flag' }], { rspamd: { url: mid.url } }).checkMessage(ctx, m);
    expect(r2).toMatchObject({ action: 'accept', junk: true });
    expect(r2.headers).toContain('X-Buudien-Policy: spam; score=8.00');
    const high = await fakeRspamd(20);
    const r3 = await make([{ name: 'spam', action: 'flag' }], { rspamd: { url: high.url } }).checkMessage(ctx, m);
    expect(r3).toMatchObject({ action: 'reject', reply: { code: 550, enhanced: '5.7.1' } });
  });

  it('learn() posts to /learnspam and /learnham', async () => {
    const f = await fakeRspamd(0);
    const p = make([{ name: 'spam', action: 'flag' }], { rspamd: { url: f.url } });
    await p.learn?.('spam', Buffer.from('x'));
    await p.learn?.('ham', Buffer.from('yy'));
    expect(f.calls.map((c) => c.split(' ')[0])).toEqual(['/learnspam', '/learnham']);
  });

  it('rspamd unreachable → deferred (fail closed)', async () => {
    const r = await make([{ name: 'spam', action: 'flag' }], { rspamd: { url: 'http://127.0.0.1:9' } }).checkMessage(ctx, policyMessage(mimeMessage({})));
    expect(r).toMatchObject({ action: 'defer', reply: { code: 451, enhanced: '4.3.0' } });
  });
});
