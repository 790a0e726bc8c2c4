/**
 * Mail-client autoconfiguration documents (CLIENT-NOTES.md):
 * - Thunderbird: /.well-known/autoconfig/mail/config-v1.1.xml (and autoconfig.<domain>/mail/config-v1.1.xml)
 * - Outlook: POST /autodiscover/autodiscover.xml (POX "outlook" response schema 2006a only; a
 *   request for another schema, such as a phone's ActiveSync "mobilesync", gets the Autodiscover
 *   error response, MS-OXDSCLI 2.2.4.1.1.3, so that the phone falls back to IMAP settings)
 * - Outlook's JSON variant: /autodiscover/autodiscover.json/v1.0/<email>?Protocol=AutodiscoverV1,
 *   whose protocol value is case-sensitive and which answers with the XML endpoint's URL.
 * Hosts and ports come from config: organization.hostname and the listeners' ports. An address
 * given in a request must be one of config.domains: for another domain (or no address at all in
 * it) Thunderbird gets 404 and Outlook the error response, never this server's settings.
 */
import { createHash } from 'node:crypto';
import type { Config, ListenerName } from '../config/schema.js';
import { bi } from '../lib/errors.js';
import { decodeEntities } from '../mail/html.js';

/** The port to tell clients for a listener: publicPort, else the port actually bound, else the configured one. */
export type PortOf = (name: ListenerName) => number;

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function xml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

/**
 * A plausible address or null (we only echo it back; sign-in is checked elsewhere). No control
 * characters (C0, DEL, C1) nor U+FFFE/U+FFFF: the address goes into XML, where they are not allowed.
 */
function cleanEmail(s: string | null | undefined): string | null {
  if (!s) return null;
  const t = s.trim();
  return /^[^\s@<>"\p{Cc}\uFFFE\uFFFF]{1,64}@[^\s@<>"\p{Cc}\uFFFE\uFFFF]{1,253}$/u.test(t) ? t : null;
}

/** The served domain of a request's address; with no address, the first served domain; null for an address not of a served domain. */
function servedDomain(config: Readonly<Config>, emailAddress: string | null): string | null {
  if (!emailAddress) return config.domains[0] ?? 'localhost';
  const d = cleanEmail(emailAddress)?.split('@')[1]?.toLowerCase();
  return d !== undefined && config.domains.includes(d) ? d : null;
}

/** Thunderbird's document; null (answer 404) when `emailAddress` is given and not an address of a served domain. */
export function autoconfigXml(config: Readonly<Config>, portOf: PortOf, emailAddress: string | null): string | null {
  const domain = servedDomain(config, emailAddress);
  if (domain === null) return null;
  const host = xml(config.organization.hostname);
  const l = config.listeners;
  const server = (tag: string, type: string, port: number, socket: string): string =>
    `    <${tag} type="${type}">\n      <hostname>${host}</hostname>\n      <port>${port}</port>\n      <socketType>${socket}</socketType>\n      <authentication>password-cleartext</authentication>\n      <username>%EMAILADDRESS%</username>\n    </${tag}>\n`;
  let servers = '';
  if (l.imaps.enabled) servers += server('incomingServer', 'imap', portOf('imaps'), 'SSL');
  if (l.imap.enabled) servers += server('incomingServer', 'imap', portOf('imap'), 'STARTTLS');
  if (l.pop3s.enabled) servers += server('incomingServer', 'pop3', portOf('pop3s'), 'SSL');
  if (l.pop3.enabled) servers += server('incomingServer', 'pop3', portOf('pop3'), 'STARTTLS');
  if (l.submissions.enabled) servers += server('outgoingServer', 'smtp', portOf('submissions'), 'SSL');
  if (l.submission.enabled) servers += server('outgoingServer', 'smtp', portOf('submission'), 'STARTTLS');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<clientConfig version="1.1">\n' +
    `  <emailProvider id="${xml(domain)}">\n` +
    config.domains.map((d) => `    <domain>${xml(d)}</domain>\n`).join('') +
    `    <displayName>${xml(config.organization.name)}</displayName>\n` +
    `    <displayShortName>${xml(domain)}</displayShortName>\n` +
    servers +
    '  </emailProvider>\n' +
    '</clientConfig>\n'
  );
}

const RESPONSE_2006 = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';
const OUTLOOK_2006A = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';
const MOBILESYNC_2006 = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';

/** The text of one element of a POX request (first one), entities decoded, trimmed; null if absent. */
function requestElement(body: string, name: string): string | null {
  // One bounded run of non-"<" between the tags, trimmed after: spaces matched by a pattern's
  // \s* on both sides of it made a tag followed by spaces quadratic (a 6 KB request held the
  // event loop, every protocol with it, for 15 s).
  const m = new RegExp(`<${name}>([^<]{1,400})</${name}>`, 'i').exec(body);
  // Decoded here and escaped once on the way out: "a&amp;b" in the request is the address a&b.
  return m?.[1] === undefined ? null : decodeEntities(m[1]).trim();
}

