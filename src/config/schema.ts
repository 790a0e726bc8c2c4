/**
 * The configuration schema: every limit is a named key with its unit in the name
 * (…Bytes, …Ms, …Days, …Percent) and a default that follows the regulations
 * (../shared/REQUIREMENTS.md). The default config follows the stricter province.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { parseBytes } from '../lib/bytes.js';
import { bi } from '../lib/errors.js';

/** A DKIM selector (RFC 6376 §3.1): dot-separated DNS labels of 1–63 letters, digits and hyphens, no hyphen at either end. */
export const DKIM_SELECTOR = /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A byte count: a whole number or a string with a unit ("20MB", "2 GB"). */
const bytes = (def: number) =>
  z
    .union([z.number(), z.string()])
    .transform((v, ctx) => {
      const n = parseBytes(v);
      if (n === null) {
        ctx.addIssue({ code: 'custom', message: `expected a size such as 20MB or 1048576, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return n;
    })
    .default(def);

const ms = (def: number) => z.number().int().nonnegative().default(def);
/** A whole number of things, at least 1 (`min(1)`, not `positive()`: the problem then reads "expected ≥ 1"). */
const count = (def: number) => z.number().int().min(1).default(def);

/** "10.0.0.5", "::1", "172.16.0.0/12" or "fd00::/8". */
export function isIpOrCidr(v: string): boolean {
  const [addr = '', prefix, ...rest] = v.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const listener = (port: number) =>
  z
    .object({
      host: z.string().min(1).default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(port),
      enabled: z.boolean().default(true),
      /** The port clients are told about (autoconfig) when a proxy or Docker maps another one; default: the bound port. */
      publicPort: z.number().int().min(1).max(65535).optional(),
    })
    .strict()
    .prefault({});

const domainName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'expected a lower-case domain name such as example.gov.vn');

export const DEFAULT_EXECUTABLE_EXTENSIONS = [
  'exe', 'com', 'dll', 'net', 'bat', 'cmd', 'scr', 'pif', 'msi', 'msp', 'cpl', 'vbs', 'vbe', 'js', 'jse',
  'wsf', 'wsh', 'ps1', 'hta', 'jar', 'lnk', 'reg', 'sys', 'drv', 'ocx', 'gadget', 'application', 'appx', 'msix',
  // Run or mounted by Windows on a double click too: disk images, cabinets, OneNote, help and
  // console files, Excel add-ins, shortcuts and web queries, script components, PowerShell modules.
  'iso', 'img', 'vhd', 'vhdx', 'cab', 'one', 'chm', 'hlp', 'msc', 'xll', 'url', 'scf', 'iqy', 'slk', 'wsc', 'sct',
  'inf', 'psm1', 'vb', 'ws', 'msh', 'diagcab', 'settingcontent-ms', 'appref-ms', 'library-ms', 'search-ms',
];

/** A real calendar date written YYYY-MM-DD (2026-02-30 and 2026-13-01 are refused, not rolled over). */
function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d); // not Date.UTC, which reads years 0–99 as 1900–1999
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

const calendarDate = z.string().superRefine((v, ctx) => {
  if (!isCalendarDate(v)) {
    const got = JSON.stringify(v);
    ctx.addIssue({
      code: 'custom',
      message: bi(`cần một ngày có thật, dạng YYYY-MM-DD, không phải ${got}`, `expected a real calendar date YYYY-MM-DD, got ${got}`),
    });
  }
});

const ruleAction = z.enum(['reject', 'flag', 'quarantine', 'off']);

/** R-STORE-1: the least quota of a personal (and admin) account and of a unit account. */
export const QUOTA_FLOOR_BYTES = { personal: 2 * GiB, unit: 10 * GiB } as const;

/** R-AUTH-2: the longest a password may be kept, in days (3 months for administrators; 6 months, as NB allows, for users). */
export const PASSWORD_MAX_AGE_CEILING_DAYS = { admin: 90, user: 183 } as const;

export const configSchema = z
  .object({
    /** A preset or any file this one overrides key by key (resolved by the loader, kept for display). */
    extends: z.string().optional(),
    /** Domains served; the first is the primary one (super-admin lives there). */
    domains: z.array(domainName).min(1).default(['example.gov.vn']),
    organization: z
      .object({
        name: z.string().default('Cơ quan nhà nước'),
        /** Host name used in SMTP banners, Received headers and DSNs. */
        hostname: z.string().min(1).default('mail.example.gov.vn'),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        dir: z.string().min(1).default('./data'),
        /** Blobs up to this size are kept inside the database file (one fsync per group commit). */
        inlineBlobMaxBytes: bytes(64 * 1024),
        /** How long concurrent writes wait to share one commit. 0 = commit on the next tick. */
        groupCommitWindowMs: ms(0),
      })
      .strict()
      .prefault({}),
    listeners: z
      .object({
        smtp: listener(2525),
        submission: listener(2587),
        submissions: listener(2465),
        imap: listener(1143),
        imaps: listener(1993),
        pop3: listener(1110),
        pop3s: listener(1995),
        http: listener(8080),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        /** PEM certificate chain and key; with neither, a self-signed pair is made under storage.dir on first start. */
        certFile: z.string().nullable().default(null),
        keyFile: z.string().nullable().default(null),
        minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
      })
      .strict()
      .prefault({}),
    security: z
      .object({
        /** Password sign-in on a connection without TLS: never | loopback | always. */
        allowPlaintextAuth: z.enum(['never', 'loopback', 'always']).default('loopback'),
        maxConnectionsPerIp: count(100),
        maxConnectionsPerAccount: count(20),
        maxConnectionsTotal: count(10000),
        /** First delay after a failed sign-in; doubles per failure up to the max. */
        authFailureDelayMs: ms(1000),
        authFailureMaxDelayMs: ms(15000),
        /** Failures are forgotten after this quiet time. */
        authFailureWindowMs: ms(15 * 60 * 1000),
        /** Concurrent sign-in attempts (password hashing) per IP. */
        maxConcurrentAuthPerIp: count(4),
        /**
         * Guessing one account from many addresses: once an account has this many wrong
         * passwords within accountGuardWindowMs (whoever sent them; a successful sign-in does not
         * clear them), sign-ins to it from networks it has not signed in from in 90 days are
         * checked at most once per accountGuardIntervalMs (the others are refused unchecked).
         * Networks it has used are never held back. 0 = off.
         */
        accountGuardFailures: z.number().int().nonnegative().default(20),
        accountGuardWindowMs: ms(60 * 60 * 1000),
        accountGuardIntervalMs: ms(10_000),
        /**
         * Reverse proxies in front of the HTTP listener (addresses or CIDR blocks). A request
         * from one of them is taken to come from the last X-Forwarded-For address, over TLS when
         * X-Forwarded-Proto is https (the portal then accepts passwords under allowPlaintextAuth).
         * Other clients' X-Forwarded-* headers are ignored.
         */
        trustedProxies: z
          .array(z.string().refine((v) => isIpOrCidr(v), 'expected an IP address or a CIDR block such as 172.16.0.0/12'))
          .default([]),
        /**
         * Who may read /metrics (addresses or CIDR blocks; through a trusted proxy, the client it
         * forwards): loopback and the private networks a monitoring server sits on, by default.
         */
        metricsAllow: z
          .array(z.string().refine((v) => isIpOrCidr(v), 'expected an IP address or a CIDR block such as 10.0.0.0/8'))
          .default(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
        /**
         * The administrators' page (/admin) lets in only administrators with two-factor sign-in
         * on (R-AUTH-3); one without it is sent to /portal/security first. false: the password
         * alone will do (tests, or a deployment before its administrators have enrolled).
         */
        adminRequiresTwoFactor: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /**
     * Sign-in codes by SMS (R-AUTH-3; NA: OTP by SMS). `command` is the program that sends one
     * message, as an argument list (no shell): `{phone}` and `{text}` in it are replaced, and the
     * two are also in its environment (BUUDIEN_SMS_PHONE, BUUDIEN_SMS_TEXT); exit 0 = sent.
     * null: no SMS (accounts then cannot have SMS two-factor sign-in turned on).
     */
    sms: z
      .object({
        command: z
          .array(z.string().min(1))
          .min(1)
          .refine((c) => path.isAbsolute(c[0] ?? '') || !(c[0] ?? '').includes('/'), 'expected the program as an absolute path or a name found on PATH')
          .nullable()
          .default(null),
        /** The program (its whole process group) is killed after this long: the send counts as failed. */
        timeoutMs: z.number().int().min(1000).default(15_000),
        /** How long a code is good for. */
        codeTtlMs: z.number().int().min(60_000).default(5 * 60 * 1000),
        /** A new code is sent no sooner than this after the last (which stays good). */
        resendAfterMs: ms(60 * 1000),
        /** Messages per account in any 24 hours. */
        maxPerAccountPerDay: count(10),
        /**
         * "Forgot password" on /portal/forgot (R-AUTH-4): a personal account resets its password
         * with a code sent to its phone on file (needs `command`). Off by default: it makes the
         * phone on file a way in, so turn it on once the phone numbers are the users' own.
         */
        passwordReset: z.boolean().default(false),
        /** Reset codes the whole server sends in any 24 hours (an SMS costs money); past it, none until the day rolls on. */
        maxPasswordResetsPerDay: count(200),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        /** R-STORE-2: each attachment, decoded. */
        maxAttachmentBytes: bytes(20 * MiB),
        /** Whole message on the wire; must fit a base64-encoded maximum attachment (×4/3 + headers). */
        maxMessageBytes: bytes(32 * MiB),
        maxRecipientsPerMessage: count(200),
        maxHeaderLineBytes: bytes(998 * 4),
        maxHeaderBytes: bytes(1 * MiB),
        maxMimeDepth: count(100),
        maxMimeParts: count(10000),
        maxAddressesPerHeader: count(1000),
      })
      .strict()
      .prefault({}),
    smtp: z
      .object({
        idleTimeoutMs: ms(5 * 60 * 1000),
        maxBadCommands: count(10),
        maxConnectionsPerIp: count(50),
        maxCommandLineBytes: bytes(4096),
        /** Loop detection (RFC 5321 §6.3): a message with more Received fields than this → 554 5.4.6. */
        maxReceivedHeaders: count(100),
        /** A command line must be complete within this long of its first byte (a slow drip) → 421 4.4.2. */
        commandTimeoutMs: ms(60 * 1000),
        /** A connection lasts at most this long → 421 4.4.2 at its next command (or on the timer). */
        maxSessionMs: ms(30 * 60 * 1000),
        /**
         * Memory all messages being received together may use past 256 KB each; beyond it a
         * message being received is spooled to storage.dir/tmp (fewer disk writes for a few big
         * messages at a time, bounded memory for many).
         */
        receiveMemoryBytes: bytes(4 * MiB),
        /** What to do with mail whose sender domain publishes DMARC p=reject and fails: reject | flag. */
        dmarcRejectAction: z.enum(['reject', 'flag']).default('reject'),
        /** Check SPF/DKIM/DMARC on inbound mail (needs DNS). */
        checkAuthentication: z.boolean().default(true),
        /**
         * Where mail for <postmaster> and postmaster@<any served domain> goes when no account or
         * alias has that address (RFC 5321 §4.5.1): an address in a served domain; null = the
         * first super-administrator (admin@<first domain>, made at first start).
         */
        postmasterAddress: z
          .string()
          .regex(/^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9.-]+$/, 'expected a lower-case address such as quantri@example.gov.vn')
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    imap: z
      .object({
        maxLineBytes: bytes(64 * 1024),
        maxNestingDepth: count(16),
        maxItemsPerCommand: count(10000),
        /** Before sign-in: a client that says nothing is dropped after this. */
        loginTimeoutMs: ms(60 * 1000),
        /** After sign-in (RFC 9051 §5.4: at least 30 minutes). */
        idleTimeoutMs: ms(31 * 60 * 1000),
        /** "* OK Still here" during IDLE, so NAT boxes keep the connection. */
        idleKeepaliveMs: ms(2 * 60 * 1000),
        /**
         * How often a signed-in session (an IDLE one included) checks that its sign-in still
         * holds: the account still active, its password (or the app password used) unchanged.
         * A reset, suspension or removed app password ends open sessions within this time.
         */
        signInCheckMs: ms(60 * 1000),
      })
      .strict()
      .prefault({}),
    pop3: z
      .object({
        maxLineBytes: bytes(512),
        maxBadCommands: count(10),
        /** RFC 1939 §3: at least 10 minutes. */
        idleTimeoutMs: ms(10 * 60 * 1000),
        /** From connecting to signing in, however busy the client (as imap.loginTimeoutMs); 0 = none. */
        loginTimeoutMs: ms(60 * 1000),
        /**
         * A signed-in session checks that its sign-in still holds (as imap.signInCheckMs) before
         * a command when the last check is older than this, and always before QUIT applies
         * deletions; 0 = before every command. One that no longer holds ends without deleting.
         */
        signInCheckMs: ms(60 * 1000),
      })
      .strict()
      .prefault({}),
    quota: z
      .object({
        /** R-STORE-1 defaults by account kind; each account may override. */
        personalBytes: bytes(2 * GiB),
        unitBytes: bytes(10 * GiB),
        adminBytes: bytes(2 * GiB),
        /** R-STORE-3: one warning mail at each threshold. */
        warnPercent: z.array(z.number().int().min(1).max(100)).default([80, 90, 95]),
      })
      .strict()
      .prefault({}),
    naming: z
      .object({
        /**
         * R-ADDR-3 personal address template. Placeholders: {given} given name in full,
         * {initials} first letters of family and middle names, {unit} the unit's address code.
         * NA: "{given}{initials}" → longnv; NB: "{given}{initials}.{unit}" → longnv.stttt.
         */
        personalTemplate: z.string().default('{given}{initials}'),
        /** R-ADDR-2: a sub-unit's address is "<code>.<parent>"; false = the code alone. */
        subUnitJoinsParent: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    passwords: z
      .object({
        /** R-AUTH-1. */
        userMinLength: count(8),
        adminMinLength: count(10),
        requireLower: z.boolean().default(true),
        requireUpper: z.boolean().default(true),
        requireDigit: z.boolean().default(true),
        requireSpecial: z.boolean().default(true),
        specialCharacters: z.string().min(1).default('!@#%$*&'),
        /** R-AUTH-2 rotation (NA: 90 days for everyone; NB: 180 for users). */
        userMaxAgeDays: count(90),
        adminMaxAgeDays: count(90),
        /** Where users are told to change an expired password. */
        /** Where users change their password: the portal (/portal on the HTTP listener) as published through an HTTPS proxy. */
        changeUrl: z.string().default('https://mail.example.gov.vn/portal'),
      })
      .strict()
      .prefault({}),
    lifecycle: z
      .object({
        /** R-ACC-3: no sign-in for this long → suspended (184 days: six months, however they fall, e.g. 1 July to 1 January). */
        inactiveSuspendDays: count(184),
        /** R-ACC-5 NA: suspended this long in a row → deleted (calendar days; 184: six months whichever they are). */
        deleteAfterSuspendedDays: count(184).nullable(),
        /** R-ACC-5 NB: working days after the suspension notice → deleted (null = not used). */
        deleteAfterNoticeWorkingDays: z.number().int().positive().nullable().default(null),
        /** Public holidays (YYYY-MM-DD) skipped when counting working days. */
        holidays: z.array(calendarDate).default([]),
      })
      .strict()
      .prefault({}),
    sendLog: z
      .object({
        /** R-LOG-1: at least 6 months (184 days, the longest six months: 1 July to 1 January); less is a config error. */
        retentionDays: z.number().int().min(184, 'expected at least 184 days (R-LOG-1: six months, 184 days at the longest)').default(365),
      })
      .strict()
      .prefault({}),
    backup: z
      .object({
        /** R-OPS-1: where backups go, on another storage device (a folder per backup). null = no scheduled backups. */
        dir: z.string().min(1).nullable().default(null),
        /** Complete backups kept in `dir`; older ones are removed after each successful backup (8 = two months of weekly ones). */
        keep: z.number().int().min(1, 'expected at least 1 (the backup just made is always kept)').default(8),
        /** `serve` makes a backup when the newest in `dir` is this old (R-OPS-1: at least weekly). */
        intervalDays: z.number().int().min(1).max(7, 'expected at most 7 days (R-OPS-1: backups at least weekly)').default(7),
      })
      .strict()
      .prefault({}),
    delivery: z
      .object({
        /** Outbound routing overrides: "domain" or "*" → "host:port" (tests point "*" at a local sink). */
        routes: z.record(z.string(), z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port')).default({}),
        /** Delays between attempts; the last one repeats until maxQueueAgeMs. */
        retryScheduleMs: z.array(z.number().int().positive()).min(1).default([5 * 60e3, 15 * 60e3, 30 * 60e3, 60 * 60e3, 2 * 3600e3, 4 * 3600e3]),
        maxQueueAgeMs: ms(5 * 24 * 3600e3),
        delayNoticeAfterMs: ms(4 * 3600e3),
        connectTimeoutMs: ms(30e3),
        concurrency: count(8),
        /** DKIM selector used when signing outbound mail (keys from `buudien dkim generate`). */
        dkimSelector: z.string().regex(DKIM_SELECTOR).default('buudien'),
        /** Check the queue for due messages this often. */
        queuePollMs: ms(1000),
      })
      .strict()
      .prefault({}),
    policy: z
      .object({
        /** Rules in the order they run, each with its action (reject | flag | quarantine | off). */
        rules: z
          .array(z.object({ name: z.string().min(1), action: ruleAction }).strict())
          .default([
            { name: 'executables', action: 'reject' },
            { name: 'encrypted-archives', action: 'flag' },
            { name: 'attachment-size', action: 'reject' },
            { name: 'classified', action: 'reject' },
            { name: 'official-documents', action: 'flag' },
            { name: 'unicode', action: 'flag' },
            { name: 'malware', action: 'reject' },
            { name: 'spam', action: 'flag' },
            { name: 'auto-forward', action: 'flag' },
          ]),
        /** Rule time-out: a rule that takes longer defers the message (451 4.3.0). */
        ruleTimeoutMs: ms(30e3),
        executableExtensions: z.array(z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'expected an extension without the dot, lower case')).default(DEFAULT_EXECUTABLE_EXTENSIONS),
        archiveMaxDepth: count(3),
        archiveMaxEntries: count(10000),
        archiveMaxExpandedBytes: bytes(200 * MiB),
        archiveMaxRatio: count(200),
        encryptedArchiveSubjectTag: z.string().default('[Tệp nén có mật khẩu / Encrypted archive]'),
        /**
         * R-POL-7: PEM files of the certification authorities whose certificates make a PDF's
         * signature count (rule official-documents); empty: any certificate the signature holds with.
         */
        signingAuthorities: z.array(z.string().min(1)).default([]),
        /** R-POL-5: forwarding allowed only to these (domains or *.suffix). Local domains are always allowed. */
        forwardAllowlist: z.array(z.string()).default(['*.gov.vn']),
        clamd: z
          .object({ socket: z.string().optional(), host: z.string().optional(), port: z.number().int().optional(), failOpen: z.boolean().default(false) })
          .strict()
          .nullable()
          .default(null),
        rspamd: z
          .object({ url: z.string(), junkScore: z.number().default(6), rejectScore: z.number().default(15), password: z.string().optional() })
          .strict()
          .nullable()
          .default(null),
        /** Per-account sending limits so a compromised account cannot spray. */
        maxMessagesPerHour: count(200),
        /** Recipients one signed-in account may give one message (submission); over it → 451 4.7.1 and a notice. Kept below limits.maxRecipientsPerMessage, the hard protocol cap. */
        maxRecipientsPerMessage: count(100),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const pm = c.smtp.postmasterAddress;
    if (pm !== null && !c.domains.includes(pm.slice(pm.lastIndexOf('@') + 1))) {
      ctx.addIssue({
        code: 'custom',
        path: ['smtp', 'postmasterAddress'],
        message: `expected an address in one of the served domains (${c.domains.join(', ')}), got ${JSON.stringify(pm)}`,
      });
    }
    // A base64-encoded maximum attachment must fit in a message (SECURITY-NOTES: SIZE ≥ 4/3 × attachment).
    const needed = Math.ceil((c.limits.maxAttachmentBytes * 4) / 3) + 64 * 1024;
    if (c.limits.maxMessageBytes < needed) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'maxMessageBytes'],
        message: `expected at least ${needed} (a base64-encoded limits.maxAttachmentBytes must fit), got ${c.limits.maxMessageBytes}`,
      });
    }
    // The regulations' floors and ceilings (REQUIREMENTS.md): a province may be stricter, never laxer.
    const floors: Array<[string[], number, number, string]> = [
      [['quota', 'personalBytes'], c.quota.personalBytes, QUOTA_FLOOR_BYTES.personal, 'at least 2 GB (R-STORE-1)'],
      [['quota', 'adminBytes'], c.quota.adminBytes, QUOTA_FLOOR_BYTES.personal, 'at least 2 GB (R-STORE-1)'],
      [['quota', 'unitBytes'], c.quota.unitBytes, QUOTA_FLOOR_BYTES.unit, 'at least 10 GB (R-STORE-1)'],
      [['passwords', 'userMinLength'], c.passwords.userMinLength, 8, 'at least 8 (R-AUTH-1)'],
      [['passwords', 'adminMinLength'], c.passwords.adminMinLength, 10, 'at least 10 (R-AUTH-1)'],
    ];
    for (const [path, value, min, what] of floors) {
      if (value < min) ctx.addIssue({ code: 'custom', path, message: `expected ${what}, got ${value}` });
    }
    // R-AUTH-1: every password has lower case, upper case, a digit and a special character.
    for (const key of ['requireLower', 'requireUpper', 'requireDigit', 'requireSpecial'] as const) {
      if (!c.passwords[key]) {
        ctx.addIssue({
          code: 'custom',
          path: ['passwords', key],
          message: bi(
            'cần true (R-AUTH-1: mật khẩu có chữ thường, chữ in hoa, chữ số và ký tự đặc biệt), không phải false',
            'expected true (R-AUTH-1: passwords have lower case, upper case, a digit and a special character), got false',
          ),
        });
      }
    }
    // R-AUTH-2: administrators change their password every 3 months, users every 3 (NA) or 6 (NB) months.
    const ceilings: Array<[string, number, number, string, string]> = [
      ['adminMaxAgeDays', c.passwords.adminMaxAgeDays, PASSWORD_MAX_AGE_CEILING_DAYS.admin, 'quản trị đổi mật khẩu 3 tháng một lần', 'administrators every 3 months'],
      ['userMaxAgeDays', c.passwords.userMaxAgeDays, PASSWORD_MAX_AGE_CEILING_DAYS.user, 'người dùng tối đa 6 tháng một lần', 'users at least every 6 months'],
    ];
    for (const [key, value, max, vi, en] of ceilings) {
      if (value > max) {
        ctx.addIssue({
          code: 'custom',
          path: ['passwords', key],
          message: bi(`cần tối đa ${max} ngày (R-AUTH-2: ${vi}), không phải ${value}`, `expected at most ${max} days (R-AUTH-2: ${en}), got ${value}`),
        });
      }
    }
    if (c.limits.maxAttachmentBytes > 20 * MiB) {
      ctx.addIssue({ code: 'custom', path: ['limits', 'maxAttachmentBytes'], message: `expected at most 20 MB (R-STORE-2), got ${c.limits.maxAttachmentBytes}` });
    }
    // Two enabled listeners on one port (port 0 = any free port) would fail at start with
    // EADDRINUSE; say so here, where every problem is listed (a wildcard host overlaps every host).
    const seen: Array<[string, { host: string; port: number }]> = [];
    for (const [name, l] of Object.entries(c.listeners)) {
      if (!l.enabled || l.port === 0) continue;
      const wildcard = (h: string): boolean => h === '0.0.0.0' || h === '::' || h === '';
      const clash = seen.find(([, o]) => o.port === l.port && (o.host === l.host || wildcard(o.host) || wildcard(l.host)));
      if (clash) {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', name, 'port'],
          message: `expected a port no other listener uses, got ${l.port} (listeners.${clash[0]} has it too)`,
        });
      }
      seen.push([name, l]);
    }
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ListenerName = keyof Config['listeners'];
export type RuleAction = z.output<typeof ruleAction>;
