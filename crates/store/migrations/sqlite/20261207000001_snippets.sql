-- Snippets (canned replies): an agent's own (owner_id) or shared with every
-- agent (owner_id NULL), each with a shortcut typed in the reply box as
-- "/shortcut". Bodies are markdown with sandboxed template placeholders.
CREATE TABLE snippets (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER REFERENCES people (id) ON DELETE CASCADE,
    category TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    shortcut TEXT NOT NULL,
    body TEXT NOT NULL,
    usage_count BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One shortcut per agent among their own, and one among the shared.
CREATE UNIQUE INDEX snippets_own_shortcut ON snippets (owner_id, shortcut) WHERE owner_id IS NOT NULL;
CREATE UNIQUE INDEX snippets_shared_shortcut ON snippets (shortcut) WHERE owner_id IS NULL;
