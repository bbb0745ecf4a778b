-- Ticket search: one document per ticket in three columns, kept by the
-- store in the transaction of every ticket write. `head` holds the
-- reference, subject, the requester's name and addresses, labels and field
-- values; `body` the replies the customer sees; `notes` the internal
-- notes. Contentless (the text stays in its own tables; snippets are cut
-- from it for the page shown), with deletes, so a ticket's document can be
-- replaced.
CREATE VIRTUAL TABLE ticket_search USING fts5(
    head,
    body,
    notes,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO ticket_search (rowid, head, body, notes)
    SELECT t.id,
        t.reference || ' ' || t.subject || ' ' || COALESCE(p.name, '')
            || ' ' || COALESCE((SELECT group_concat(e.email, ' ') FROM person_emails e WHERE e.person_id = t.requester_id), '')
            || ' ' || COALESCE((SELECT group_concat(l.label, ' ') FROM ticket_labels l WHERE l.ticket_id = t.id), '')
            || ' ' || COALESCE((SELECT group_concat(v.value, ' ') FROM ticket_field_values v WHERE v.ticket_id = t.id), ''),
        COALESCE((SELECT substr(group_concat(m.body_markdown, ' '), 1, 400000) FROM ticket_messages m WHERE m.ticket_id = t.id AND NOT m.is_note), ''),
        COALESCE((SELECT substr(group_concat(m.body_markdown, ' '), 1, 400000) FROM ticket_messages m WHERE m.ticket_id = t.id AND m.is_note), '')
    FROM tickets t LEFT JOIN people p ON p.id = t.requester_id;
