"""Imports, undo and the import log in a PostgreSQL warehouse (``data.warehouse:
postgresql://…``), with the embedded warehouse's guarantees: the same counts and
numbers as the same import into DuckDB, all or nothing (a bad row, or the
database failing half way, writes nothing), and undo restoring every table
exactly. The undo tests of the embedded warehouse run here again, unchanged."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from data.test_undo import (
    test_an_unrelated_later_import_does_not_block_undo,
    test_bulk_load_is_an_import_that_can_be_undone,
    test_every_row_names_the_import_that_inserted_it,
    test_two_updates_of_one_row_undo_in_reverse_order_only,
    test_undo_is_refused_while_a_later_import_changed_the_same_rows,
    test_undo_refuses_what_cannot_be_undone,
    test_undo_restores_every_table_exactly,
)
from data.warehouse_support import batch, lead, rows, snapshot
from engines.whole_status import make_company, status_differences
from kpitree.cli import main
from kpitree.data.pgwarehouse import PgWarehouse, warehouse_for
from kpitree.data.warehouse import Warehouse
from kpitree.engines import open_engine
from kpitree.errors import DataError

pytestmark = pytest.mark.postgres

__all__ = [  # the embedded warehouse's undo tests, run on PostgreSQL by the wh fixture
    "test_an_unrelated_later_import_does_not_block_undo",
    "test_bulk_load_is_an_import_that_can_be_undone",
    "test_every_row_names_the_import_that_inserted_it",
    "test_two_updates_of_one_row_undo_in_reverse_order_only",
    "test_undo_is_refused_while_a_later_import_changed_the_same_rows",
    "test_undo_refuses_what_cannot_be_undone",
    "test_undo_restores_every_table_exactly",
]


def new_database(postgres_url: str) -> str:
    """The URL of a new, empty database on the test server."""
    server, _ = postgres_url.rsplit("/", 1)
    name = f"wh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture
def wh(postgres_url: str, tmp_path: Path) -> PgWarehouse:
    return PgWarehouse(new_database(postgres_url), rejects_dir=tmp_path / "rejects")


def _project(folder: Path, warehouse: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kpitree.yaml").write_text(
        f"kpitree: 1\nname: plan\ndata:\n  warehouse: {warehouse}\n", encoding="utf-8"
    )
    (folder / "leads.yaml").write_text(MAPPING, encoding="utf-8")
    return folder


MAPPING = """\
mapping: 1
name: test leads
tables:
  leads:
    lead_id: {column: ID}
    created_at: {column: Created}
    channel: {column: Source}
  lead_stage_history:
    lead_id: {column: ID}
    stages:
      mql: {column: MQL date}
"""
FIRST = (
    "ID,Created,Source,MQL date\nL1,2026/01/07,web,2026/01/10\nL2,2026年1月8日,event,\n"
    "L3,2026/01/09,ads,2026/01/12\n"
)
SECOND = (
    "ID,Created,Source,MQL date\nL1,2026/01/07,referral,2026/01/10\nL4,2026/01/20,web,\n"
    "L5,2026/01/21,web,2026/01/22\n"
)


def kpitree(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """An import's JSON without what differs between two runs (times, paths)."""
    drop = {"started_at", "finished_at", "undone_at", "rejects_csv", "rejects_report", "owners"}
    kept = {k: v for k, v in result.items() if k not in drop}
    return kept | {"file": Path(kept["file"]).name, "mapping": Path(kept["mapping"]).name}


