"""The warehouse: migrations, idempotent upsert, stage history, rejects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kpitree.data import migrations
from kpitree.data.batch import Reject
from kpitree.data.schema import TABLES
from kpitree.data.upsert import has_change_log
from kpitree.data.warehouse import Warehouse, default_warehouse_path
from kpitree.errors import DataError

from .warehouse_support import batch, lead, rows, snapshot, ts


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    return Warehouse(default_warehouse_path(tmp_path))


def test_default_path_is_inside_the_project(tmp_path: Path) -> None:
    assert default_warehouse_path(tmp_path) == tmp_path / ".kpitree" / "warehouse.duckdb"


# -- migrations -----------------------------------------------------------------


def test_migrations_are_versioned_and_rerunnable(wh: Warehouse) -> None:
    assert wh.migrate() == [m.version for m in migrations.migrations()]
    assert wh.migrate() == []
    assert Warehouse(wh.path).migrate() == []
    assert wh.schema_version() == len(migrations.migrations())
    versions = rows(wh, "SELECT version, name FROM kpitree_schema_version ORDER BY version")
    assert versions == [(m.version, m.name) for m in migrations.migrations()]


# DESCRIBE spells some types out in full.
_SPELLED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def test_migrated_tables_match_the_canonical_schema(wh: Warehouse) -> None:
    """A change to schema.py without a migration fails here."""
    wh.migrate()
    for t in TABLES:
        expected = [(c.name, _SPELLED.get(c.type, c.type)) for c in t.columns]
        described = rows(wh, f"DESCRIBE {t.name}")
        assert [(r[0], r[1]) for r in described] == [*expected, ("_import_id", "INTEGER")]
        assert [r[2] for r in described] == [
            *("YES" if c.nullable else "NO" for c in t.columns),
            "NO",
        ], t.name
        if has_change_log(t):
            log = rows(wh, f"DESCRIBE kpitree_changes_{t.name}")
            assert [(r[0], r[1]) for r in log] == [("import_id", "INTEGER"), *expected], t.name
        else:
            assert set(t.primary_key) == set(t.column_names)


def test_a_warehouse_from_a_newer_kpitree_is_refused(wh: Warehouse) -> None:
    wh.migrate()
    with wh.connect() as con:
        con.execute("INSERT INTO kpitree_schema_version VALUES (999, 'future', now())")
    with pytest.raises(DataError) as err:
        Warehouse(wh.path).migrate()
    assert err.value.diagnostics[0].key == "warehouse.too_new"


# -- upsert -----------------------------------------------------------------------


def _leads_file() -> dict[str, list[dict[str, object]]]:
    return {
        "leads": [lead("L1", 1), lead("L2", 2, owner_id="R1"), lead("L3", 3)],
        "lead_stage_history": [
            {"lead_id": "L1", "stage": "lead", "entered_at": ts(1)},
            {"lead_id": "L1", "stage": "mql", "entered_at": ts(5)},
            {"lead_id": "L2", "stage": "lead", "entered_at": ts(2)},
        ],
    }


def test_first_import_inserts_everything(wh: Warehouse) -> None:
    result = wh.apply(batch(_leads_file()), skip_invalid=False)
    assert result.import_id == 1
    assert (result.inserted, result.updated, result.unchanged, result.rejected) == (6, 0, 0, 0)
    assert {c.table: (c.rows, c.inserted) for c in result.tables} == {
        "leads": (3, 3),
        "lead_stage_history": (3, 3),
    }
    assert wh.row_counts()["leads"] == 3
    assert rows(wh, "SELECT owner_id FROM leads WHERE lead_id = 'L2'") == [("R1",)]


def test_the_same_file_twice_changes_nothing(wh: Warehouse) -> None:
    wh.apply(batch(_leads_file()), skip_invalid=False)
    before = snapshot(wh)
    again = wh.apply(batch(_leads_file()), skip_invalid=False)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    assert snapshot(wh) == before
    assert rows(wh, "SELECT count(*) FROM kpitree_changes_leads WHERE import_id = 2") == [(0,)]


def test_a_newer_export_updates_changed_rows_and_appends_history(wh: Warehouse) -> None:
    wh.apply(batch(_leads_file()), skip_invalid=False)
    newer = _leads_file()
    newer["leads"][1]["channel"] = "event"  # L2 changed
    newer["leads"].append(lead("L4", 4))  # new lead
    newer["lead_stage_history"] += [
        {"lead_id": "L1", "stage": "sql", "entered_at": ts(9)},  # new stage entry
        {"lead_id": "L4", "stage": "lead", "entered_at": ts(4)},
    ]
    result = wh.apply(batch(newer), skip_invalid=False)
    counts = {c.table: (c.inserted, c.updated, c.unchanged) for c in result.tables}
    assert counts == {"leads": (1, 1, 2), "lead_stage_history": (2, 0, 3)}
    assert rows(wh, "SELECT channel FROM leads WHERE lead_id = 'L2'") == [("event",)]
    history = rows(wh, "SELECT lead_id, stage FROM lead_stage_history ORDER BY ALL")
    assert history == [
        ("L1", "lead"),
        ("L1", "mql"),
        ("L1", "sql"),
        ("L2", "lead"),
        ("L4", "lead"),
    ]


def test_columns_a_file_does_not_carry_keep_their_values(wh: Warehouse) -> None:
    wh.apply(batch({"leads": [lead("L1", campaign="spring", owner_id="R1")]}), skip_invalid=False)
    # A second source knows only the owner of the lead.
    result = wh.apply(
        batch({"leads": [{"lead_id": "L1", "owner_id": "R2"}]}, file="owners.csv"),
        skip_invalid=False,
    )
    assert (result.updated, result.inserted) == (1, 0)
    assert rows(wh, "SELECT campaign, owner_id, channel FROM leads") == [("spring", "R2", "web")]


def test_a_key_repeated_in_a_file_keeps_its_last_row(wh: Warehouse) -> None:
    result = wh.apply(
        batch({"leads": [lead("L1", channel="web"), lead("L1", channel="ads")]}),
        skip_invalid=False,
    )
    assert (result.tables[0].rows, result.inserted) == (1, 1)
    assert rows(wh, "SELECT lead_id, channel FROM leads") == [("L1", "ads")]


def test_keys_stay_unique_over_many_imports(wh: Warehouse) -> None:
    for day in range(1, 6):
        wh.apply(batch({"leads": [lead(f"L{i}", day) for i in range(day * 3)]}), skip_invalid=False)
    for t in TABLES:
        keys = ", ".join(t.primary_key)
        dupes = rows(wh, f"SELECT {keys} FROM {t.name} GROUP BY ALL HAVING count(*) > 1")
        assert dupes == [], t.name
    assert wh.row_counts()["leads"] == 15


def test_new_rows_without_a_required_column_are_refused(wh: Warehouse) -> None:
    with pytest.raises(DataError) as err:
        wh.apply(batch({"leads": [{"lead_id": "L1", "channel": "web"}]}), skip_invalid=False)
    assert err.value.diagnostics[0].key == "warehouse.required_missing"
    assert err.value.diagnostics[0].params["column"] == "created_at"
    assert wh.row_counts()["leads"] == 0


def test_empty_required_cells_are_refused(wh: Warehouse) -> None:
    with pytest.raises(DataError) as err:
        wh.apply(batch({"leads": [lead("L1"), lead("L2", created_at=None)]}), skip_invalid=False)
    assert err.value.diagnostics[0].key == "warehouse.required_empty"
    assert wh.row_counts()["leads"] == 0


def test_several_files_are_one_transaction_with_one_import_each(wh: Warehouse) -> None:
    results = wh.apply_many(
        [
            batch({"leads": [lead("L1")]}, file="a.csv"),
            batch({"leads": [lead("L2")]}, file="b.csv"),
        ],
        skip_invalid=False,
    )
    assert [r.import_id for r in results] == [1, 2]
    assert [r.source_file for r in wh.imports()] == ["a.csv", "b.csv"]
    before = snapshot(wh)
    with pytest.raises(DataError):
        wh.apply_many(
            [
                batch({"leads": [lead("L3")]}, file="c.csv"),
                batch({"leads": [{"lead_id": "L4"}]}, file="d.csv"),  # no created_at
            ],
            skip_invalid=False,
        )
    assert snapshot(wh) == before
    log = [(r.import_id, r.source_file, r.status) for r in wh.imports()]
    assert log[2:] == [(3, "c.csv", "failed"), (4, "d.csv", "failed")]


def test_threads_importing_at_once_take_turns(wh: Warehouse) -> None:
    from concurrent.futures import ThreadPoolExecutor

    files = [batch({"leads": [lead(f"L{i}-{j}") for j in range(50)]}) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda b: wh.apply(b, skip_invalid=False), files))
    assert sorted(r.import_id for r in results) == [1, 2, 3, 4]
    assert wh.row_counts()["leads"] == 200


# -- rejects ----------------------------------------------------------------------


def _with_rejects() -> dict[str, object]:
    return {
        "rejects": [
            Reject("leads.csv", 3, "Created", "yesterday", "not a date"),
            Reject("leads.csv", 3, "Amount", "¥abc", "not a number"),
            Reject("leads.csv", 5, None, None, "duplicate row"),
        ],
        "rejected_rows": [
            {"__row__": "3", "ID": "L9", "Created": "yesterday", "Amount": "¥abc"},
            {"__row__": "5", "ID": "L10", "Created": "2026/01/07", "Amount": "1"},
        ],
        "rows_read": 5,
    }


def test_rejects_write_nothing_and_locate_every_cell(wh: Warehouse) -> None:
    with pytest.raises(DataError) as err:
        wh.apply(batch({"leads": [lead("L1")]}, **_with_rejects()), skip_invalid=False)  # type: ignore[arg-type]
    diags = err.value.diagnostics
    located = [(d.span.file, d.span.line, d.span.column) for d in diags if d.span]
    assert located == [("leads.csv", 3, 2), ("leads.csv", 3, 3), ("leads.csv", 5, 1)]
    assert diags[0].params == {"column": "Created", "value": "yesterday", "reason": "not a date"}
    assert diags[-1].key == "warehouse.rejected_nothing_written"
    assert diags[-1].params["rows"] == 2
    assert wh.row_counts()["leads"] == 0
    (record,) = wh.imports()
    assert (record.status, record.rejected, record.inserted) == ("failed", 2, 0)


def test_skip_invalid_writes_valid_rows_and_a_rejects_csv_and_report(wh: Warehouse) -> None:
    result = wh.apply(batch({"leads": [lead("L1")]}, **_with_rejects()), skip_invalid=True)  # type: ignore[arg-type]
    assert (result.inserted, result.rejected, result.rows_read) == (1, 2, 5)
    assert result.rejects_csv == wh.path.parent / "rejects" / "import-1" / "leads.rejected.csv"
    assert result.rejects_report is not None
    raw = result.rejects_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    assert raw.decode("utf-8-sig").splitlines() == [
        "ID,Created,Amount",
        "L9,yesterday,¥abc",
        "L10,2026/01/07,1",
    ]
    report = result.rejects_report.read_text(encoding="utf-8")
    assert "yesterday" in report and "not a date" in report and "duplicate row" in report
    assert wh.imports()[0].rejects_file == str(result.rejects_csv)


def test_many_rejects_are_capped_with_a_summary(wh: Warehouse) -> None:
    from kpitree.data.rejects import MAX_REJECT_DIAGNOSTICS

    n = MAX_REJECT_DIAGNOSTICS + 50
    rejects = [Reject("big.csv", i + 2, "ID", "", "empty id") for i in range(n)]
    with pytest.raises(DataError) as err:
        wh.apply(batch({"leads": [lead("L1")]}, rejects=rejects), skip_invalid=False)
    diags = err.value.diagnostics
    assert len(diags) == MAX_REJECT_DIAGNOSTICS + 1
    assert diags[-1].params == {"rows": n, "cells": n, "shown": MAX_REJECT_DIAGNOSTICS}


# -- reading through Ibis -------------------------------------------------------------


def test_ibis_reads_the_same_file(wh: Warehouse) -> None:
    wh.apply(batch(_leads_file()), skip_invalid=False)
    con = wh.ibis_connection()
    try:
        leads = con.table("leads")
        assert leads.count().execute() == 3
        by_stage = (
            con.table("lead_stage_history").group_by("stage").aggregate(n=lambda t: t.count())
        )
        assert sorted(by_stage.to_pyarrow()["n"].to_pylist()) == [1, 2]
    finally:
        con.disconnect()


# -- sharing the file ---------------------------------------------------------------


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that keeps the warehouse open for ``seconds``."""
    code = (
        "import sys, time, duckdb\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "print('open', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "con.close()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
    return proc


def test_a_busy_warehouse_is_waited_for_then_used(wh: Warehouse) -> None:
    wh.migrate()
    holder = _hold(wh.path, 1.0)
    try:
        result = Warehouse(wh.path, lock_timeout=20).apply(
            batch({"leads": [lead("L1")]}), skip_invalid=False
        )
    finally:
        holder.wait()
    assert result.inserted == 1


def test_a_warehouse_busy_for_too_long_is_reported(wh: Warehouse) -> None:
    wh.migrate()
    holder = _hold(wh.path, 3.0)
    try:
        with pytest.raises(DataError) as err:
            Warehouse(wh.path, lock_timeout=0.3).imports()
    finally:
        holder.kill()
        holder.wait()
    assert err.value.diagnostics[0].key == "warehouse.locked"
    assert str(wh.path) in err.value.diagnostics[0].message("en")


def test_threads_opening_a_new_warehouse_at_once_migrate_it_once(tmp_path: Path) -> None:
    """A web server's first requests and its warm-up open a new project's file
    together: the tables are created once, without a catalog conflict."""
    import threading

    from kpitree.data.warehouse import Warehouse

    errors: list[BaseException] = []
    for attempt in range(4):
        path = tmp_path / f"w{attempt}.duckdb"
        barrier = threading.Barrier(4)

        def open_it(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                with Warehouse(path).connect() as con:
                    con.execute("SELECT count(*) FROM leads").fetchall()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
