-- A large received message's source is kept as a file in the attachment
-- store (by its SHA-256, like an attachment) instead of in its row: bound
-- into an INSERT, a 30 MB source was copied by the driver and by the
-- database, three times over in memory. `raw` is empty for those rows.
ALTER TABLE inbound_mails ADD COLUMN raw_sha256 TEXT REFERENCES blobs (sha256);
-- The sweep of unused files asks whether a received message keeps one.
CREATE INDEX inbound_mails_raw_sha256 ON inbound_mails (raw_sha256) WHERE raw_sha256 IS NOT NULL;
