/** LOGIN and AUTHENTICATE PLAIN (with SASL-IR) through the one auth module (src/auth/). */
import { decodeSaslPlain, type SignInResult } from '../../auth/index.js';
import { bi } from '../../lib/errors.js';
import type { Session } from '../session.js';
import { ok, type Outcome } from '../state.js';
import { capabilities } from './registry.js';
import { NOT_AUTH, type CommandSpec } from './spec.js';

const FAILURE_CODES: Record<Extract<SignInResult, { ok: false }>['kind'], string> = {
  'bad-credentials': 'AUTHENTICATIONFAILED',
  // RFC 5530 §3: the credentials are right, but they do not let this user act as the authorization identity.
  'not-delegated': 'AUTHORIZATIONFAILED',
  deleted: 'AUTHENTICATIONFAILED',
  suspended: 'CONTACTADMIN',
  expired: 'EXPIRED',
  'must-change': 'EXPIRED',
  throttled: 'UNAVAILABLE',
  'plaintext-refused': 'PRIVACYREQUIRED',
};

function plaintextRefused(s: Session): Outcome | null {
  if (s.deps.auth.plaintextAllowed(s.ip, s.secure)) return null;
  s.deps.log.warn({ session: s.id, ip: s.ip, reason: 'plaintext sign-in without TLS' }, 'imap sign-in refused');
  return {
    kind: 'no',
    code: 'PRIVACYREQUIRED',
    text: bi('Hãy dùng STARTTLS trước khi đăng nhập', 'Use STARTTLS before signing in'),
  };
}

async function signIn(s: Session, username: string, password: string, authzid = ''): Promise<Outcome> {
  const r = await s.deps.auth.signIn({ username, password, authzid, protocol: 'imap', ip: s.ip, secure: s.secure });
  if (!r.ok) return { kind: 'no', code: FAILURE_CODES[r.kind], text: r.message };
  if (!s.signedIn(r.account, r.credential)) {
    s.deps.log.warn({ session: s.id, ip: s.ip, account: r.account.address, reason: 'too many connections for the account' }, 'imap sign-in refused');
    return {
      kind: 'no',
      code: 'LIMIT',
      text: bi('Tài khoản có quá nhiều kết nối đồng thời', 'Too many connections for this account'),
    };
  }
  s.deps.log.info({ session: s.id, account: r.account.address, ...(r.delegate ? { delegate: r.delegate.address } : {}), ip: s.ip }, 'imap sign-in');
  return ok(bi('Đăng nhập thành công', 'Signed in'), `CAPABILITY ${capabilities(s).join(' ')}`);
}

export const loginCommand: CommandSpec<'LOGIN'> = {
  states: NOT_AUTH,
  caps: (s) => (s.deps.auth.plaintextAllowed(s.ip, s.secure) ? [] : ['LOGINDISABLED']),
  async run(s, cmd) {
    return plaintextRefused(s) ?? signIn(s, cmd.username, cmd.password);
  },
};

async function plain(s: Session, b64: string): Promise<Outcome> {
  if (b64.trim() === '*') return { kind: 'no', bad: true, text: bi('Đã hủy xác thực', 'Authentication cancelled') };
  const creds = decodeSaslPlain(b64);
  if (!creds) return { kind: 'no', bad: true, text: bi('Dữ liệu SASL PLAIN không hợp lệ', 'Malformed SASL PLAIN response') };
  // An authorization identity names a unit mailbox to open as its delegate (R-ACC-6); the auth module decides.
  return signIn(s, creds.authcid, creds.password, creds.authzid);
}

export const authenticateCommand: CommandSpec<'AUTHENTICATE'> = {
  states: NOT_AUTH,
  caps: (s) => (s.deps.auth.plaintextAllowed(s.ip, s.secure) ? ['AUTH=PLAIN', 'SASL-IR'] : ['SASL-IR']),
  async run(s, cmd) {
    if (cmd.mechanism !== 'PLAIN') {
      return { kind: 'no', text: bi('Cơ chế xác thực không được hỗ trợ', 'Unsupported authentication mechanism') };
    }
    const refused = plaintextRefused(s);
    if (refused) return refused;
    // RFC 4959 §3: "=" is an empty initial response, processed like any other (it is no credentials).
    if (cmd.initialResponse !== null) return plain(s, cmd.initialResponse.toString('base64'));
    await s.write('+ \r\n');
    return { kind: 'line', onLine: (text) => plain(s, text) };
  },
};
