-- The mails the helpdesk always sent (the receipt of a new request, the
-- agents' notifications of new tickets, customers' replies and
-- assignments) become triggers that admins can see, narrow, reword (the
-- "Ticket received" and "Agent notification" templates), or switch off.
-- They run first; triggers made before keep their order after them.
UPDATE triggers SET position = position + 4;
INSERT INTO triggers (name, position, is_enabled, definition, created_at, updated_at) VALUES
('Receipt to users who open a ticket', 1, TRUE,
 '{"events":["new_ticket"],"actors":["user"],"channels":[],"all":[],"any":[],"actions":[{"type":"send_receipt"}]}',
 CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
('Notify agents of new tickets', 2, TRUE,
 '{"events":["new_ticket"],"actors":[],"channels":[],"all":[],"any":[],"actions":[{"type":"notify_agents","notice":"new_ticket"}]}',
 CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
('Notify agents of customers'' replies', 3, TRUE,
 '{"events":["new_reply"],"actors":["user"],"channels":[],"all":[],"any":[],"actions":[{"type":"notify_agents","notice":"user_reply"}]}',
 CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
('Notify agents of assignments', 4, TRUE,
 '{"events":["ticket_updated"],"actors":[],"channels":[],"all":[],"any":[{"field":{"kind":"agent"},"operator":"changed","value":""},{"field":{"kind":"team"},"operator":"changed","value":""}],"actions":[{"type":"notify_agents","notice":"assigned"}]}',
 CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
