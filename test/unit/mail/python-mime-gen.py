# Generates random MIME messages with Python's email package (an independent writer and parser)
# for test/unit/mail/python-diff.test.ts: prints JSON [{raw, subject, parts: [{type, filename, payload, text}]}].
# Usage: python3 python-mime-gen.py SEED COUNT
import base64, json, random, sys
from email.message import EmailMessage
from email import policy, message_from_bytes

rnd = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
WORDS = ['Hồ sơ', 'báo cáo', 'Quyết định', 'đề nghị', 'tháng 11', 'Sở Nội vụ', 'plain', 'kế hoạch', 'café', 'naïve']

def text():
    return ' '.join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 30))) + '\n'

def build(depth):
    m = EmailMessage(policy=policy.SMTP)
    kind = rnd.random()
    if depth < 3 and kind < 0.35:
        m.set_content(text(), charset='utf-8', cte=rnd.choice(['quoted-printable', 'base64', '8bit']))
        for _ in range(rnd.randint(1, 3)):
            sub = rnd.random()
            if sub < 0.5:
                data = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 3000)))
                name = rnd.choice(WORDS) + rnd.choice(['.pdf', '.zip', '.docx', '.exe'])
                m.add_attachment(data, maintype='application', subtype=rnd.choice(['pdf', 'octet-stream', 'zip']), filename=name)
            elif sub < 0.8:
                latin = ['café', 'naïve', 'plain', 'Zoë', 'façade', '€uro']
                body = text() if rnd.random() < 0.4 else ' '.join(rnd.choice(latin) for _ in range(rnd.randint(1, 20))) + '\n'
                cs = 'utf-8'
                if all(ord(ch) < 256 for ch in body):
                    cs = rnd.choice(['utf-8', 'iso-8859-1'])
                elif all(ord(ch) < 256 or ch == '€' for ch in body):
                    cs = rnd.choice(['utf-8', 'windows-1252', 'iso-8859-15'])
                m.add_attachment(body, subtype=rnd.choice(['plain', 'csv']), filename=rnd.choice(WORDS) + '.txt', charset=cs)
            else:
                m.add_attachment(build(depth + 1))  # message/rfc822
    elif depth < 3 and kind < 0.55:
        m.set_content(text(), cte=rnd.choice(['quoted-printable', 'base64']))
        m.add_alternative('<p>' + text() + '</p>', subtype='html')
    else:
        m.set_content(text(), cte=rnd.choice(['quoted-printable', 'base64', '8bit', '7bit']) if rnd.random() < 0.9 else 'base64')
    m['Subject'] = text().strip()[:60].strip()
    m['From'] = f'{rnd.choice(WORDS)} <a{rnd.randint(1,99)}@nghean.gov.vn>'
    return m

def describe(m):
    out = []
    def walk(p):
        ct = p.get_content_type()
        entry = {'type': ct, 'filename': p.get_filename()}
        out.append(entry)
        if ct == 'message/rfc822':
            walk(p.get_payload(0))
        elif p.is_multipart():
            for c in p.iter_parts():
                walk(c)
        else:
            entry['payload'] = base64.b64encode(p.get_payload(decode=True) or b'').decode()
            if p.get_content_maintype() == 'text':
                entry['text'] = p.get_content()
    walk(m)
    return out

msgs = []
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 40):
    try:
        m = build(0)
        raw = m.as_bytes(policy=policy.SMTP.clone(utf8=False))
    except Exception as e:
        continue
    parsed = message_from_bytes(raw, policy=policy.default)
    msgs.append({'raw': base64.b64encode(raw).decode(), 'subject': str(parsed['Subject']), 'parts': describe(parsed)})
print(json.dumps(msgs))
