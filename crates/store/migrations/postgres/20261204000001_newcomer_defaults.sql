-- A fresh install can take requests at once: one department is the default
-- (where tickets go when nobody chose one), and the knowledge base has a
-- first category. An install that already has departments keeps them and
-- makes its first top-level one the default.
ALTER TABLE departments ADD COLUMN is_default BOOLEAN NOT NULL DEFAULT FALSE;
-- At most one default.
CREATE UNIQUE INDEX departments_one_default ON departments (is_default) WHERE is_default;

INSERT INTO departments (name, position, created_at, is_default)
SELECT 'Support', 0, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT, TRUE
WHERE NOT EXISTS (SELECT 1 FROM departments);

UPDATE departments SET is_default = TRUE
WHERE id = (SELECT MIN(id) FROM departments WHERE parent_id IS NULL)
  AND NOT EXISTS (SELECT 1 FROM departments WHERE is_default);

INSERT INTO article_categories (name, description, position, created_at)
SELECT 'General', 'Answers to common questions.', 0, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
WHERE NOT EXISTS (SELECT 1 FROM article_categories);
