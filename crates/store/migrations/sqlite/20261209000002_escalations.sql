-- Escalations: time-based rules ("awaiting user for 7 days → resolved").
-- Each ticket whose state one of them watches has a timer: when its clock
-- started (`basis_at`: when the ticket entered the state, or was opened)
-- and when it is due. The scheduler reads only due timers, through the
-- partial index, and a timer fires once for one basis: the state entered
-- again is a new basis and a new timer.
CREATE TABLE escalations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    is_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE escalation_timers (
    escalation_id INTEGER NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    basis_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'queued', 'done')),
    PRIMARY KEY (escalation_id, ticket_id)
);
CREATE INDEX escalation_timers_due ON escalation_timers (due_at) WHERE state = 'waiting';
CREATE INDEX escalation_timers_ticket ON escalation_timers (ticket_id);

-- When the ticket entered its status (NULL for tickets from before: their
-- last change stands in for it).
ALTER TABLE tickets ADD COLUMN status_since INTEGER;
