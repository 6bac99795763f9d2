"""The SQL seam: opening engines, canonical tables, the session time zone, read-only
queries, and the same Ibis expression giving the same numbers on DuckDB and PostgreSQL.

Tests marked ``postgres`` run against the throwaway server of the ``postgres_url``
fixture (tests/conftest.py).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa
import pytest

from kpitree.data.demo import generate
from kpitree.data.schema import TABLES, arrow_schema, table
from kpitree.data.warehouse import Warehouse
from kpitree.engines import (
    Engine,
    canonical_ddl,
    copy_warehouse,
    load_canonical,
    open_engine,
    supported_schemes,
)
from kpitree.errors import UserError

# Ibis 12 still calls DuckDB's fetch_arrow_table(), deprecated in DuckDB 2.0.
pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

OpenEngine = Callable[..., Engine]


def _code(exc: pytest.ExceptionInfo[UserError]) -> str:
    return exc.value.diagnostics[0].code


def _one_lead(created_at: datetime) -> pa.Table:
    row = {"lead_id": "L1", "created_at": created_at, "channel": "web"}
    types = arrow_schema("leads", list(row))
    return pa.table({k: pa.array([v], types.field(k).type) for k, v in row.items()})


# -- engines under test: DuckDB in memory, and PostgreSQL -------------------------------


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_on(request: pytest.FixtureRequest) -> Iterator[OpenEngine]:
    """``engine_on(tables, timezone=...)``: an engine whose database holds ``tables``."""
    opened: list[Engine] = []

    def make(tables: dict[str, pa.Table], timezone: str = "Asia/Tokyo") -> Engine:
        if request.param == "duckdb":
            engine = open_engine("duckdb://", timezone=timezone)
            load_canonical(engine, tables)
        else:
            url = request.getfixturevalue("postgres_url")
            load_canonical(url, tables)
            engine = open_engine(url, timezone=timezone)
        opened.append(engine)
        return engine

    yield make
    for engine in opened:
        engine.close()


# -- opening -----------------------------------------------------------------------------


def test_open_engine_creates_and_migrates_a_fresh_warehouse(tmp_path: Path) -> None:
    path = tmp_path / ".kpitree" / "warehouse.duckdb"
    with open_engine(path) as engine:
        assert path.exists()
        assert (engine.name, engine.timezone, engine.read_only) == ("duckdb", "Asia/Tokyo", True)
        leads = engine.table("leads")
        # Bookkeeping columns of the warehouse stay out of sight.
        assert tuple(leads.columns) == table("leads").column_names
        assert engine.execute(leads.count()).column(0).to_pylist() == [0]
        with pytest.raises(Exception, match="read-only"):
            engine.backend.con.execute("CREATE TABLE scratch (i INTEGER)").fetchall()


def test_open_engine_on_a_duckdb_url(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    Warehouse(path).bulk_load({"leads": _one_lead(datetime(2026, 1, 5, tzinfo=UTC))}, label="t")
    with open_engine(f"duckdb://{path}", timezone="UTC") as engine:
        assert engine.where == str(path)
        assert engine.execute(engine.table("leads").count()).column(0).to_pylist() == [1]


def test_writable_engine_migrates_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with open_engine(path, read_only=False) as engine:
        assert not engine.read_only
        assert engine.execute(engine.table("deals").count()).column(0).to_pylist() == [0]


def test_read_only_engine_looks_each_table_up_once(tmp_path: Path) -> None:
    # Each lookup asks the database for the columns: a status asks for the same
    # tables a dozen times, a read-only engine answers again from what it read.
    path = tmp_path / "w.duckdb"
    Warehouse(path).bulk_load({"leads": _one_lead(datetime(2026, 1, 5, tzinfo=UTC))}, label="t")
    with open_engine(path) as engine:
        assert engine.table("leads") is engine.table("leads")
    with open_engine("duckdb://") as engine:
        load_canonical(engine, {"leads": _one_lead(datetime(2026, 1, 5, tzinfo=UTC))})
        before = engine.table("leads")
        engine.backend.con.execute("ALTER TABLE leads ADD COLUMN scratch INTEGER").fetchall()
        # A writable engine looks again: its tables may have changed meanwhile.
        assert engine.table("leads") is not before
        assert tuple(engine.table("leads").columns) == table("leads").column_names


def test_has_table_finds_tables_and_views_of_the_current_schema_only(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    Warehouse(path).bulk_load({"leads": _one_lead(datetime(2026, 1, 5, tzinfo=UTC))}, label="t")
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE scratch (a INTEGER)")
    con.execute("CREATE VIEW few AS SELECT * FROM scratch")
    con.execute("CREATE SCHEMA other")
    con.execute("CREATE TABLE other.elsewhere (a INTEGER)")
    con.execute('CREATE TABLE "odd ""name" (a INTEGER)')
    con.close()
    with open_engine(path) as engine:
        assert engine.has_table("leads")
        assert engine.has_table("few")
        assert engine.has_table("kpitree_table_versions")
        assert engine.has_table('odd "name')  # not bound: looked up in the catalogue
        assert not engine.has_table("missing")
        assert not engine.has_table("elsewhere")  # another schema
        assert not engine.has_table("pg_class")  # the system catalogue's
        assert not engine.has_table("information_schema")
    # A view that no longer binds still exists.
    with open_engine("duckdb://") as engine:
        engine.con.execute("CREATE TABLE t (a INTEGER)").fetchall()
        engine.con.execute("CREATE VIEW broken AS SELECT * FROM t").fetchall()
        engine.con.execute("DROP TABLE t").fetchall()
        assert engine.has_table("broken")
        assert not engine.has_table("t")


def test_in_memory_engine_starts_empty() -> None:
    with open_engine("duckdb://") as engine, pytest.raises(UserError) as exc:
        engine.table("leads")
    assert _code(exc) == "KT510"
    assert "is not in :memory:" in str(exc.value)


def test_unknown_canonical_table_lists_the_tables(tmp_path: Path) -> None:
    with open_engine(tmp_path / "w.duckdb") as engine, pytest.raises(UserError) as exc:
        engine.table("lead")
    assert _code(exc) == "KT510"
    for t in TABLES:
        assert t.name in str(exc.value)


def test_unknown_scheme_lists_what_is_supported() -> None:
    with pytest.raises(UserError) as exc:
        open_engine("foo://x")
    assert _code(exc) == "KT513"
    message = str(exc.value)
    assert "'foo://'" in message
    for scheme in ("duckdb://", "postgresql://", "bigquery://", "snowflake://", "pyspark://"):
        assert scheme in message
    assert "postgres" not in supported_schemes()  # spelled postgresql once


def test_missing_driver_gives_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    with pytest.raises(UserError) as exc:
        open_engine("postgresql://someone@127.0.0.1:1/db")
    assert _code(exc) == "KT513"
    assert "pip install 'ibis-framework[postgres]'" in str(exc.value)


def test_unreachable_server_hides_the_password() -> None:
    with pytest.raises(UserError) as exc:
        open_engine("postgres://someone:s3cret@127.0.0.1:1/db")
    assert _code(exc) == "KT514"
    assert "s3cret" not in str(exc.value)
    assert "postgres://someone:***@127.0.0.1:1/db" in str(exc.value)


def test_unknown_time_zone() -> None:
    with pytest.raises(UserError) as exc:
        open_engine("duckdb://", timezone="Asia/Tokio")
    assert _code(exc) == "KT515"


# -- the session time zone ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("timezone", "local_day", "local_month"),
    [
        ("Asia/Tokyo", date(2026, 4, 1), date(2026, 4, 1)),
        ("UTC", date(2026, 3, 31), date(2026, 3, 1)),
    ],
)
def test_local_date_follows_the_session_time_zone(
    engine_on: OpenEngine, timezone: str, local_day: date, local_month: date
) -> None:
    engine = engine_on(
        {"leads": _one_lead(datetime(2026, 3, 31, 15, 30, tzinfo=UTC))}, timezone=timezone
    )
    leads = engine.table("leads")
    day = leads.created_at.date()
    result = engine.execute(leads.select(day=day, month=day.truncate("M"), at=leads.created_at))
    assert result.column("day").to_pylist() == [local_day]
    assert result.column("month").to_pylist() == [local_month]
    # The instant itself is unchanged: the zone only decides the calendar.
    assert result.column("at").to_pylist() == [datetime(2026, 3, 31, 15, 30, tzinfo=UTC)]
    assert engine.query("SELECT CAST(created_at AS DATE) AS day FROM leads").to_pylist() == [
        {"day": local_day}
    ]


# -- read-only queries -------------------------------------------------------------------


@pytest.fixture
def demo_engine(engine_on: OpenEngine) -> Engine:
    return engine_on({"leads": _one_lead(datetime(2026, 1, 5, tzinfo=UTC))})


def test_query_accepts_select_with_and_union(demo_engine: Engine) -> None:
    assert demo_engine.query("SELECT lead_id FROM leads").to_pylist() == [{"lead_id": "L1"}]
    with_query = "WITH w AS (SELECT channel FROM leads) SELECT count(*) AS n FROM w;  -- done"
    assert demo_engine.query(with_query).to_pylist() == [{"n": 1}]
    union = "SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3 ORDER BY x DESC"
    assert demo_engine.query(union, limit=2).column("x").to_pylist() == [3, 2]


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO leads (lead_id, created_at) VALUES ('x', now())", "INSERT"),
        ("DROP TABLE leads", "DROP"),
        ("SELECT 1; DROP TABLE leads", "2 statements"),
        ("WITH d AS (DELETE FROM leads RETURNING *) SELECT * FROM d", "DELETE"),
        ("SELECT * INTO copied FROM leads", "INTO"),
        ("", "no statement"),
    ],
)
def test_query_refuses_writes(demo_engine: Engine, sql: str, reason: str) -> None:
    with pytest.raises(UserError) as exc:
        demo_engine.query(sql)
    assert _code(exc) == "KT511"
    assert str(exc.value).startswith("only read-only queries are allowed")
    assert reason in str(exc.value)
    assert demo_engine.query("SELECT count(*) AS n FROM leads").to_pylist() == [{"n": 1}]


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("COPY leads TO '/tmp/kpitree-leads.csv'", "COPY"),
        ("ATTACH '/tmp/kpitree-other.duckdb' AS other", "ATTACH"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv()"),
        ("SELECT * FROM read_parquet(['a.parquet'])", "read_parquet()"),
        ("SELECT * FROM glob('/etc/*')", "glob()"),
        ("SELECT * FROM query('SELECT 1')", "query()"),
        ("SELECT * FROM '/etc/passwd'", "'/etc/passwd'"),
        ('FROM "leads.csv"', "'leads.csv'"),
        ("PRAGMA database_list", "PRAGMA"),
        ("SET TimeZone = 'UTC'", "SET"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("CALL pragma_version()", "CALL"),
    ],
)
def test_duckdb_query_refuses_files_and_session_changes(
    tmp_path: Path, sql: str, reason: str
) -> None:
    with open_engine(tmp_path / "w.duckdb") as engine, pytest.raises(UserError) as exc:
        engine.query(sql)
    assert _code(exc) == "KT511"
    assert reason in str(exc.value)


def test_duckdb_query_runs_in_a_read_only_transaction() -> None:
    """What the parser lets through still cannot write: nextval() needs a write."""
    with open_engine("duckdb://") as engine:
        engine.backend.con.execute("CREATE SEQUENCE numbers").fetchall()
        with pytest.raises(UserError) as exc:
            engine.query("SELECT nextval('numbers')")
    assert _code(exc) == "KT511"
    assert "read-only" in str(exc.value)


def test_duckdb_query_does_not_see_python_variables(tmp_path: Path) -> None:
    secret_rows = pa.table({"password": ["hunter2"]})  # DuckDB could scan this by name
    with open_engine(tmp_path / "w.duckdb") as engine, pytest.raises(UserError) as exc:
        engine.query("SELECT * FROM secret_rows")
    assert _code(exc) == "KT512"
    assert secret_rows.num_rows == 1


def test_query_syntax_error_gives_the_database_message(demo_engine: Engine) -> None:
    with pytest.raises(UserError) as exc:
        demo_engine.query("SELEC lead_id FROM leads")
    assert _code(exc) == "KT512"
    assert f"the query failed on {demo_engine.name}" in str(exc.value)
    assert 'syntax error at or near "SELEC"' in str(exc.value)


def test_query_unknown_column_gives_the_database_message(demo_engine: Engine) -> None:
    with pytest.raises(UserError) as exc:
        demo_engine.query("SELECT no_such_column FROM leads", limit=5)
    assert _code(exc) == "KT512"
    assert "no_such_column" in str(exc.value)


@pytest.mark.postgres
def test_postgres_query_runs_in_a_read_only_transaction(postgres_url: str) -> None:
    with open_engine(postgres_url) as engine:
        with engine.backend.con.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE IF NOT EXISTS numbers")
        with pytest.raises(UserError) as exc:
            engine.query("SELECT nextval('numbers')")
        assert _code(exc) == "KT511"
        assert "read-only transaction" in str(exc.value)
        # The connection is usable afterwards, and writable again for other work.
        assert engine.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]
        with engine.backend.con.cursor() as cursor:
            assert cursor.execute("SELECT nextval('numbers')").fetchone() is not None


@pytest.mark.parametrize(
    "sql", ["SELECT pg_read_file('/etc/passwd')", "SELECT * FROM leads FOR UPDATE"]
)
@pytest.mark.postgres
def test_postgres_query_refuses_files_and_locks(postgres_url: str, sql: str) -> None:
    with open_engine(postgres_url) as engine, pytest.raises(UserError) as exc:
        engine.query(sql)
    assert _code(exc) == "KT511"


# -- loading -----------------------------------------------------------------------------


def test_ddl_is_generated_from_the_schema() -> None:
    ddl = canonical_ddl("leads")
    assert ddl.startswith("CREATE TABLE IF NOT EXISTS leads (\n")
    assert "    lead_id TEXT NOT NULL," in ddl
    assert "    created_at TIMESTAMPTZ NOT NULL," in ddl
    assert "    attributes JSONB\n)" in ddl
    assert "annual_revenue DOUBLE PRECISION" in canonical_ddl("accounts")
    assert "score INTEGER NOT NULL" in canonical_ddl("nps_responses")
    assert "spend_date DATE NOT NULL" in canonical_ddl("marketing_spend")
    assert "attributes JSON\n)" in canonical_ddl("leads", "duckdb")


def test_load_canonical_refuses_a_warehouse_and_read_only_engines(tmp_path: Path) -> None:
    tables = {"leads": _one_lead(datetime(2026, 1, 5, tzinfo=UTC))}
    with pytest.raises(UserError) as exc:
        load_canonical(tmp_path / "w.duckdb", tables)
    assert _code(exc) == "KT516"
    assert "kpitree import" in str(exc.value)
    with open_engine(tmp_path / "w.duckdb") as engine, pytest.raises(UserError) as exc:
        load_canonical(engine, tables)
    assert _code(exc) == "KT516"


def test_load_canonical_checks_names() -> None:
    with open_engine("duckdb://") as engine:
        with pytest.raises(UserError) as exc:
            load_canonical(engine, {"lead": _one_lead(datetime(2026, 1, 5, tzinfo=UTC))})
        assert _code(exc) == "KT510"
        with pytest.raises(UserError) as exc:
            load_canonical(engine, {"leads": pa.table({"lead_id": ["x"], "colour": ["red"]})})
        assert _code(exc) == "KT516"
        assert "colour" in str(exc.value)


def test_load_canonical_replaces_rows(engine_on: OpenEngine) -> None:
    first = _one_lead(datetime(2026, 1, 5, tzinfo=UTC))
    engine = engine_on({"leads": first})
    again = pa.concat_tables([first, first.set_column(0, "lead_id", pa.array(["L2"]))])
    assert load_canonical(
        engine if engine.name == "duckdb" else engine.where, {"leads": again}
    ) == {"leads": 2}
    ids = engine.query("SELECT lead_id FROM leads ORDER BY lead_id").column("lead_id")
    assert ids.to_pylist() == ["L1", "L2"]


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "warehouse.duckdb"
    Warehouse(path).bulk_load(generate("tiny", seed=1).tables, label="demo")
    return path


def _leads_per_channel_and_month(engine: Engine) -> ir.Table:
    leads = engine.table("leads")
    month = leads.created_at.date().truncate("M")
    return (
        leads.group_by(channel=leads.channel, month=month)
        .agg(leads=leads.count())
        .order_by(["month", "channel"])
    )


def _won_amount_per_month(engine: Engine) -> ir.Table:
    deals = engine.table("deals")
    won = deals.filter(deals.status == "won")
    return (
        won.group_by(month=won.close_date.truncate("M"))
        .agg(amount=won.amount.sum(), deals=won.count())
        .order_by("month")
    )


def _activities_per_local_day_of_week(engine: Engine) -> ir.Table:
    activities = engine.table("activities")
    weekday = activities.occurred_at.date().day_of_week.index()
    return activities.group_by(weekday=weekday).agg(n=activities.count()).order_by("weekday")


@pytest.mark.postgres
def test_copy_warehouse_gives_identical_results_on_postgres(
    demo_warehouse: Path, postgres_url: str
) -> None:
    counts = copy_warehouse(demo_warehouse, postgres_url)
    assert counts == Warehouse(demo_warehouse).row_counts()
    assert counts["leads"] > 0 and counts["deals"] > 0
    with open_engine(demo_warehouse) as duck, open_engine(postgres_url) as pg:
        for metric in (
            _leads_per_channel_and_month,
            _won_amount_per_month,
            _activities_per_local_day_of_week,
        ):
            on_duckdb = duck.execute(metric(duck))
            on_postgres = pg.execute(metric(pg))
            assert on_duckdb.num_rows > 1, metric.__name__
            assert on_postgres.to_pylist() == on_duckdb.to_pylist(), metric.__name__
        # Every canonical table arrives whole: same rows, same values.
        for t in TABLES:
            keys = list(t.primary_key)
            a = duck.execute(duck.table(t.name).order_by(keys))
            b = pg.execute(pg.table(t.name).order_by(keys))
            assert _comparable(b) == _comparable(a), t.name


def _comparable(rows: pa.Table) -> list[dict[str, object]]:
    # JSONB keeps objects, not text: keys come back in its own order.
    return [
        {k: json.loads(v) if k == "attributes" and v is not None else v for k, v in row.items()}
        for row in rows.to_pylist()
    ]


def test_every_error_code_is_documented() -> None:
    root = Path(__file__).resolve().parents[2]
    emitted = set()
    src = root / "src" / "kpitree"
    engine_files = [*(src / "engines").glob("*.py"), *(src / "data").glob("pg*.py")]
    for path in engine_files:
        emitted |= set(re.findall(r'"(KT\d{3})"', path.read_text(encoding="utf-8")))
    doc = (root / "docs" / "engine.md").read_text(encoding="utf-8")
    section = doc.split("## Engines: DuckDB, PostgreSQL and others", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", section, flags=re.MULTILINE))
    # The PostgreSQL warehouse also raises the warehouse's own codes (KT4xx).
    assert {c for c in emitted if not c.startswith("KT4")} == documented
    # KT510-KT519: opening and querying an engine; KT550-KT559: landed tables;
    # KT570-KT579: imports into an engine.
    ours = {f"KT5{d}{i}" for d in (1, 5, 7) for i in range(10)}
    assert {c for c in emitted if not c.startswith("KT4")} <= ours
