-- Reports built and saved by agents: the builder's own query string (the
-- dataset, filters, groups, measure and chart), the teams it is shared
-- with (a JSON array of team ids; empty keeps it to its owner), and an
-- optional schedule: mailed weekly or monthly to chosen agents, read as
-- the agent who scheduled it sees it. next_run_at is when the schedule
-- next falls due (NULL: not scheduled).
CREATE TABLE saved_reports (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    team_ids TEXT NOT NULL DEFAULT '[]',
    schedule TEXT NOT NULL DEFAULT '' CHECK (schedule IN ('', 'weekly', 'monthly')),
    recipient_ids TEXT NOT NULL DEFAULT '[]',
    scheduled_by INTEGER REFERENCES people (id) ON DELETE SET NULL,
    next_run_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX saved_reports_by_owner ON saved_reports (owner_id);
CREATE INDEX saved_reports_due ON saved_reports (next_run_at) WHERE next_run_at IS NOT NULL;

-- The reports each agent keeps at the top of their list.
CREATE TABLE saved_report_favourites (
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    report_id INTEGER NOT NULL REFERENCES saved_reports (id) ON DELETE CASCADE,
    PRIMARY KEY (person_id, report_id)
);
