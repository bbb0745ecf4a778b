-- Ticket departments (nested), teams of agents, and permission groups
-- (additive; what no group grants is refused).

CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES departments (id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
-- Names are unique among siblings, whatever their case.
CREATE UNIQUE INDEX departments_sibling_name ON departments (COALESCE(parent_id, 0), lower(name));

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX teams_name ON teams (lower(name));

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, person_id)
);
CREATE INDEX team_members_person ON team_members (person_id);

-- A built-in group ('all' or 'non_destructive') has its grants in the code
-- and cannot be edited or deleted.
CREATE TABLE permission_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    built_in TEXT UNIQUE CHECK (built_in IN ('all', 'non_destructive')),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX permission_groups_name ON permission_groups (lower(name));

CREATE TABLE permission_group_grants (
    group_id INTEGER NOT NULL REFERENCES permission_groups (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (group_id, permission)
);

-- A grant on a department covers its sub-departments too.
CREATE TABLE permission_group_departments (
    group_id INTEGER NOT NULL REFERENCES permission_groups (id) ON DELETE CASCADE,
    department_id INTEGER NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    access TEXT NOT NULL CHECK (access IN ('full', 'assign')),
    PRIMARY KEY (group_id, department_id)
);

CREATE TABLE agent_permission_groups (
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES permission_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (person_id, group_id)
);
CREATE INDEX agent_permission_groups_group ON agent_permission_groups (group_id);

INSERT INTO permission_groups (name, description, built_in, created_at) VALUES
    ('All permissions', 'Every permission and full access to every department.', 'all', 0),
    ('All non-destructive permissions', 'Everything but deleting, marking spam and merging; full access to every department.', 'non_destructive', 0);
