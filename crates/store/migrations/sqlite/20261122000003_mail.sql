-- Mail headers kept with each outbox row, and one-time links that either
-- reset a password or invite a new agent to choose their first one.

ALTER TABLE outbox ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';

ALTER TABLE password_resets ADD COLUMN purpose TEXT NOT NULL DEFAULT 'reset'
    CHECK (purpose IN ('reset', 'invitation'));
