-- Live chat. A chat is held in a department that the admin offers for
-- chat; its transcript becomes a ticket of that department (channel
-- `chat`). Messages and changes are stored before anyone is told of them:
-- each node follows `chat_events` (woken by PostgreSQL's NOTIFY), so a
-- node that dies loses nothing and a client that reconnects elsewhere
-- resumes after the last event it got.

-- Messages may come through chat. Loosening a CHECK leaves every stored
-- row valid and the file's format unchanged, so the table's definition is
-- edited in place (SQLite's documented way), not rebuilt; the CREATE
-- TABLEs below change the schema's version, so every connection reads the
-- new definition.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (channel IN (''web'', ''agent'', ''api'', ''email''))',
                       'CHECK (channel IN (''web'', ''agent'', ''api'', ''email'', ''chat''))')
WHERE type = 'table' AND name = 'ticket_messages';
PRAGMA writable_schema = RESET;

-- Each agent's availability for chat.
CREATE TABLE chat_agents (
    agent_id INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    availability TEXT NOT NULL CHECK (availability IN ('online', 'away', 'offline')),
    changed_at INTEGER NOT NULL
);

CREATE TABLE chats (
    id INTEGER PRIMARY KEY,
    -- SHA-256 of the secret the visitor's browser holds; the chat's only
    -- key on the visitor's side (ids sent by a client are never trusted).
    visitor_key_sha256 TEXT NOT NULL UNIQUE,
    department_id INTEGER NOT NULL REFERENCES departments (id),
    -- The user the visitor is (signed in, or found or made by address when
    -- the transcript is saved).
    person_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    visitor_name TEXT NOT NULL,
    visitor_email TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'active', 'ended')),
    agent_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    page_url TEXT NOT NULL,
    ip TEXT NOT NULL,
    ticket_id INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    accepted_at INTEGER,
    ended_at INTEGER
);
-- The queue (waiting chats) and the open ones, per department.
CREATE INDEX chats_open ON chats (state, department_id, id) WHERE state <> 'ended';
CREATE INDEX chats_person ON chats (person_id, id);

CREATE TABLE chat_messages (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    -- NULL for the visitor.
    agent_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    author_name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX chat_messages_chat ON chat_messages (chat_id, id);

-- What happened to chats, in commit order: `message` (message_id set),
-- `waiting`, `accepted`, `ended`.
CREATE TABLE chat_events (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    message_id INTEGER REFERENCES chat_messages (id) ON DELETE CASCADE,
    occurred_at INTEGER NOT NULL
);
CREATE INDEX chat_events_chat ON chat_events (chat_id, id);
