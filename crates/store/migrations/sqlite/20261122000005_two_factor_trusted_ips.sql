-- Two-factor authentication (C10) and IP allow-listing (C7).

-- The TOTP secret is sealed with the instance key; NULL means 2FA is off.
-- A pending secret waits for its first code before it replaces nothing.
ALTER TABLE people ADD COLUMN totp_secret TEXT;
ALTER TABLE people ADD COLUMN totp_pending_secret TEXT;
ALTER TABLE people ADD COLUMN totp_enabled_at INTEGER;
-- The newest time step a code was accepted for: a code is good once.
ALTER TABLE people ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- Single-use recovery codes, hashed.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE UNIQUE INDEX recovery_codes_person_hash ON recovery_codes (person_id, code_hash);

-- A login whose password was right and whose second factor is awaited.
-- The token lives in a short-lived cookie; only its hash is here.
CREATE TABLE login_challenges (
    token_hash TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    surface TEXT NOT NULL CHECK (surface IN ('portal', 'staff')),
    remembered BOOLEAN NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX login_challenges_expiry ON login_challenges (expires_at);

-- Addresses an agent has confirmed through an emailed link, that an admin
-- trusted from the command line, or that the admin who turned the list on
-- was using, each until a time.
CREATE TABLE trusted_ips (
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    trusted_until INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('email', 'command_line', 'settings')),
    PRIMARY KEY (person_id, ip)
);

-- Single-use links that trust an address; only the token's hash is kept.
CREATE TABLE ip_verifications (
    token_hash TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX ip_verifications_person ON ip_verifications (person_id, ip);
