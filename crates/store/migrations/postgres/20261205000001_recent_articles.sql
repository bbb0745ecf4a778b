-- The help center's front page lists the most recently updated articles.
CREATE INDEX articles_recent ON articles (status, updated_at, id);
