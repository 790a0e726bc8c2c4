/**
 * Mail-client autoconfiguration documents (CLIENT-NOTES.md):
 * - Thunderbird: /.well-known/autoconfig/mail/config-v1.1.xml (and autoconfig.<domain>/mail/config-v1.1.xml)
 * - Outlook: POST /autodiscover/autodiscover.xml (POX "outlook" response schema 2006a)
 * - Outlook's JSON variant: /autodiscover/autodiscover.json/v1.0/<email>?Protocol=AutodiscoverV1,
 *   whose protocol value is case-sensitive and which answers with the XML endpoint's URL.
 * Hosts and ports come from config: organization.hostname and the listeners' ports.
 */
import type { Config, ListenerName } from '../config/schema.js';
import { decodeEntities } from '../mail/html.js';

/** The port to tell clients for a listener: publicPort, else the port actually bound, else the configured one. */
export type PortOf = (name: ListenerName) => number;

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function xml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

/** A plausible address or null (we only echo it back; sign-in is checked elsewhere). */
function cleanEmail(s: string | null | undefined): string | null {
  if (!s) return null;
  const t = s.trim();
  return /^[^\s@<>"]{1,64}@[^\s@<>"]{1,253}$/.test(t) ? t : null;
}

function domainOf(config: Readonly<Config>, email: string | null): string {
  const d = email?.split('@')[1]?.toLowerCase();
  return d && config.domains.includes(d) ? d : (config.domains[0] ?? 'localhost');
}

export function autoconfigXml(config: Readonly<Config>, portOf: PortOf, emailAddress: string | null): string {
  const email = cleanEmail(emailAddress);
  const domain = domainOf(config, email);
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

/** The EMailAddress element of an Outlook POX request, if any. */
export function emailFromAutodiscoverRequest(body: string): string | null {
  // One bounded run of non-"<" between the tags, trimmed after: spaces matched by a pattern's
  // \s* on both sides of it made a tag followed by spaces quadratic (a 6 KB request held the
  // event loop, every protocol with it, for 15 s).
  const m = /<EMailAddress>([^<]{1,400})<\/EMailAddress>/i.exec(body);
  // Decoded here and escaped once on the way out: "a&amp;b" in the request is the address a&b.
  return cleanEmail(m?.[1] === undefined ? null : decodeEntities(m[1].trim()));
}

export function autodiscoverXml(config: Readonly<Config>, portOf: PortOf, emailAddress: string | null): string {
  const email = cleanEmail(emailAddress);
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
