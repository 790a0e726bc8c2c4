/**
 * The SMTP service built on a running app's store and auth, with what the wiring cannot
 * inject: a fake DNS resolver (SPF/DKIM/DMARC actually evaluate; DMARC p=reject honoured per
 * smtp.dmarcRejectAction) and a scripted policy pipeline (headers, subject tag, junk, quarantine).
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom, mergeConfig } from '../../src/config/load.js';
import { createDelivery } from '../../src/delivery/index.js';
import type { Service } from '../../src/lib/service.js';
import type { Pipeline, PipelineResult } from '../../src/policy/types.js';
import { signWithKey } from '../../src/smtp/dkim.js';
import { createSmtpService } from '../../src/smtp/server.js';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, messagesIn, nextMessage, sendRaw, SmtpLineClient } from './smtp-helpers.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const TXT: Record<string, string> = {
  'sender.example': 'v=spf1 ip4:192.0.2.1 -all',
  '_dmarc.sender.example': 'v=DMARC1; p=reject',
  's1._domainkey.sender.example': `v=DKIM1; k=rsa; p=${publicKey.toString('base64')}`,
};
const resolver = async (name: string, type: string): Promise<string[][]> => {
  const v = TXT[name.toLowerCase()];
  if (type === 'TXT' && v) return [[v]];
  const e = new Error('not found') as Error & { code: string };
  e.code = 'ENOTFOUND';
  throw e;
};

let app: TestApp;
let lan: Account;
const services: Service[] = [];
let policy: PipelineResult = { action: 'accept', reply: null, headers: [], subjectTag: null, junk: false, findings: [] };
const pipeline: Pipeline = {
  checkMailFrom: async () => ({ ...policy, action: 'accept', headers: [], subjectTag: null, junk: false, findings: [] }),
  checkRecipient: async () => ({ ...policy, action: 'accept', headers: [], subjectTag: null, junk: false, findings: [] }),
  checkMessage: async () => policy,
};

async function service(overrides: Record<string, unknown>, withPipeline: boolean): Promise<number> {
  const config = configFrom(
    mergeConfig(
      { domains: ['example.gov.vn'], storage: { dir: app.dir }, listeners: { smtp: { host: '127.0.0.1', port: 0 }, submission: { enabled: false }, submissions: { enabled: false } } },
      overrides,
    ),
  );
  const delivery = createDelivery({ store: app.store, config, log: app.log, clock: app.clock, metrics: app.metrics });
  const s = createSmtpService({ config, log: app.log, clock: app.clock, store: app.store, metrics: app.metrics, auth: app.auth, delivery, tls: app.tls, dnsResolver: resolver, ...(withPipeline ? { pipeline } : {}) });
  services.push(s);
  const [bound] = await s.start();
  return bound?.port ?? 0;
}

async function mx(port: number): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(port);
  await c.read();
  await c.cmd('EHLO mx.sender.example');
  return c;
}

const msg = (subject = 'Hello'): Buffer =>
  Buffer.from(`From: Lan <lan@sender.example>\r\nTo: <lan@example.gov.vn>\r\nSubject: ${subject}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${Math.random()}@sender.example>\r\n\r\nBody\r\n`);

beforeAll(async () => {
  app = await startApp();
  lan = await createUser(app.store, 'lan@example.gov.vn');
}, 30_000);
afterAll(async () => {
  for (const s of services) await s.stop();
  await app?.stop();
});

describe('SPF / DKIM / DMARC on inbound mail', () => {
  it('writes Authentication-Results for a signed message (client 127.0.0.1 is not in the SPF record)', async () => {
    const port = await service({ smtp: { checkAuthentication: true, dmarcRejectAction: 'reject' } }, false);
    const c = await mx(port);
    const signed = await signWithKey(msg(), { domain: 'sender.example', selector: 's1', privateKey, publicKey: '', createdAt: '' }, new Date());
    const arrived = nextMessage(app.store, lan.id);
    const r = await sendRaw(c, 'lan@sender.example', ['lan@example.gov.vn'], signed);
    expect(r.code).toBe(250); // DKIM passes and aligns, so DMARC passes although SPF fails
    const raw = (await arrived).toString();
    expect(raw).toMatch(/^Return-Path: <lan@sender\.example>\r\nReceived: [\s\S]*?\r\nAuthentication-Results: mail\.example\.gov\.vn;\r\n spf=fail [\s\S]*dkim=pass [\s\S]*dmarc=pass/);
    c.close();
  });

  it('rejects an unsigned message failing DMARC p=reject with 550 5.7.1 (dmarcRejectAction: reject)', async () => {
    const port = await service({ smtp: { checkAuthentication: true, dmarcRejectAction: 'reject' } }, false);
    const c = await mx(port);
    const r = await sendRaw(c, 'lan@sender.example', ['lan@example.gov.vn'], msg('spoof'));
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 .*DMARC.*sender\.example/);
    c.close();
  });

  it('does not let a second From field, a second address or a group hide the spoofed domain from DMARC', async () => {
    const port = await service({ smtp: { checkAuthentication: true, dmarcRejectAction: 'reject' } }, false);
    const c = await mx(port);
    const spoof = (from: string): Buffer =>
      Buffer.from(`${from}\r\nTo: <lan@example.gov.vn>\r\nSubject: spoof\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${Math.random()}@x>\r\n\r\nBody\r\n`);
    // RFC 5322 §3.6: exactly one From field (RFC 7489 §6.6.1): refused as malformed on the MX too.
    const two = await sendRaw(c, 'x@attacker.example', ['lan@example.gov.vn'], spoof('From: <lan@sender.example>\r\nFrom: <x@attacker.example>'));
    expect(two.code).toBe(550);
    expect(two.text).toMatch(/^5\.6\.0 .+ \/ .*more than one From/);
    // One From field with two addresses, or a group: every From domain's policy is checked.
    for (const from of ['From: <lan@sender.example>, <x@attacker.example>', 'From: <x@attacker.example>, <lan@sender.example>', 'From: Bank: lan@sender.example;']) {
      const r = await sendRaw(c, 'x@attacker.example', ['lan@example.gov.vn'], spoof(from));
      expect(r.code, from).toBe(550);
      expect(r.text, from).toMatch(/^5\.7\.1 .*DMARC.*sender\.example/);
    }
    expect((await messagesIn(app.store, lan.id)).filter((m) => m.toString().includes('Subject: spoof'))).toHaveLength(0);
    c.close();
  });

  it('only flags it with dmarcRejectAction: flag', async () => {
    const port = await service({ smtp: { checkAuthentication: true, dmarcRejectAction: 'flag' } }, false);
    const c = await mx(port);
    const arrived = nextMessage(app.store, lan.id);
    expect((await sendRaw(c, 'lan@sender.example', ['lan@example.gov.vn'], msg('flagged'))).code).toBe(250);
    expect((await arrived).toString()).toMatch(/X-Buudien-Policy: dmarc-fail; domain="sender\.example"/);
    c.close();
  });
});

describe('pipeline results applied by the SMTP layer', () => {
  it('prepends policy headers, tags the subject and delivers to Junk', async () => {
    const port = await service({ smtp: { checkAuthentication: false } }, true);
    policy = { action: 'accept', reply: null, headers: ['X-Buudien-Policy: encrypted-archive; file="a.zip"'], subjectTag: '[Tệp nén có mật khẩu]', junk: true, findings: ['encrypted-archives: flag a.zip'] };
    const c = await mx(port);
    const arrived = nextMessage(app.store, lan.id, 'Junk');
    expect((await sendRaw(c, 'x@sender.example', ['lan@example.gov.vn'], msg('Ho so'))).code).toBe(250);
    const raw = (await arrived).toString();
    expect(raw).toContain('X-Buudien-Policy: encrypted-archive; file="a.zip"');
    expect(raw).toMatch(/\r\nSubject: =\?utf-8\?B\?/);
    const log = await app.store.searchSendLog({ sender: 'x@sender.example' });
    expect(log[0]?.findings).toEqual(['encrypted-archives: flag a.zip']);
    c.close();
  });

  it('quarantine: answers 250, holds the message, delivers nothing', async () => {
    const port = await service({ smtp: { checkAuthentication: false } }, true);
    policy = { action: 'quarantine', reply: null, headers: [], subjectTag: null, junk: false, findings: ['malware: quarantine EICAR'] };
    const before = (await messagesIn(app.store, lan.id)).length;
    const c = await mx(port);
    expect((await sendRaw(c, 'q@sender.example', ['lan@example.gov.vn'], msg('virus'))).code).toBe(250);
    const q = await app.store.listQuarantine();
    expect(q.find((i) => i.sender === 'q@sender.example')?.reason).toBe('malware: quarantine EICAR');
    expect((await messagesIn(app.store, lan.id)).length).toBe(before);
    expect((await app.store.searchSendLog({ sender: 'q@sender.example' }))[0]?.outcome).toBe('quarantined');
    c.close();
  });

  it('reject and defer use the pipeline reply as given', async () => {
    const port = await service({ smtp: { checkAuthentication: false } }, true);
    policy = { action: 'defer', reply: { code: 451, enhanced: '4.7.1', text: 'Máy quét bận / Scanner busy' }, headers: [], subjectTag: null, junk: false, findings: ['malware: error'] };
    const c = await mx(port);
    const r = await sendRaw(c, 'd@sender.example', ['lan@example.gov.vn'], msg('later'));
    expect([r.code, r.text]).toEqual([451, '4.7.1 Máy quét bận / Scanner busy']);
    c.close();
  });
});
