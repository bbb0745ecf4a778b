-- When the visitor's browser last showed it was there (a frame or an
-- answer to the server's ping): a chat not heard of for minutes is
-- abandoned, ended and saved.
ALTER TABLE chats ADD COLUMN visitor_seen_at INTEGER;
UPDATE chats SET visitor_seen_at = created_at;
