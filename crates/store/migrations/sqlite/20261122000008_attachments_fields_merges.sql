-- Attachments as content-addressed blobs, custom ticket fields, merging and
-- manual locks.

-- One row per stored file body; the file lives in the data directory under
-- its SHA-256, never under a name an uploader chose.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE ticket_attachments (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES ticket_messages (id) ON DELETE CASCADE,
    blob_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    -- The uploader's name, shown and offered on download only.
    file_name TEXT NOT NULL,
    -- Detected from the content: an image type we show inline, or
    -- application/octet-stream for everything else.
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ticket_attachments_message ON ticket_attachments (message_id, id);
CREATE INDEX ticket_attachments_blob ON ticket_attachments (blob_sha256);

-- A merged ticket keeps its row (its reference then leads to the ticket it
-- went into) but holds no messages any more.
ALTER TABLE tickets ADD COLUMN merged_into_id INTEGER REFERENCES tickets (id);
ALTER TABLE tickets ADD COLUMN locked_by_id INTEGER REFERENCES people (id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN locked_until INTEGER;

CREATE TABLE ticket_fields (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN
        ('text', 'multiline', 'number', 'date', 'checkbox', 'choice', 'multiple_choice')),
    -- The choices of the two choice kinds, one per line.
    choices TEXT NOT NULL DEFAULT '',
    is_required BOOLEAN NOT NULL DEFAULT FALSE,
    visible_to_users BOOLEAN NOT NULL DEFAULT FALSE,
    position INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- Values in a canonical text form per kind: numbers as written back by the
-- parser, dates as YYYY-MM-DD, a checkbox as "1", several choices one per line.
CREATE TABLE ticket_field_values (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    field_id INTEGER NOT NULL REFERENCES ticket_fields (id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (ticket_id, field_id)
);
CREATE INDEX ticket_field_values_field ON ticket_field_values (field_id, value);
