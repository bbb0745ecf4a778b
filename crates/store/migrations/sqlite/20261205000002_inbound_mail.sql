-- Mail in: the accounts mail arrives at, every message received (its raw
-- source stored first, processed afterwards, kept when refused), and how
-- far IMAP fetching has come for each account.

CREATE TABLE email_accounts (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    address_normalized TEXT NOT NULL UNIQUE,
    -- Where its new tickets go; NULL: the default department.
    department_id INTEGER REFERENCES departments (id) ON DELETE SET NULL,
    transport TEXT NOT NULL CHECK (transport IN ('imap', 'pipe')),
    imap_host TEXT NOT NULL DEFAULT '',
    imap_port INTEGER NOT NULL DEFAULT 993,
    imap_security TEXT NOT NULL DEFAULT 'tls' CHECK (imap_security IN ('tls', 'starttls', 'none')),
    imap_user TEXT NOT NULL DEFAULT '',
    -- Sealed with the instance key, like the SMTP password.
    imap_password_sealed TEXT NOT NULL DEFAULT '',
    imap_folder TEXT NOT NULL DEFAULT 'INBOX',
    poll_seconds INTEGER NOT NULL DEFAULT 60,
    after_fetch TEXT NOT NULL DEFAULT 'seen' CHECK (after_fetch IN ('seen', 'move', 'delete')),
    move_to_folder TEXT NOT NULL DEFAULT '',
    is_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per IMAP account: the last UID stored (within its UIDVALIDITY),
-- and the lease of the node fetching it, so that one node fetches at a
-- time and another takes over when the lease lapses.
CREATE TABLE imap_fetch_state (
    account_id INTEGER PRIMARY KEY REFERENCES email_accounts (id) ON DELETE CASCADE,
    uid_validity INTEGER NOT NULL DEFAULT 0,
    last_uid INTEGER NOT NULL DEFAULT 0,
    -- The messages up to this UID have been marked, moved or deleted.
    acted_uid INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    last_fetch_at INTEGER
);

CREATE TABLE inbound_mails (
    id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES email_accounts (id) ON DELETE SET NULL,
    imap_uid_validity INTEGER,
    imap_uid INTEGER,
    raw BLOB NOT NULL,
    size INTEGER NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    sender TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'rejected')),
    reason TEXT NOT NULL DEFAULT '',
    ticket_id INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- While a node processes it: until when (so that two never do).
    processing_until INTEGER,
    received_at INTEGER NOT NULL,
    processed_at INTEGER
);
-- A message fetched twice (a crash between storing and marking it) is
-- stored once.
CREATE UNIQUE INDEX inbound_mails_imap ON inbound_mails (account_id, imap_uid_validity, imap_uid)
    WHERE imap_uid IS NOT NULL;
CREATE INDEX inbound_mails_state ON inbound_mails (state, received_at, id);
CREATE INDEX inbound_mails_message_id ON inbound_mails (message_id);
-- Flood limits count a sender's recent messages.
CREATE INDEX inbound_mails_sender ON inbound_mails (sender, received_at);
CREATE INDEX inbound_mails_account ON inbound_mails (account_id, received_at);

-- The mail a message came from, for "view original".
ALTER TABLE ticket_messages ADD COLUMN inbound_mail_id INTEGER REFERENCES inbound_mails (id) ON DELETE SET NULL;