/**
 * The Autodiscover error response (MS-OXDSCLI 2.2.4.1.1.3; MS-ASCMD 2.2.3.64 for phones): 500 the
 * address is not served here, 600 invalid request, 601 no settings of the requested schema.
 */
function autodiscoverError(config: Readonly<Config>, code: 500 | 600 | 601, message: string, responseNs: string | null, now: Date): string {
  // Id: a hash of the server's name, as Exchange gives; Time: the time of day of the answer.
  const id = createHash('sha256').update(config.organization.hostname).digest().readUInt32BE(0);
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    `<Autodiscover xmlns="${RESPONSE_2006}">\n` +
    `  <Response${responseNs ? ` xmlns="${responseNs}"` : ''}>\n` +
    `    <Error Time="${now.toISOString().slice(11, 23)}" Id="${id}">\n` +
    `      <ErrorCode>${code}</ErrorCode>\n` +
    `      <Message>${xml(message)}</Message>\n` +
    '      <DebugData />\n' +
    '    </Error>\n' +
    '  </Response>\n' +
    '</Autodiscover>\n'
  );
}

/**
 * The answer to an Outlook POX request body: the IMAP/POP3/SMTP settings (outlook schema 2006a),
 * with the address as LoginName when it names one; the error response for a request of another
 * schema (an ActiveSync phone: it then falls back to IMAP) or an address not of a served domain.
 */
export function autodiscoverXml(config: Readonly<Config>, portOf: PortOf, body: string, now = new Date()): string {
  const schema = requestElement(body, 'AcceptableResponseSchema');
  if (schema !== null && schema !== OUTLOOK_2006A) {
    const ns = schema === MOBILESYNC_2006 ? MOBILESYNC_2006 : null;
    return autodiscoverError(config, 601, bi('Máy chủ này chỉ cung cấp cấu hình IMAP, POP3 và SMTP (không có Exchange ActiveSync)', 'This server provides IMAP, POP3 and SMTP settings only (no Exchange ActiveSync)'), ns, now);
  }
  const given = requestElement(body, 'EMailAddress');
  const email = cleanEmail(given);
  if (given && email === null) return autodiscoverError(config, 600, bi('Địa chỉ thư không hợp lệ', 'Invalid email address'), null, now);
  if (servedDomain(config, email) === null) return autodiscoverError(config, 500, bi('Máy chủ này không phục vụ tên miền của địa chỉ thư này', 'This server does not serve the domain of this email address'), null, now);
  const host = xml(config.organization.hostname);
  const l = config.listeners;
  const login = email ? `        <LoginName>${xml(email)}</LoginName>\n` : '';
  const protocol = (type: string, port: number, encryption: 'SSL' | 'TLS'): string =>
    '      <Protocol>\n' +
    `        <Type>${type}</Type>\n` +
    `        <Server>${host}</Server>\n` +
    `        <Port>${port}</Port>\n` +
    login +
    '        <DomainRequired>off</DomainRequired>\n' +
    '        <SPA>off</SPA>\n' +
    `        <Encryption>${encryption}</Encryption>\n` +
    '        <AuthRequired>on</AuthRequired>\n' +
    '      </Protocol>\n';
  let protocols = '';
  if (l.imaps.enabled) protocols += protocol('IMAP', portOf('imaps'), 'SSL');
  else if (l.imap.enabled) protocols += protocol('IMAP', portOf('imap'), 'TLS');
  if (l.pop3s.enabled) protocols += protocol('POP3', portOf('pop3s'), 'SSL');
  if (l.submissions.enabled) protocols += protocol('SMTP', portOf('submissions'), 'SSL');
  else if (l.submission.enabled) protocols += protocol('SMTP', portOf('submission'), 'TLS');
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">\n' +
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">\n' +
    '    <Account>\n' +
    '      <AccountType>email</AccountType>\n' +
    '      <Action>settings</Action>\n' +
    protocols +
    '    </Account>\n' +
    '  </Response>\n' +
    '</Autodiscover>\n'
  );
}

/** The JSON variant: only "AutodiscoverV1" (case-sensitive) is answered, with the XML endpoint's URL. */
export function autodiscoverJson(config: Readonly<Config>, url: URL): { status: number; body: Record<string, string> } {
  const protocol = url.searchParams.get('Protocol') ?? url.searchParams.get('protocol');
  if (protocol !== 'AutodiscoverV1') {
    return {
      status: 400,
      body: { ErrorCode: 'ProtocolNotSupported', ErrorMessage: `The given protocol value '${protocol ?? ''}' is invalid. Supported values are 'AutodiscoverV1'` },
    };
  }
  return {
    status: 200,
    body: { Protocol: 'AutodiscoverV1', Url: `https://${config.organization.hostname}/autodiscover/autodiscover.xml` },
  };
}
