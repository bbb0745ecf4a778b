-- What happened to tickets, in commit order, for the agents' live
-- updates: each write to a ticket adds a row in its own transaction, and
-- the event streams read what is new (and resume from a Last-Event-ID).
-- Rows older than a day are pruned.
CREATE TABLE ticket_events (
    -- AUTOINCREMENT: ids never come back after pruning, so a stream that
    -- resumes after an old id cannot take a new event for one it saw.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL,
    -- created, replied, noted, changed or merged
    kind TEXT NOT NULL,
    actor_id BIGINT,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX ticket_events_by_time ON ticket_events (occurred_at);
