-- Tickets, their messages (replies and internal notes), labels, followers,
-- CC'd users and the log of property changes.

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    -- What people see and type; random, so one ticket tells nothing about
    -- how many others there are. The id stays internal.
    reference TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('awaiting_agent', 'awaiting_user', 'pending', 'resolved', 'archived', 'spam', 'deleted')),
    urgency INTEGER NOT NULL DEFAULT 1 CHECK (urgency BETWEEN 1 AND 10),
    department_id INTEGER NOT NULL REFERENCES departments (id),
    requester_id INTEGER NOT NULL REFERENCES people (id),
    organization_id INTEGER REFERENCES organizations (id) ON DELETE SET NULL,
    agent_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    team_id INTEGER REFERENCES teams (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    first_agent_reply_at INTEGER,
    resolved_at INTEGER
);
-- The agent list pages newest-updated first, by (updated_at, id) keyset,
-- within the filters below.
CREATE INDEX tickets_updated ON tickets (updated_at, id);
CREATE INDEX tickets_status ON tickets (status, updated_at, id);
CREATE INDEX tickets_department ON tickets (department_id, status, updated_at, id);
CREATE INDEX tickets_agent ON tickets (agent_id, status, updated_at, id);
CREATE INDEX tickets_team ON tickets (team_id, status, updated_at, id);
CREATE INDEX tickets_requester ON tickets (requester_id, updated_at, id);

CREATE TABLE ticket_labels (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    PRIMARY KEY (ticket_id, label)
);
CREATE INDEX ticket_labels_label ON ticket_labels (label, ticket_id);

CREATE TABLE ticket_followers (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, person_id)
);
CREATE INDEX ticket_followers_person ON ticket_followers (person_id, ticket_id);

CREATE TABLE ticket_ccs (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, person_id)
);

-- Replies (the requester sees them) and internal notes (agents only). The
-- HTML is rendered from the markdown when the message is written, with raw
-- HTML escaped and only safe link schemes kept.
CREATE TABLE ticket_messages (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    is_note BOOLEAN NOT NULL,
    body_markdown TEXT NOT NULL,
    body_html TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'agent', 'api', 'email')),
    ip TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

CREATE TABLE ticket_log (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    actor_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    actor TEXT NOT NULL,
    field TEXT NOT NULL,
    before_value TEXT,
    after_value TEXT,
    occurred_at INTEGER NOT NULL
);
CREATE INDEX ticket_log_ticket ON ticket_log (ticket_id, id);
