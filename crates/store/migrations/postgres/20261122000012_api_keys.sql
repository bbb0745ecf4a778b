-- API keys (C13): each is bound to one agent and acts with that agent's
-- permissions, narrowed by its scope patterns. Only a hash of the secret is
-- kept; the id is public and names the key in logs and the admin list.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    -- Comma-separated patterns such as "tickets.*, -*.delete"; "*" for all.
    scopes TEXT NOT NULL,
    created_by_id BIGINT REFERENCES people (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_agent ON api_keys (agent_id);
