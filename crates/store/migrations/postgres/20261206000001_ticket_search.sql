-- Ticket search: one document per ticket, kept by the store in the
-- transaction of every ticket write. Weight A holds the reference,
-- subject, the requester's name and addresses, labels and field values;
-- B the replies the customer sees; C the internal notes (so a query can be
-- held to notes with `:C`). The 'simple' configuration (no stemming), as
-- for the help center's search. Only the vector is kept; snippets are cut
-- from the messages for the page shown.
CREATE TABLE ticket_search (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    document tsvector NOT NULL
);
CREATE INDEX ticket_search_document ON ticket_search USING GIN (document);
INSERT INTO ticket_search (ticket_id, document)
    SELECT t.id,
        setweight(to_tsvector('simple', t.reference || ' ' || t.subject || ' ' || COALESCE(p.name, '')
            || ' ' || COALESCE((SELECT string_agg(e.email, ' ') FROM person_emails e WHERE e.person_id = t.requester_id), '')
            || ' ' || COALESCE((SELECT string_agg(l.label, ' ') FROM ticket_labels l WHERE l.ticket_id = t.id), '')
            || ' ' || COALESCE((SELECT string_agg(v.value, ' ') FROM ticket_field_values v WHERE v.ticket_id = t.id), '')), 'A')
        || setweight(to_tsvector('simple', COALESCE((SELECT left(string_agg(m.body_markdown, ' ' ORDER BY m.id), 400000) FROM ticket_messages m WHERE m.ticket_id = t.id AND NOT m.is_note), '')), 'B')
        || setweight(to_tsvector('simple', COALESCE((SELECT left(string_agg(m.body_markdown, ' ' ORDER BY m.id), 400000) FROM ticket_messages m WHERE m.ticket_id = t.id AND m.is_note), '')), 'C')
    FROM tickets t LEFT JOIN people p ON p.id = t.requester_id;
