-- News posts, and the full-text index over what the help center publishes.

CREATE TABLE news_categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_normalized TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE news_posts (
    id INTEGER PRIMARY KEY,
    category_id INTEGER REFERENCES news_categories (id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    body_markdown TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    author_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    published_at INTEGER
);
CREATE INDEX news_posts_published ON news_posts (status, published_at, id);

-- One row per published article or news post (kind 'article' or 'news'),
-- kept by the store whenever one is saved.
CREATE VIRTUAL TABLE content_search USING fts5(
    title,
    body,
    kind UNINDEXED,
    ref_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO content_search (title, body, kind, ref_id)
    SELECT title, body_markdown, 'article', id FROM articles WHERE status = 'published';
