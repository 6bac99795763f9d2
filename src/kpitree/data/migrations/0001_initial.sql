-- Version 1: the canonical revenue tables, their change logs and the import log.
--
-- Every canonical table has one bookkeeping column after the schema's columns:
-- `_import_id`, the import that inserted the row (undo deletes by it; it also tells
-- where a row came from). Updates leave it alone. Rows are compared without it.
--
-- Every canonical table has a change-log twin `kpitree_changes_<table>`: the full
-- previous image of each row an import updated, under that import's id. Undo puts
-- the images back; see docs/data.md.
--
-- Primary keys are not declared as DuckDB constraints. Every write goes through
-- the import path, which deduplicates each file and inserts only keys that are not
-- stored yet (anti-join), so keys stay unique by construction (a test checks it).
-- A declared key builds an ART index that made loading 2M rows 3.4x slower and
-- deleting 1M rows (undo) 70x slower (14 s instead of 0.2 s) on DuckDB 2.0.
-- NOT NULL constraints are cheap and kept.

-- Companies the business sells to (取引先).
CREATE TABLE accounts (
    account_id VARCHAR NOT NULL,
    name VARCHAR,
    industry VARCHAR,
    employees BIGINT,
    annual_revenue DOUBLE,
    region VARCHAR,
    segment VARCHAR,
    country VARCHAR,
    owner_id VARCHAR,
    created_at TIMESTAMPTZ,
    attributes JSON,
    _import_id INTEGER NOT NULL
    -- primary key (account_id), kept unique by the import path
);

-- People who entered the funnel (リード / コンタクト): one row per lead.
CREATE TABLE leads (
    lead_id VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    channel VARCHAR,
    campaign VARCHAR,
    owner_id VARCHAR,
    team VARCHAR,
    region VARCHAR,
    segment VARCHAR,
    industry VARCHAR,
    account_id VARCHAR,
    current_stage VARCHAR,
    attributes JSON,
    _import_id INTEGER NOT NULL
    -- primary key (lead_id), kept unique by the import path
);

-- Every lifecycle stage entry of every lead, with its timestamp.
CREATE TABLE lead_stage_history (
    lead_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    entered_at TIMESTAMPTZ NOT NULL,
    _import_id INTEGER NOT NULL
    -- primary key (lead_id, stage, entered_at), kept unique by the import path
);

-- Opportunities / deals (商談): one row per deal.
CREATE TABLE deals (
    deal_id VARCHAR NOT NULL,
    account_id VARCHAR,
    lead_id VARCHAR,
    owner_id VARCHAR,
    team VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    close_date DATE,
    amount DOUBLE,
    currency VARCHAR,
    status VARCHAR NOT NULL,
    stage VARCHAR,
    product VARCHAR,
    pipeline VARCHAR,
    region VARCHAR,
    segment VARCHAR,
    attributes JSON,
    _import_id INTEGER NOT NULL
    -- primary key (deal_id), kept unique by the import path
);

-- Every stage entry of every deal, with its timestamp.
CREATE TABLE deal_stage_history (
    deal_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    entered_at TIMESTAMPTZ NOT NULL,
    _import_id INTEGER NOT NULL
    -- primary key (deal_id, stage, entered_at), kept unique by the import path
);

-- Sales activities: calls, e-mails, meetings.
CREATE TABLE activities (
    activity_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    owner_id VARCHAR,
    lead_id VARCHAR,
    deal_id VARCHAR,
    account_id VARCHAR,
    outcome VARCHAR,
    duration_seconds DOUBLE,
    attributes JSON,
    _import_id INTEGER NOT NULL
    -- primary key (activity_id), kept unique by the import path
);

-- Contracts / subscriptions, for retention, churn, NRR and LTV.
CREATE TABLE contracts (
    contract_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    product VARCHAR,
    start_date DATE NOT NULL,
    end_date DATE,
    mrr DOUBLE,
    arr DOUBLE,
    currency VARCHAR,
    status VARCHAR,
    renewed_from VARCHAR,
    attributes JSON,
    _import_id INTEGER NOT NULL
    -- primary key (contract_id), kept unique by the import path
);

-- Marketing spend per day, channel and campaign (for CPL and CAC).
CREATE TABLE marketing_spend (
    spend_id VARCHAR NOT NULL,
    spend_date DATE NOT NULL,
    channel VARCHAR,
    campaign VARCHAR,
    amount DOUBLE NOT NULL,
    currency VARCHAR,
    _import_id INTEGER NOT NULL
    -- primary key (spend_id), kept unique by the import path
);

