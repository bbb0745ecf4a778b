-- People and organizations (several addresses per person, organization
-- managers) and the optional ticket priority list.

-- Every address of a person, the primary one (people.email) included, so
-- one address belongs to one person whichever of their addresses it is.
CREATE TABLE person_emails (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX person_emails_person ON person_emails (person_id, id);

INSERT INTO person_emails (person_id, email, email_normalized, created_at)
    SELECT id, email, email_normalized, created_at FROM people;

-- A new person's primary address is one of their addresses from the start;
-- a clash with someone's other address fails the insert as a duplicate.
CREATE TRIGGER people_primary_email AFTER INSERT ON people
BEGIN
    INSERT INTO person_emails (person_id, email, email_normalized, created_at)
        VALUES (NEW.id, NEW.email, NEW.email_normalized, NEW.created_at);
END;

-- Managers see their organization's tickets in the help center.
ALTER TABLE people ADD COLUMN is_organization_manager BOOLEAN NOT NULL DEFAULT 0;
-- The people list is sorted by name whatever the case.
CREATE INDEX people_by_name ON people (is_agent, lower(name), id);

CREATE INDEX tickets_organization ON tickets (organization_id, updated_at, id);
CREATE INDEX ticket_ccs_person ON ticket_ccs (person_id);

-- An optional priority list admins define (P1, P2, … or Low, High), apart
-- from the 1-10 urgency.
CREATE TABLE ticket_priorities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_normalized TEXT NOT NULL UNIQUE,
    position INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
ALTER TABLE tickets ADD COLUMN priority_id INTEGER REFERENCES ticket_priorities (id) ON DELETE SET NULL;

-- Ticket links mailed to users carry an access code derived from the
-- instance key, the ticket id and this number; raising it revokes every
-- code sent so far.
ALTER TABLE tickets ADD COLUMN access_generation INTEGER NOT NULL DEFAULT 0;

-- Help-center accounts that registered themselves: still to confirm
-- their address, or still to be let in by an agent. Either keeps them from
-- signing in; accounts made any other way have neither.
ALTER TABLE people ADD COLUMN verification_pending BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN approval_pending BOOLEAN NOT NULL DEFAULT 0;

-- One-time links that confirm a registration's address; only hashes kept.
CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX email_verifications_person ON email_verifications (person_id);
