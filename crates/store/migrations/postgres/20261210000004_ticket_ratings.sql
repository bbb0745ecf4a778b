-- Satisfaction ratings: a requester's answer to the survey in the
-- "resolved" mail, once per ticket, with an optional comment.
CREATE TABLE ticket_ratings (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    rating TEXT NOT NULL CHECK (rating IN ('good', 'bad')),
    comment TEXT NOT NULL DEFAULT '',
    person_id BIGINT REFERENCES people (id) ON DELETE SET NULL,
    rated_at BIGINT NOT NULL
);
CREATE INDEX ticket_ratings_time ON ticket_ratings (rated_at);
