-- Custom dimensions (a mapping's `dimensions:`): each one's table, the source
-- headers it was read from (a JSON list of attributes keys) and its labels
-- (a JSON object, language -> text).
CREATE TABLE IF NOT EXISTS kpitree_dimensions (
    name VARCHAR PRIMARY KEY,
    table_name VARCHAR NOT NULL,
    keys VARCHAR NOT NULL,
    labels VARCHAR NOT NULL
);
-- Their values, rebuilt from the table's attributes by every write that changes
-- it, so grouping and filtering never parse JSON: one row per record with a value.
CREATE TABLE IF NOT EXISTS kpitree_dimension_values (
    table_name VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    value VARCHAR
);
