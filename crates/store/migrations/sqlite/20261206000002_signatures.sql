-- Each agent's signature (markdown), added to their replies from the agent
-- interface; empty uses the admin's default (the "replies" setting).
ALTER TABLE people ADD COLUMN signature_markdown TEXT NOT NULL DEFAULT '';