-- NPS survey answers (0-10).
CREATE TABLE nps_responses (
    response_id VARCHAR NOT NULL,
    responded_at TIMESTAMPTZ NOT NULL,
    account_id VARCHAR,
    score INTEGER NOT NULL,
    comment VARCHAR,
    _import_id INTEGER NOT NULL
    -- primary key (response_id), kept unique by the import path
);

-- People in the revenue organisation (担当者).
CREATE TABLE reps (
    rep_id VARCHAR NOT NULL,
    name VARCHAR,
    email VARCHAR,
    attributes JSON,
    _import_id INTEGER NOT NULL
    -- primary key (rep_id), kept unique by the import path
);

-- Which team, department and region a rep belonged to, over time. A rep who moves keeps their history in the old team: facts are attributed to the assignment valid on the fact's date.
CREATE TABLE rep_assignments (
    rep_id VARCHAR NOT NULL,
    valid_from DATE NOT NULL,
    valid_to DATE,
    department VARCHAR,
    team VARCHAR,
    region VARCHAR,
    manager_id VARCHAR,
    _import_id INTEGER NOT NULL
    -- primary key (rep_id, valid_from), kept unique by the import path
);

CREATE TABLE kpitree_changes_accounts (
    import_id INTEGER NOT NULL,
    account_id VARCHAR,
    name VARCHAR,
    industry VARCHAR,
    employees BIGINT,
    annual_revenue DOUBLE,
    region VARCHAR,
    segment VARCHAR,
    country VARCHAR,
    owner_id VARCHAR,
    created_at TIMESTAMPTZ,
    attributes JSON
);

CREATE TABLE kpitree_changes_leads (
    import_id INTEGER NOT NULL,
    lead_id VARCHAR,
    created_at TIMESTAMPTZ,
    channel VARCHAR,
    campaign VARCHAR,
    owner_id VARCHAR,
    team VARCHAR,
    region VARCHAR,
    segment VARCHAR,
    industry VARCHAR,
    account_id VARCHAR,
    current_stage VARCHAR,
    attributes JSON
);

CREATE TABLE kpitree_changes_deals (
    import_id INTEGER NOT NULL,
    deal_id VARCHAR,
    account_id VARCHAR,
    lead_id VARCHAR,
    owner_id VARCHAR,
    team VARCHAR,
    created_at TIMESTAMPTZ,
    close_date DATE,
    amount DOUBLE,
    currency VARCHAR,
    status VARCHAR,
    stage VARCHAR,
    product VARCHAR,
    pipeline VARCHAR,
    region VARCHAR,
    segment VARCHAR,
    attributes JSON
);

CREATE TABLE kpitree_changes_activities (
    import_id INTEGER NOT NULL,
    activity_id VARCHAR,
    type VARCHAR,
    occurred_at TIMESTAMPTZ,
    owner_id VARCHAR,
    lead_id VARCHAR,
    deal_id VARCHAR,
    account_id VARCHAR,
    outcome VARCHAR,
    duration_seconds DOUBLE,
    attributes JSON
);

CREATE TABLE kpitree_changes_contracts (
    import_id INTEGER NOT NULL,
    contract_id VARCHAR,
    account_id VARCHAR,
    product VARCHAR,
    start_date DATE,
    end_date DATE,
    mrr DOUBLE,
    arr DOUBLE,
    currency VARCHAR,
    status VARCHAR,
    renewed_from VARCHAR,
    attributes JSON
);

CREATE TABLE kpitree_changes_marketing_spend (
    import_id INTEGER NOT NULL,
    spend_id VARCHAR,
    spend_date DATE,
    channel VARCHAR,
    campaign VARCHAR,
    amount DOUBLE,
    currency VARCHAR
);

CREATE TABLE kpitree_changes_nps_responses (
    import_id INTEGER NOT NULL,
    response_id VARCHAR,
    responded_at TIMESTAMPTZ,
    account_id VARCHAR,
    score INTEGER,
    comment VARCHAR
);

CREATE TABLE kpitree_changes_reps (
    import_id INTEGER NOT NULL,
    rep_id VARCHAR,
    name VARCHAR,
    email VARCHAR,
    attributes JSON
);

CREATE TABLE kpitree_changes_rep_assignments (
    import_id INTEGER NOT NULL,
    rep_id VARCHAR,
    valid_from DATE,
    valid_to DATE,
    department VARCHAR,
    team VARCHAR,
    region VARCHAR,
    manager_id VARCHAR
);

CREATE TABLE kpitree_imports (
    import_id INTEGER PRIMARY KEY,
    kind VARCHAR NOT NULL,
    source_file VARCHAR,
    file_hash VARCHAR,
    mapping_name VARCHAR,
    rows_read BIGINT NOT NULL,
    inserted BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    table_counts JSON,
    rejects_file VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    undone_at TIMESTAMPTZ
);
