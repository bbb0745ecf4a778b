-- Each person's time zone (an IANA name); empty uses the admin's default.
ALTER TABLE people ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
