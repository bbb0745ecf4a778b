-- The knowledge base: nested categories, articles with their revisions,
-- "was this helpful?" votes and moderated comments.

CREATE TABLE article_categories (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES article_categories (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX article_categories_parent ON article_categories (parent_id, position, id);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    category_id INTEGER NOT NULL REFERENCES article_categories (id),
    title TEXT NOT NULL,
    -- The address: /kb/articles/<slug>; unique, kept when the title changes.
    slug TEXT NOT NULL UNIQUE,
    body_markdown TEXT NOT NULL,
    -- Rendered when saved, with raw HTML escaped and only safe links kept.
    body_html TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    author_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    view_count INTEGER NOT NULL DEFAULT 0,
    helpful_yes INTEGER NOT NULL DEFAULT 0,
    helpful_no INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    published_at INTEGER
);
CREATE INDEX articles_category ON articles (category_id, status, title);
CREATE INDEX articles_popular ON articles (status, view_count, id);

-- Every saved version, for the history and the authors list.
CREATE TABLE article_revisions (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    body_markdown TEXT NOT NULL,
    status TEXT NOT NULL,
    author_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX article_revisions_article ON article_revisions (article_id, id);

-- One vote per voter ("person:<id>" or "visitor:<hash of the visitor's
-- session>"); changing one's mind moves the vote.
CREATE TABLE article_votes (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    helpful BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (article_id, voter)
);

CREATE TABLE article_comments (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at INTEGER NOT NULL,
    moderated_by INTEGER REFERENCES people (id) ON DELETE SET NULL,
    moderated_at INTEGER
);
CREATE INDEX article_comments_article ON article_comments (article_id, status, id);
CREATE INDEX article_comments_status ON article_comments (status, id);
