-- Chat routing, colleagues and files.
--
-- Round robin: a waiting chat may be offered to one agent at a time
-- (`offered_agent_id`, since `offered_at`); past the admin's acknowledge
-- time it is offered to the next, and when every available agent has
-- been asked (`chat_offers`) anyone of the department may take it.
ALTER TABLE chats ADD COLUMN offered_agent_id INTEGER REFERENCES people (id) ON DELETE SET NULL;
ALTER TABLE chats ADD COLUMN offered_at INTEGER;
-- A signed-in user's chat may go into one of their open tickets.
ALTER TABLE chats ADD COLUMN attach_ticket_id INTEGER REFERENCES tickets (id) ON DELETE SET NULL;
-- The visitor asked for the transcript by mail.
ALTER TABLE chats ADD COLUMN transcript_wanted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX chats_offers_due ON chats (offered_at) WHERE state = 'waiting' AND offered_agent_id IS NOT NULL;
CREATE INDEX chats_ended ON chats (ended_at) WHERE state = 'ended';

CREATE TABLE chat_offers (
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    agent_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    offered_at INTEGER NOT NULL,
    PRIMARY KEY (chat_id, agent_id)
);

-- Agents the holder invited into a chat: they read and write in it too.
CREATE TABLE chat_guests (
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    agent_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (chat_id, agent_id)
);
CREATE INDEX chat_guests_agent ON chat_guests (agent_id);

-- When each agent was last offered a chat: round robin asks the one
-- who waited longest.
ALTER TABLE chat_agents ADD COLUMN last_offered_at INTEGER NOT NULL DEFAULT 0;

-- The agent an event is about: offered to, invited, transferred to.
ALTER TABLE chat_events ADD COLUMN agent_id INTEGER;

-- A message may carry a file (stored by content like an attachment).
ALTER TABLE chat_messages ADD COLUMN file_sha256 TEXT;
ALTER TABLE chat_messages ADD COLUMN file_name TEXT;
ALTER TABLE chat_messages ADD COLUMN file_type TEXT;
ALTER TABLE chat_messages ADD COLUMN file_size INTEGER;
CREATE INDEX chat_messages_file ON chat_messages (file_sha256) WHERE file_sha256 IS NOT NULL;
