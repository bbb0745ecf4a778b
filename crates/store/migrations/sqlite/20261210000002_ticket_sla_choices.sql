-- The SLA an agent chose for a ticket, over the one the SLAs' criteria
-- would pick; no row means "by the criteria". Deleting the SLA returns
-- its tickets to their criteria.
CREATE TABLE ticket_sla_choices (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    sla_id INTEGER NOT NULL REFERENCES slas (id) ON DELETE CASCADE,
    chosen_at INTEGER NOT NULL
);
