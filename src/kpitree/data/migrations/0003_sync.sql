-- Version 3: what syncing from an MA/SFA source needs.
--
-- A sync is an import (kind 'sync' in kpitree_imports) that can also delete
-- rows: a record deleted or archived in the source leaves the funnel. Every row
-- a sync deletes is kept, whole and with its own `_import_id`, in the deletion
-- log `kpitree_deleted_<table>` under the deleting import's id (`deleted_by`),
-- so that undoing the sync puts it back. A later migration that adds a column
-- to a canonical table adds it to the table's deletion log too.

-- Which records of which source object are in the warehouse (one row per
-- record), written and undone like a canonical table: a full sync deletes what
-- the source no longer lists.
CREATE TABLE kpitree_sync_records (
    source VARCHAR NOT NULL,
    object VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    _import_id INTEGER NOT NULL
    -- primary key (source, object, record_id), kept unique by the sync path
);

-- The cursor of each source object after its last successful sync, written in
-- the same transaction as the rows it brought.
CREATE TABLE kpitree_sync_state (
    source VARCHAR NOT NULL,
    object VARCHAR NOT NULL,
    cursor VARCHAR,
    synced_at TIMESTAMPTZ NOT NULL,
    import_id INTEGER,
    PRIMARY KEY (source, object)
);

-- Per source: the last attempt, the last success and the last error (an error
-- is recorded in its own transaction after the sync's was rolled back).
CREATE TABLE kpitree_sources (
    source VARCHAR PRIMARY KEY,
    type VARCHAR NOT NULL,
    last_attempt_at TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    last_import_id INTEGER,
    last_error_code VARCHAR,
    last_error VARCHAR
);

CREATE TABLE kpitree_deleted_accounts AS SELECT 0::INTEGER AS deleted_by, * FROM accounts LIMIT 0;
CREATE TABLE kpitree_deleted_leads AS SELECT 0::INTEGER AS deleted_by, * FROM leads LIMIT 0;
CREATE TABLE kpitree_deleted_lead_stage_history AS
    SELECT 0::INTEGER AS deleted_by, * FROM lead_stage_history LIMIT 0;
CREATE TABLE kpitree_deleted_deals AS SELECT 0::INTEGER AS deleted_by, * FROM deals LIMIT 0;
CREATE TABLE kpitree_deleted_deal_stage_history AS
    SELECT 0::INTEGER AS deleted_by, * FROM deal_stage_history LIMIT 0;
CREATE TABLE kpitree_deleted_activities AS SELECT 0::INTEGER AS deleted_by, * FROM activities LIMIT 0;
CREATE TABLE kpitree_deleted_contracts AS SELECT 0::INTEGER AS deleted_by, * FROM contracts LIMIT 0;
CREATE TABLE kpitree_deleted_marketing_spend AS
    SELECT 0::INTEGER AS deleted_by, * FROM marketing_spend LIMIT 0;
CREATE TABLE kpitree_deleted_nps_responses AS
    SELECT 0::INTEGER AS deleted_by, * FROM nps_responses LIMIT 0;
CREATE TABLE kpitree_deleted_reps AS SELECT 0::INTEGER AS deleted_by, * FROM reps LIMIT 0;
CREATE TABLE kpitree_deleted_rep_assignments AS
    SELECT 0::INTEGER AS deleted_by, * FROM rep_assignments LIMIT 0;
CREATE TABLE kpitree_deleted_kpitree_sync_records AS
    SELECT 0::INTEGER AS deleted_by, * FROM kpitree_sync_records LIMIT 0;
