-- Triggers: rules run in the admins' order (`position`) on ticket events.
-- What a trigger watches for, its criteria and its actions are one JSON
-- document the application checks before it is written. `last_agent_id`
-- is where a round-robin assignment of the trigger left off.
CREATE TABLE triggers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    is_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    definition TEXT NOT NULL,
    last_agent_id INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX triggers_in_order ON triggers (position, id);
