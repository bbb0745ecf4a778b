-- Account security controls: forced password changes, password history,
-- login lockouts shared by every node, the login log with a reverse-DNS
-- cache, login notification preferences, and the append-only audit log.

ALTER TABLE people ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN notify_login_success BOOLEAN NOT NULL DEFAULT 0;
-- A "remember me" session: kept across browser restarts, never admitted
-- to the admin interface.
ALTER TABLE sessions ADD COLUMN remembered BOOLEAN NOT NULL DEFAULT 0;

ALTER TABLE people ADD COLUMN notify_login_failure BOOLEAN NOT NULL DEFAULT 1;

-- Earlier password hashes, newest last; only the last N per person matter.
CREATE TABLE password_history (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX password_history_person ON password_history (person_id, id);

-- Failed logins per surface and normalized email, whether or not an account
-- has that email, so a lock-out tells nothing about which accounts exist.
CREATE TABLE login_lockouts (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER
);

CREATE TABLE login_log (
    id INTEGER PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    person_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    email TEXT NOT NULL,
    surface TEXT NOT NULL CHECK (surface IN ('portal', 'staff')),
    succeeded BOOLEAN NOT NULL,
    reason TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX login_log_time ON login_log (occurred_at);
CREATE INDEX login_log_person ON login_log (person_id, occurred_at);
CREATE INDEX login_log_ip ON login_log (ip, occurred_at);

-- Reverse DNS answers, forward-confirmed; hostname is NULL when the address
-- has no name or the name does not lead back to it. Any table with an IP
-- column (login log, ticket messages) shows hostnames by joining this.
CREATE TABLE ip_hostnames (
    ip TEXT PRIMARY KEY,
    hostname TEXT,
    resolved_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    actor_id INTEGER,
    actor TEXT NOT NULL,
    ip TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id INTEGER,
    target TEXT NOT NULL,
    before_value TEXT,
    after_value TEXT
);
CREATE INDEX audit_log_time ON audit_log (occurred_at);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id, id);

-- The audit log is append-only, whatever code runs against the database.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
