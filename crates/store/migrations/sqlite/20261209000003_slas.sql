-- SLAs: response and resolution targets measured in a calendar's working
-- time, applied to a ticket by criteria (the first SLA in the admins'
-- order whose criteria hold). Each target of a ticket is a row: when its
-- clock started, when it warns and is due, and its state; while the
-- ticket waits on the user the clock is paused with what was left.
CREATE TABLE slas (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    is_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE ticket_slas (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    sla_id INTEGER NOT NULL REFERENCES slas (id) ON DELETE CASCADE,
    -- first_response, next_response or resolution
    target TEXT NOT NULL CHECK (target IN ('first_response', 'next_response', 'resolution')),
    started_at INTEGER NOT NULL,
    warn_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    -- running, paused, met, failed, breaching (its breach job is queued)
    state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'met', 'failed', 'breaching')),
    -- While paused: the working time that was left to the warning and to
    -- the due time.
    left_to_warn INTEGER,
    left_to_due INTEGER,
    met_at INTEGER,
    PRIMARY KEY (ticket_id, target)
);
CREATE INDEX ticket_slas_due ON ticket_slas (due_at) WHERE state = 'running';

-- The earliest due time and warning of the ticket's running targets, for
-- the list's "SLA due" column, its order and its filters; the largest
-- number when none runs, so those sort last.
ALTER TABLE tickets ADD COLUMN sla_due_at INTEGER NOT NULL DEFAULT 9223372036854775807;
ALTER TABLE tickets ADD COLUMN sla_warn_at INTEGER NOT NULL DEFAULT 9223372036854775807;
CREATE INDEX tickets_sla_due ON tickets (sla_due_at, id);
