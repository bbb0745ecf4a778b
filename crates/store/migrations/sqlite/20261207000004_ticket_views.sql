-- Saved ticket lists: the list's filters (its own query string), the
-- columns shown, and the teams it is shared with (a JSON array of team
-- ids; empty keeps it to its owner).
CREATE TABLE ticket_views (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    filters TEXT NOT NULL,
    columns TEXT NOT NULL,
    team_ids TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ticket_views_by_owner ON ticket_views (owner_id);
