/**
 * A real client's parser reads what we render: imapflow (a dev dependency) parses our
 * BODYSTRUCTURE and ENVELOPE into the tree Thunderbird-like clients work from. ASCII-only
 * fixtures (literals need imapflow's stream layer, covered by the protocol tests).
 */
import parser from 'imapflow/lib/handler/imap-parser.js';
import { formatMessageResponse } from 'imapflow/lib/tools.js';
import { describe, expect, it } from 'vitest';
import { renderBodyStructure, renderEnvelope } from '../../../src/mail/imap-render.js';
import { parseMessage } from '../../../src/mail/parse.js';

interface Node {
  part?: string;
  type: string;
  parameters?: Record<string, string>;
  disposition?: string;
  dispositionParameters?: Record<string, string>;
  size?: number;
  lineCount?: number;
  envelope?: { subject?: string };
  childNodes?: Node[];
}

async function clientView(raw: Buffer): Promise<{ bodyStructure: Node; envelope: { subject?: string; from?: Array<{ name?: string; address?: string }> } }> {
  const p = parseMessage(raw);
  const line = `* 1 FETCH (UID 5 BODYSTRUCTURE ${renderBodyStructure(p.structure, true)} ENVELOPE ${renderEnvelope(p.envelope)})`;
  const parsed = await parser(Buffer.from(line));
  const mailbox = { path: 'INBOX', delimiter: '/', flags: new Set<string>(), uidValidity: 1n, uidNext: 6, exists: 1 };
  return (await formatMessageResponse(parsed, mailbox)) as unknown as Awaited<ReturnType<typeof clientView>>;
}

describe('imapflow reads our BODYSTRUCTURE and ENVELOPE', () => {
  it('mixed: text, RFC 2231 attachment, forwarded message', async () => {
    const raw = Buffer.from(
      [
        'From: "Old, Man" <old@y.vn>',
        'Subject: =?utf-8?Q?Gi=E1=BA=A5y_m=E1=BB=9Di?=',
        'Content-Type: multipart/mixed; boundary=f',
        '',
        '--f',
        '',
        'FYI',
        '--f',
        "Content-Type: application/pdf; name*=utf-8''H%E1%BB%93%20s%C6%A1.pdf",
        "Content-Disposition: attachment; filename*0*=utf-8''H%E1%BB%93%20; filename*1*=s%C6%A1.pdf",
        '',
        'x',
        '--f',
        'Content-Type: message/rfc822',
        '',
        'Subject: inner',
        '',
        'inner',
        '--f--',
      ].join('\r\n'),
    );
    const v = await clientView(raw);
    expect(v.envelope.subject).toBe('Giấy mời');
    expect(v.envelope.from).toEqual([{ name: 'Old, Man', address: 'old@y.vn' }]);
    const s = v.bodyStructure;
    expect(s.type).toBe('multipart/mixed');
    const [text, pdf, fwd] = s.childNodes as [Node, Node, Node];
    expect(text).toMatchObject({ part: '1', type: 'text/plain', parameters: { charset: 'us-ascii' }, size: 3, lineCount: 1 });
    expect(pdf).toMatchObject({
      part: '2',
      type: 'application/pdf',
      parameters: { name: 'Hồ sơ.pdf' },
      disposition: 'attachment',
      dispositionParameters: { filename: 'Hồ sơ.pdf' },
    });
    expect(fwd).toMatchObject({ part: '3', type: 'message/rfc822', envelope: { subject: 'inner' }, lineCount: 3 });
    expect(fwd.childNodes?.[0]).toMatchObject({ type: 'text/plain', size: 5 });
  });

  it('nested alternative inside mixed, language and location', async () => {
    const raw = Buffer.from(
      [
        'Content-Type: multipart/mixed; boundary=o',
        '',
        '--o',
        'Content-Type: multipart/alternative; boundary=a',
        '',
        '--a',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Language: vi',
        '',
        't',
        '--a',
        'Content-Type: text/html; charset=utf-8',
        'Content-Location: http://x.vn/',
        '',
        '<b>t</b>',
        '--a--',
        '--o--',
      ].join('\r\n'),
    );
    const v = await clientView(raw);
    const alt = v.bodyStructure.childNodes?.[0] as Node;
    expect(alt.type).toBe('multipart/alternative');
    expect(alt.childNodes?.map((c) => [c.part, c.type])).toEqual([
      ['1.1', 'text/plain'],
      ['1.2', 'text/html'],
    ]);
  });
});
