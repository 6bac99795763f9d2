-- How many times kpitree has written each canonical table: every import, bulk
-- load and undo adds one for each table it changed, in its own transaction. A
-- reader keeps query results keyed by the versions of the tables they read, so
-- new deals do not recompute what only leads and activities decide.
CREATE TABLE kpitree_table_versions (
    table_name VARCHAR PRIMARY KEY,
    version BIGINT NOT NULL
);
