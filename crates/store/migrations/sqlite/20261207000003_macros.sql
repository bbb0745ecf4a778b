-- Macros: a named bundle of ticket actions, an agent's own (owner_id) or
-- shared with every agent (owner_id NULL). The actions are the app's JSON
-- (status, urgency, priority, department, agent, team, labels to add and
-- remove, follow, and a reply or note from a snippet).
CREATE TABLE macros (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER REFERENCES people (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    actions TEXT NOT NULL,
    usage_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX macros_by_owner ON macros (owner_id);
