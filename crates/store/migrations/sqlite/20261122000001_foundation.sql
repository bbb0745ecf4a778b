-- Foundation: people, organizations, sessions, password resets, settings, error log.
-- Times are unix milliseconds; booleans are stored as 0/1.

CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_normalized TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT,
    is_agent BOOLEAN NOT NULL DEFAULT 0,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    is_disabled BOOLEAN NOT NULL DEFAULT 0,
    organization_id INTEGER REFERENCES organizations (id) ON DELETE SET NULL,
    password_changed_at INTEGER,
    last_login_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK (is_agent OR NOT is_admin)
);
CREATE INDEX people_organization ON people (organization_id);
CREATE INDEX people_agents ON people (is_agent, is_admin);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    surface TEXT NOT NULL CHECK (surface IN ('portal', 'staff')),
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX sessions_person ON sessions (person_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX password_resets_person ON password_resets (person_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE error_log (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX error_log_time ON error_log (occurred_at);
CREATE INDEX error_log_request ON error_log (request_id);