def test_cli_import_and_undo_on_postgres_equal_duckdb(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("KPITREE_LANG", "en")
    url = new_database(postgres_url)
    projects = {
        "duckdb": _project(tmp_path / "duck", "warehouse.duckdb"),
        "postgres": _project(tmp_path / "pg", url),
    }
    results: dict[str, list[Any]] = {}
    contents: dict[str, list[Any]] = {}
    for name, folder in projects.items():
        for i, text in enumerate((FIRST, SECOND)):
            export = folder / f"leads-{i}.csv"
            export.write_text(text, encoding="utf-8")
            code, out, err = kpitree(
                capsys, "import", export, "-m", folder / "leads.yaml", "-p", folder, "--json"
            )
            assert code == 0, err
            results.setdefault(name, []).append(
                [_comparable(r) for r in json.loads(out)["imports"]]
            )
        wh = warehouse_for(folder, "warehouse.duckdb" if name == "duckdb" else url)
        contents[name] = [rows(wh, "SELECT lead_id, channel FROM leads ORDER BY 1")]
        code, out, err = kpitree(capsys, "imports", "undo", "2", "-p", folder, "--json")
        assert code == 0, err
        assert json.loads(out) == {"import_id": 2, "deleted": 3, "restored": 1}
        contents[name].append(rows(wh, "SELECT lead_id, channel FROM leads ORDER BY 1"))
        code, out, err = kpitree(capsys, "imports", "-p", folder, "--json")
        listed = [(i["import_id"], i["status"], i["inserted"]) for i in json.loads(out)["imports"]]
        assert listed == [(1, "applied", 5), (2, "undone", 3)]
    assert results["postgres"] == results["duckdb"]
    assert contents["postgres"] == contents["duckdb"]
    assert contents["postgres"][1] == [("L1", "web"), ("L2", "event"), ("L3", "ads")]
    assert isinstance(warehouse_for(projects["postgres"], url), PgWarehouse)
    assert not (projects["postgres"] / ".kpitree" / "warehouse.duckdb").exists()


def test_a_bad_row_mid_file_writes_nothing(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("KPITREE_LANG", "en")
    url = new_database(postgres_url)
    folder = _project(tmp_path / "pg", url)
    export = folder / "leads.csv"
    export.write_text(FIRST.replace("L2,2026年1月8日", "L2,not a date"), encoding="utf-8")
    code, _, err = kpitree(capsys, "import", export, "-m", folder / "leads.yaml", "-p", folder)
    assert code != 0 and "Traceback" not in err
    assert "not a date" in err and "nothing was imported" in err
    wh = warehouse_for(folder, url)
    assert all(not content for content in snapshot(wh).values())
    assert [(r.import_id, r.status) for r in wh.imports()] == [(1, "failed")]


def test_a_database_error_mid_load_writes_nothing(wh: PgWarehouse) -> None:
    wh.apply(batch({"leads": [lead("L1")]}), skip_invalid=False)
    before = snapshot(wh)
    # A real error of the database, raised while the deals are written: after the
    # leads and the stage history of the same import are already in the tables.
    with psycopg.connect(wh.url, autocommit=True) as con:
        con.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk quota exceeded (test)'; END $$"
        )
        con.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON deals FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    tables = {
        "leads": [lead("L1", channel="ads"), lead("L2")],
        "lead_stage_history": [
            {"lead_id": "L2", "stage": "mql", "entered_at": lead("L2")["created_at"]}
        ],
        "deals": [{"deal_id": "D1", "created_at": lead("L2")["created_at"], "status": "open"}],
    }
    with pytest.raises(DataError) as err:
        wh.apply(batch(tables), skip_invalid=False)
    diag = err.value.diagnostics[0]
    assert diag.code == "KT571" and "disk quota exceeded (test)" in diag.message("en")
    assert "nothing" in diag.message("en")
    assert snapshot(wh) == before
    assert [(r.import_id, r.status) for r in wh.imports()] == [(1, "applied"), (2, "failed")]
    # The connection it used is left clean: the next import goes through.
    with psycopg.connect(wh.url, autocommit=True) as con:
        con.execute("DROP TRIGGER refuse ON deals")
    result = wh.apply(batch(tables), skip_invalid=False)
    assert (result.import_id, result.inserted, result.updated) == (3, 3, 1)


def test_the_status_after_an_import_into_postgres_equals_duckdb(
    postgres_url: str, tmp_path: Path
) -> None:
    project, tables = make_company(tmp_path)
    url = new_database(postgres_url)
    target = warehouse_for(project.path, url)
    loaded = target.bulk_load(tables, label="demo")
    embedded = Warehouse(tmp_path / "warehouse.duckdb").imports()[0]
    assert (loaded.inserted, loaded.rows_read) == (embedded.inserted, embedded.rows_read)
    with open_engine(url, timezone=project.tree.timezone) as engine:
        engine.roster = project.roster()
        assert status_differences(project, engine) == []


def test_threads_importing_at_once_take_turns(wh: PgWarehouse) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> int:
        return wh.apply(
            batch({"leads": [lead(f"L{i}")]}, file=f"{i}.csv"), skip_invalid=False
        ).import_id

    with ThreadPoolExecutor(4) as pool:
        ids = sorted(pool.map(one, range(8)))
    assert ids == list(range(1, 9))
    assert rows(wh, "SELECT count(*) FROM leads") == [(8,)]


def test_spark_and_clickhouse_refuse_imports_saying_what_to_do(tmp_path: Path) -> None:
    for url, engine in [
        ("pyspark://local[2]", "Spark"),
        ("sc://user:s3cret@cluster:15002", "Spark"),
        ("chdb:///data/ch", "ClickHouse (chDB)"),
        ("clickhouse://kpitree:s3cret@ch:8123/crm", "ClickHouse"),
    ]:
        with pytest.raises(DataError) as err:
            warehouse_for(tmp_path, url)
        diag = err.value.diagnostics[0]
        text = diag.message("en")
        assert diag.code == "KT570" and engine in text, text
        assert "transaction across tables" in text
        assert "copy_warehouse" in text and "s3cret" not in text
        assert "copy_warehouse" in diag.message("ja")
    with pytest.raises(DataError) as err:
        warehouse_for(tmp_path, "snowflake://u:p@acct/db")
    assert err.value.diagnostics[0].code == "KT570"


def test_translating_first_keeps_ibis_postgres_sql() -> None:
    """The translation loads sqlglot's PostgreSQL generator; Ibis's additions to it
    (``make_date``) must still be in the engines' queries afterwards."""
    import subprocess
    import sys

    code = (
        "from kpitree.data.pgsql import translate\n"
        "translate('SELECT 1')\n"
        "import ibis\n"
        "t = ibis.table({'y': 'int32'}, name='t')\n"
        "print(ibis.to_sql(t.select(d=ibis.date(t.y, 1, 1)), dialect='postgres'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "MAKE_DATE" in done.stdout and "DATE_FROM_PARTS" not in done.stdout


def test_copy_warehouse_does_not_replace_a_postgres_warehouse(wh: PgWarehouse) -> None:
    from data.warehouse_support import arrow_table
    from kpitree.engines import load_canonical
    from kpitree.errors import UserError

    wh.apply(batch({"leads": [lead("L1")]}), skip_invalid=False)
    with pytest.raises(UserError) as err:
        load_canonical(wh.url, {"leads": arrow_table("leads", [lead("L9")])})
    assert err.value.diagnostics[0].code == "KT516"
    assert rows(wh, "SELECT lead_id, _import_id FROM leads") == [("L1", 1)]


def test_pages_follow_an_import_into_postgres_at_once(postgres_url: str, tmp_path: Path) -> None:
    """The dashboard's data version of a PostgreSQL warehouse names its table
    versions: an import there changes it within a second, not after the
    time-to-live a database written by others gets."""
    import time

    from kpitree.project import Project
    from kpitree.web.live import data_version

    url = new_database(postgres_url)
    definition = Project.init(tmp_path / "p")
    text = definition.read_text("utf-8")
    definition.write_text(f"{text}\ndata:\n  warehouse: {url}\n", "utf-8")
    project = Project.load(definition.parent)
    wh = warehouse_for(project.path, url)
    wh.apply(batch({"leads": [lead("L1")]}), skip_invalid=False)
    clock = time.time()  # one time-to-live period for both readings
    before = data_version(project, clock=lambda: clock)
    assert "leads=1" in before
    wh.apply(batch({"leads": [lead("L2")]}), skip_invalid=False)
    deadline = time.monotonic() + 10
    while data_version(project, clock=lambda: clock) == before:
        assert time.monotonic() < deadline, "the import did not change the data version"
        time.sleep(0.05)
    assert "leads=2" in data_version(project, clock=lambda: clock)
