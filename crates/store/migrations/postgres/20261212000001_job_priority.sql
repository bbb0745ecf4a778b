-- Jobs run in order of priority (lower first), then of due time. Turning
-- received mail into tickets comes first (priority 0): a queue of
-- thousands of receipts and notifications waiting for the mail relay must
-- not hold back the next customer's message. Everything else is 1.
ALTER TABLE jobs ADD COLUMN priority BIGINT NOT NULL DEFAULT 1;
-- Each priority's due jobs in order, read apart by the claim.
CREATE INDEX jobs_due_by_priority ON jobs (status, priority, run_at, id);
