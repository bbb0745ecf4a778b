-- Which notification mails each agent wants; an agent without a row gets
-- every kind.
CREATE TABLE agent_notification_preferences (
    person_id INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    new_ticket BOOLEAN NOT NULL,
    assigned BOOLEAN NOT NULL,
    user_reply BOOLEAN NOT NULL,
    mention BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at INTEGER NOT NULL
);
