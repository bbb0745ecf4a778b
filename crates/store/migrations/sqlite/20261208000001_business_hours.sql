-- Business-hours calendars: a name, a time zone (IANA name), the weekly
-- hours (a JSON array of seven texts, Monday first, such as
-- "09:00-12:00, 13:00-17:00"; empty for a day off) and the holidays (one a
-- line, "2026-12-25" or "2026-12-25 yearly"). SLAs, escalations and rules
-- measure working time on them.
CREATE TABLE business_calendars (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_normalized TEXT NOT NULL UNIQUE,
    time_zone TEXT NOT NULL,
    weekly_hours TEXT NOT NULL,
    holidays TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
