/**
 * Numbered schema migrations, applied in order at open inside one transaction each and
 * recorded in `schema_version`. Never edit a released migration: add the next number.
 *
 * Representation notes:
 * - Times are INTEGER milliseconds since the epoch.
 * - messages.flags is one space-separated TEXT column ("\Seen \Flagged $Junk"): listing
 *   100,000 rows reads one short string per row, no join.
 * - Envelope, body structure and the full-text row belong to the BLOB (same bytes, same parse),
 *   so a circular to 500 mailboxes stores them once. The full-text index lives in fts.db
 *   (migration 7, store/sqlite/fts.ts): its msg_fts.rowid = blobs.n.
 * - accounts.used_bytes is kept by triggers on messages (quota check is O(1)).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'init',
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE domains (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);

CREATE TABLE units (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL,
  address TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  parent_id INTEGER REFERENCES units(id),
  staff INTEGER,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX units_sibling_code ON units(ifnull(parent_id, 0), code);
CREATE INDEX units_code ON units(code);

CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,
  local_part TEXT NOT NULL,
  domain TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('personal', 'unit', 'admin')),
  role TEXT NOT NULL DEFAULT 'none' CHECK (role IN ('none', 'unit', 'super')),
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended', 'deleted')),
  state_reason TEXT,
  state_changed_at INTEGER,
  state_ref TEXT,
  full_name TEXT NOT NULL,
  title TEXT,
  phone TEXT,
  unit_id INTEGER REFERENCES units(id),
  quota_bytes INTEGER,
  password_hash TEXT NOT NULL,
  must_change INTEGER NOT NULL DEFAULT 0,
  password_changed_at INTEGER NOT NULL,
  totp_secret TEXT,
  created_at INTEGER NOT NULL,
  last_login_at INTEGER,
  used_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accounts_local_part ON accounts(local_part);
CREATE INDEX accounts_unit ON accounts(unit_id);

CREATE TABLE aliases (
  address TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL
);
CREATE INDEX aliases_account ON aliases(account_id);

CREATE TABLE delegations (
  unit_account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (unit_account_id, account_id)
) WITHOUT ROWID;
CREATE INDEX delegations_account ON delegations(account_id);

CREATE TABLE app_passwords (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX app_passwords_account ON app_passwords(account_id);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  ref TEXT,
  details TEXT
);
CREATE INDEX audit_at ON audit_log(at);
CREATE INDEX audit_actor ON audit_log(actor, at);
CREATE INDEX audit_target ON audit_log(target, at);

CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  special_use TEXT,
  subscribed INTEGER NOT NULL DEFAULT 1,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL DEFAULT 1,
  highest_modseq INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  UNIQUE (account_id, name)
);

CREATE TABLE blobs (
  n INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  data BLOB,
  envelope TEXT,
  structure TEXT,
  created_at INTEGER NOT NULL
);

CREATE TABLE messages (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  flags TEXT NOT NULL DEFAULT '',
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob_id);

CREATE TRIGGER messages_usage_add AFTER INSERT ON messages BEGIN
  UPDATE accounts SET used_bytes = used_bytes + NEW.size
   WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
END;
CREATE TRIGGER messages_usage_remove AFTER DELETE ON messages BEGIN
  UPDATE accounts SET used_bytes = used_bytes - OLD.size
   WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
END;

CREATE TABLE expunged (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

CREATE VIRTUAL TABLE msg_fts USING fts5(subject, "from", "to", cc, bcc, body, tokenize = 'trigram');

CREATE TABLE send_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  direction TEXT NOT NULL,
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  client_ip TEXT,
  account TEXT,
  message_id TEXT,
  size INTEGER,
  outcome TEXT NOT NULL,
  code INTEGER,
  text TEXT,
  findings TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX send_log_at ON send_log(at);
CREATE INDEX send_log_sender ON send_log(sender, at);
CREATE INDEX send_log_recipient ON send_log(recipient, at);
CREATE INDEX send_log_ip ON send_log(client_ip, at);

CREATE TABLE queue (
  id INTEGER PRIMARY KEY,
  sender TEXT NOT NULL,
  recipients TEXT NOT NULL,
  blob_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  claimed_until INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  delay_notice_sent INTEGER NOT NULL DEFAULT 0,
  account TEXT,
  message_id TEXT
);
CREATE INDEX queue_due ON queue(next_attempt_at);
CREATE INDEX queue_blob ON queue(blob_id);

CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  sender TEXT NOT NULL,
  recipients TEXT NOT NULL,
  blob_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  reason TEXT NOT NULL,
  direction TEXT NOT NULL
);
CREATE INDEX quarantine_blob ON quarantine(blob_id);

CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`,
  },
  {
    version: 2,
    name: 'deferred full-text indexing',
    sql: `
-- Full-text rows wait here (written in the delivery's commit) until the indexer moves them into
-- msg_fts, off the commit path; searchText drains it first, so search still sees every message.
CREATE TABLE fts_pending (
  n INTEGER PRIMARY KEY,
  subject TEXT NOT NULL,
  "from" TEXT NOT NULL,
  "to" TEXT NOT NULL,
  cc TEXT NOT NULL,
  bcc TEXT NOT NULL,
  body TEXT NOT NULL
);
`,
  },
  {
    version: 3,
    name: 'mailbox counters',
    sql: `
-- Per-mailbox counters kept by triggers: STATUS / SELECT answer in O(1) however big the mailbox.
ALTER TABLE mailboxes ADD COLUMN msg_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN msg_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN unseen_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN recent_count INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET
  msg_count = (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id),
  msg_bytes = (SELECT total(size) FROM messages m WHERE m.mailbox_id = mailboxes.id),
  unseen_count = (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id AND (instr(' ' || m.flags || ' ', ' \\Seen ') = 0)),
  recent_count = (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id AND (instr(' ' || m.flags || ' ', ' \\Recent ') > 0));
DROP TRIGGER messages_usage_add;
DROP TRIGGER messages_usage_remove;
CREATE TRIGGER messages_added AFTER INSERT ON messages BEGIN
  UPDATE mailboxes SET msg_count = msg_count + 1, msg_bytes = msg_bytes + NEW.size,
         unseen_count = unseen_count + (instr(' ' || NEW.flags || ' ', ' \\Seen ') = 0), recent_count = recent_count + (instr(' ' || NEW.flags || ' ', ' \\Recent ') > 0)
   WHERE id = NEW.mailbox_id;
  UPDATE accounts SET used_bytes = used_bytes + NEW.size
   WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
END;
CREATE TRIGGER messages_removed AFTER DELETE ON messages BEGIN
  UPDATE mailboxes SET msg_count = msg_count - 1, msg_bytes = msg_bytes - OLD.size,
         unseen_count = unseen_count - (instr(' ' || OLD.flags || ' ', ' \\Seen ') = 0), recent_count = recent_count - (instr(' ' || OLD.flags || ' ', ' \\Recent ') > 0)
   WHERE id = OLD.mailbox_id;
  UPDATE accounts SET used_bytes = used_bytes - OLD.size
   WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
END;
CREATE TRIGGER messages_flags AFTER UPDATE OF flags ON messages BEGIN
  UPDATE mailboxes SET unseen_count = unseen_count + (instr(' ' || NEW.flags || ' ', ' \\Seen ') = 0) - (instr(' ' || OLD.flags || ' ', ' \\Seen ') = 0),
         recent_count = recent_count + (instr(' ' || NEW.flags || ' ', ' \\Recent ') > 0) - (instr(' ' || OLD.flags || ' ', ' \\Recent ') > 0)
   WHERE id = NEW.mailbox_id;
END;
`,
  },
  {
    version: 4,
    name: 'rendered imap strings',
    sql: `
-- FETCH ENVELOPE / BODY / BODYSTRUCTURE strings rendered once at delivery (NULL for older rows:
-- FETCH renders those from the envelope and structure JSON).
ALTER TABLE blobs ADD COLUMN imap_envelope TEXT;
ALTER TABLE blobs ADD COLUMN imap_body TEXT;
ALTER TABLE blobs ADD COLUMN imap_bodystructure TEXT;
`,
  },
  {
    version: 5,
    name: 'recent mark',
    sql: `
-- \\Recent (RFC 3501 §2.3.2) belongs to a session, not to a message row: a message is recent to
-- the first session that learns of it with the mailbox selected read-write. One mark per mailbox
-- says who has been told: UIDs above recent_uid are still unclaimed; store.claimRecent hands
-- them to one session and moves the mark to UIDNEXT-1 (one small UPDATE). recent_count now
-- counts the messages above the mark (STATUS RECENT, EXAMINE), kept by the triggers below; the
-- \\Recent token that migration 3 counted was never meant to be stored and is removed.
-- Existing messages start as told (mark = UIDNEXT-1): an upgrade does not make a whole
-- mailbox recent.
ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER messages_added;
DROP TRIGGER messages_removed;
DROP TRIGGER messages_flags;
UPDATE messages SET flags = trim(replace(' ' || flags || ' ', ' \\Recent ', ' '))
 WHERE instr(' ' || flags || ' ', ' \\Recent ') > 0;
UPDATE mailboxes SET recent_uid = max(uidnext - 1, 0), recent_count = 0;
CREATE TRIGGER messages_added AFTER INSERT ON messages BEGIN
  UPDATE mailboxes SET msg_count = msg_count + 1, msg_bytes = msg_bytes + NEW.size,
         unseen_count = unseen_count + (instr(' ' || NEW.flags || ' ', ' \\Seen ') = 0),
         recent_count = recent_count + (NEW.uid > recent_uid)
   WHERE id = NEW.mailbox_id;
  UPDATE accounts SET used_bytes = used_bytes + NEW.size
   WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
END;
CREATE TRIGGER messages_removed AFTER DELETE ON messages BEGIN
  UPDATE mailboxes SET msg_count = msg_count - 1, msg_bytes = msg_bytes - OLD.size,
         unseen_count = unseen_count - (instr(' ' || OLD.flags || ' ', ' \\Seen ') = 0),
         recent_count = recent_count - (OLD.uid > recent_uid)
   WHERE id = OLD.mailbox_id;
  UPDATE accounts SET used_bytes = used_bytes - OLD.size
   WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
END;
CREATE TRIGGER messages_flags AFTER UPDATE OF flags ON messages BEGIN
  UPDATE mailboxes SET unseen_count = unseen_count + (instr(' ' || NEW.flags || ' ', ' \\Seen ') = 0) - (instr(' ' || OLD.flags || ' ', ' \\Seen ') = 0)
   WHERE id = NEW.mailbox_id;
END;
`,
  },
  {
    version: 6,
    name: 'queue dsn parameters',
    sql: `
-- RFC 3461 DSN parameters kept with a queued message: RET and ENVID of the transaction, and
-- NOTIFY/ORCPT per recipient as a JSON object {"recipient": {"notify": [..] | null, "orcpt": ".." | null}}
-- holding only the recipients that gave either. NULL / {} = none given (the defaults).
ALTER TABLE queue ADD COLUMN dsn_ret TEXT;
ALTER TABLE queue ADD COLUMN dsn_envid TEXT;
ALTER TABLE queue ADD COLUMN dsn_recipients TEXT NOT NULL DEFAULT '{}';
`,
  },
  {
    version: 7,
    name: 'full-text index in its own file',
    sql: `
-- The full-text index moves to fts.db, written by a worker thread (store/sqlite/fts.ts), so
-- trigram indexing leaves the event loop and the delivery's commit. buudien.db keeps only the
-- numbers of blobs whose index row is not yet on disk there; the store re-indexes those from
-- the bytes at start. After this upgrade that is every blob with a parsed envelope.
DROP TABLE fts_pending;
DROP TABLE msg_fts;
CREATE TABLE fts_todo (n INTEGER PRIMARY KEY);
INSERT INTO fts_todo (n) SELECT n FROM blobs WHERE envelope IS NOT NULL;
`,
  },
  {
    version: 8,
    name: 'sign-in history',
    sql: `
-- R-AUTH-5: every sign-in to an existing account, successful or not, through any protocol;
-- users see their recent ones, and a success from an address not seen before is unusual.
-- Kept as long as the send log (sendLog.retentionDays), pruned by the same job. Sign-ins alike
-- in all but time (account, UTC day, result, protocol, IP, method, app password, reason) share
-- one row with a count, the first and the last time: a mail program polling every few minutes
-- makes one row a day, not hundreds, and cannot push other sign-ins off a user's list.
CREATE TABLE signin_log (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  day INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  at INTEGER NOT NULL,
  count INTEGER NOT NULL DEFAULT 1,
  protocol TEXT NOT NULL,
  ip TEXT NOT NULL,
  -- the client's network (an IPv4 /24, an IPv6 /48): a success from one not seen is unusual
  network TEXT NOT NULL,
  ok INTEGER NOT NULL,
  method TEXT,
  app_password_id INTEGER,
  reason TEXT
);
CREATE INDEX signin_log_account ON signin_log(account_id, at);
CREATE INDEX signin_log_day ON signin_log(account_id, day);
CREATE INDEX signin_log_source ON signin_log(account_id, network, at) WHERE ok = 1;
CREATE INDEX signin_log_at ON signin_log(at);
`,
  },
  {
    version: 9,
    name: 'app password hints',
    sql: `
-- The first 4 of an app password's 16 letters, in clear: a sign-in checks the argon2 hash only
-- of the app passwords whose hint matches what was typed, so a wrong password costs one hash,
-- not one per app password (20 at most). The other 12 letters (about 55 bits) stay under argon2.
-- NULL for app passwords made before: those are always checked.
ALTER TABLE app_passwords ADD COLUMN hint TEXT;
`,
  },
  {
    version: 10,
    name: 'ids never given out twice',
    sql: `
-- SQLite gives a new row the highest id + 1, so deleting the newest mailbox or app password and
-- creating another gave its id out again. Sessions hold these ids (an IMAP session its selected
-- mailbox, a signed-in session the app password it used): a reused id could point a session of
-- one account at another account's new mailbox. The store now takes new ids from these marks.
INSERT OR IGNORE INTO meta (key, value) SELECT 'mailboxes.last_id', COALESCE(MAX(id), 0) FROM mailboxes;
INSERT OR IGNORE INTO meta (key, value) SELECT 'app_passwords.last_id', COALESCE(MAX(id), 0) FROM app_passwords;
`,
  },
  {
    version: 11,
    name: 'queue notices pending',
    sql: `
-- A recipient that is done (failed, or delivered with a success notice asked) but whose notice
-- could not be sent stays in queue.recipients so that the notice is tried again; it was tried
-- again as if still to be delivered. This JSON object marks such recipients, each with its line
-- of the notice as made: {"recipient": {"action": "failed", "status": "5.1.1", "diagnostic": ..,
-- "remoteMta": .., "originalRecipient": ..}}. They are never sent to again, only notified.
-- '{}' = every recipient still to be delivered (rows queued before cannot tell: tried as before).
ALTER TABLE queue ADD COLUMN notice_pending TEXT NOT NULL DEFAULT '{}';
`,
  },
  {
    version: 12,
    name: 'sms two-factor',
    sql: `
-- Two-factor sign-in by SMS codes to accounts.phone (R-AUTH-3; NA: OTP by SMS). 1 = on; a TOTP
-- secret, when set, is the account's method instead.
ALTER TABLE accounts ADD COLUMN sms_2fa INTEGER NOT NULL DEFAULT 0 CHECK (sms_2fa IN (0, 1));
`,
  },
  {
    version: 13,
    name: 'delegated sign-ins',
    sql: `
-- A delegate opens a unit mailbox with its own credentials (R-ACC-6). The sign-in is recorded
-- on both accounts: on the unit mailbox's row, via = the delegate's address; on the delegate's
-- row, opened = the unit mailbox's address. NULL on every other sign-in.
ALTER TABLE signin_log ADD COLUMN via TEXT;
ALTER TABLE signin_log ADD COLUMN opened TEXT;
`,
  },
  {
    version: 14,
    name: 'unit postal address',
    sql: `
-- The directory lists each unit's postal address (R-DIR-1: full name, title, unit, e-mail,
-- mobile, address). NULL: not given.
ALTER TABLE units ADD COLUMN postal_address TEXT;
`,
  },
  {
    version: 15,
    name: 'audit by action',
    sql: `
-- The usage report (R-OPS-2) reads a year's directory exports by action.
CREATE INDEX audit_action ON audit_log(action, at);
`,
  },
  {
    version: 16,
    name: 'running totals',
    sql: `
-- /metrics read buudien_storage_bytes and buudien_queue_depth by scanning blobs and queue at each
-- scrape (1.5 s with 2 million blobs, every protocol held meanwhile). One row per figure, kept by
-- triggers on every write (of any process), so a scrape reads two rows.
CREATE TABLE totals (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO totals (name, n) SELECT 'blobs.bytes', COALESCE(SUM(size), 0) FROM blobs;
INSERT INTO totals (name, n) SELECT 'queue.items', COUNT(*) FROM queue;
CREATE TRIGGER blobs_total_add AFTER INSERT ON blobs BEGIN
  UPDATE totals SET n = n + NEW.size WHERE name = 'blobs.bytes';
END;
CREATE TRIGGER blobs_total_remove AFTER DELETE ON blobs BEGIN
  UPDATE totals SET n = n - OLD.size WHERE name = 'blobs.bytes';
END;
CREATE TRIGGER blobs_total_resize AFTER UPDATE OF size ON blobs BEGIN
  UPDATE totals SET n = n - OLD.size + NEW.size WHERE name = 'blobs.bytes';
END;
CREATE TRIGGER queue_total_add AFTER INSERT ON queue BEGIN
  UPDATE totals SET n = n + 1 WHERE name = 'queue.items';
END;
CREATE TRIGGER queue_total_remove AFTER DELETE ON queue BEGIN
  UPDATE totals SET n = n - 1 WHERE name = 'queue.items';
END;
`,
  },
];
