-- The ticket list sorts by any column. The numeric columns a busy desk
-- sorts by most (creation, urgency) get an index read from either end, so
-- their first pages cost what the default order does; the others sort
-- the rows the filters leave.
CREATE INDEX tickets_created ON tickets (created_at, id);
CREATE INDEX tickets_urgency ON tickets (urgency, id);
