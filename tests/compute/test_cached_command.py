"""A command whose SQL is cached runs it with DuckDB alone: the same bytes out as
the run that compiled it, without importing Ibis or sqlglot, nor pandas (the
roll-ups and the status table are NumPy), nor ``holidays`` (the calendar it
computed is kept), nor rich (JSON needs no terminal), nor Arrow's compute module
(DuckDB casts), nor the account scoring, nor a YAML parser, nor the definition's
validation and rules (the checked tree is kept; the built-in metrics are read
from library.json) — each run a fresh process, as a user runs ``kpitree status``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kpitree.compute.querycache import arrow_schema
from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.engines import open_engine
from kpitree.project import Project

STATUS = ["--period", "FY2025", "--by", "department", "--by", "team", "--by", "rep"]
STATUS += ["--as-of", "2026-04-01", "--json"]

# Run in a fresh interpreter: the status command, then which modules it loaded.
_PROBE = """
import json, sys
from kpitree.abm import daily
from kpitree.cli import main

# The name of the kept account scores hashes the code, abm: and the list file:
# not done unless a metric reads accounts (none of the-model's status does).
named = []
_key = daily.DailyScores._key
daily.DailyScores._key = lambda self, state: named.append(1) or _key(self, state)
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
# The warehouse is closed when the command returns.
from kpitree.engines.engine import _OPEN
assert not _OPEN, list(_OPEN)
heavy = ("ibis", "ibis.backends.duckdb", "ibis.backends.sql.compilers", "sqlglot")
heavy += ("pandas", "holidays", "rich")
# DuckDB casts the results to Ibis's types; no account is scored.
heavy += ("pyarrow.compute", "kpitree.abm.scoring")
# The checked definition is kept: no YAML read, no model validated, no rule run.
heavy += ("kpitree.definition.draft", "kpitree.definition.resolve")
heavy += ("kpitree.definition.design", "kpitree.definition.guidance")
# Only the models a kept tree holds are built: not those of the YAML's other keys.
heavy += ("kpitree.definition.spec", "kpitree.definition.spec_sources")
# The built-in metrics are read from library.json.
heavy += ("yaml",)
# What only building SQL, writing or other commands need: the cross-source
# links (joined by the queries' SQL), the custom dimensions' parsing and
# refreshing (their side tables are only named), the check of a user's own
# query, what explains a change.
heavy += ("kpitree.compute.links", "kpitree.data.links", "kpitree.data.dimensions")
heavy += ("kpitree.engines.readonly", "kpitree.value_sets", "kpitree.planning.sensitivity")
loaded = sorted(m for m in heavy if m in sys.modules)
loaded += ["account scores named"] * bool(named)
# No model of kpitree builds its validator: not the kept tree's sections, not
# the mappings' dimensions, not the built-in metrics' (library.json keeps them
# validated).
from pydantic import BaseModel
for name, module in list(sys.modules.items()):
    for model in vars(module).values() if name.startswith("kpitree.") else ():
        built = isinstance(model, type) and model.__dict__.get("__pydantic_complete__")
        if built and issubclass(model, BaseModel):
            loaded.append(f"validator of {name}.{model.__name__}")
sys.stderr.write(json.dumps(loaded))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cached")
    Warehouse(folder / "warehouse.duckdb").bulk_load(generate("tiny", seed=5).tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return folder / "project"


def _status(project: Path) -> tuple[str, list[str]]:
    """``kpitree status --json`` in a fresh process: its output and the heavy
    modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "status", str(project), *STATUS],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, loaded


def test_cached_status_is_byte_identical_and_needs_no_ibis(project: Path) -> None:
    cache = project / ".kpitree" / "cache" / "queries.json"
    cache.unlink(missing_ok=True)
    cold, cold_loaded = _status(project)
    assert cache.is_file()
    assert "ibis.backends.duckdb" in cold_loaded  # compiling needs Ibis
    assert "account scores named" not in cold_loaded
    # The command after the first keeps the checked definition (the project's
    # .kpitree folder exists now).
    second, _ = _status(project)
    assert second == cold
    # Compiled SQL kept, results not: the queries run on DuckDB alone.
    shutil.rmtree(project / ".kpitree" / "cache" / "results")
    warm, warm_loaded = _status(project)
    assert warm_loaded == []
    assert warm == cold
    # Results kept too: read back.
    again, again_loaded = _status(project)
    assert again_loaded == []
    assert again == cold
    assert json.loads(warm)["rows"]  # a real result, not an empty one


def test_arrow_types_of_cached_results_are_ibis_own() -> None:
    import ibis

    columns = [
        ("a", "int8"),
        ("b", "!string"),
        ("c", "date"),
        ("d", "float64"),
        ("e", "boolean"),
        ("f", "!int64"),
        ("g", "uint32"),
        ("h", "float32"),
        ("i", "timestamp('UTC')"),
        ("j", "decimal(18, 2)"),
    ]
    for column in columns:
        assert arrow_schema([column]).equals(ibis.schema(dict([column])).to_pyarrow()), column
    assert arrow_schema(columns).equals(ibis.schema(dict(columns)).to_pyarrow())


def test_the_ibis_backend_made_later_keeps_the_session_time_zone(project: Path) -> None:
    """An engine on a file opens with DuckDB alone; Ibis, which sets a connection
    to UTC when it takes it, must leave the project's zone in place."""
    warehouse = project.parent / "warehouse.duckdb"
    with open_engine(warehouse, timezone="Asia/Tokyo") as engine:
        sql = "SELECT CAST(TIMESTAMPTZ '2026-03-31 15:30:00+00' AS DATE) AS day"
        before = engine.execute_sql(sql).column("day")[0].as_py()
        leads = engine.table("leads")  # makes the Ibis backend
        after = engine.execute_sql(sql).column("day")[0].as_py()
        assert engine.execute(leads.count().name("n")).column("n")[0].as_py() > 0
        zone = "SELECT current_setting('TimeZone') AS zone"
        assert engine.backend.con.execute(zone).fetchall() == [("Asia/Tokyo",)]  # type: ignore[attr-defined]
        assert engine.execute_sql(zone).column("zone")[0].as_py() == "Asia/Tokyo"
    assert str(before) == str(after) == "2026-04-01"


# The `kpitree` program itself (kpitree.cli.console), with a marker for the
# interpreter's teardown (atexit handlers run in it) and one for the end
# without it, with the OpenBLAS threads NumPy was given.
_PROGRAM = """
import atexit, os, sys
atexit.register(lambda: sys.stderr.write("[teardown]"))
_exit = os._exit
def quick(code):
    import gc
    from kpitree.engines.engine import _OPEN
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    numpy = "numpy" in sys.modules
    gc_first = gc.get_threshold()[0]
    sys.stderr.write(f"[quick {code} blas={blas} numpy={numpy} gc={gc_first} open={len(_OPEN)}]")
    sys.stderr.flush()
    _exit(code)
os._exit = quick
from kpitree.cli import console
console()
"""


def _program(*args: str, stdout: Path) -> subprocess.CompletedProcess[str]:
    with stdout.open("wb") as out:
        return subprocess.run(
            [sys.executable, "-c", _PROGRAM, *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=600,
        )


def test_the_program_ends_a_status_without_teardown_same_bytes_same_codes(
    project: Path, tmp_path: Path
) -> None:
    in_process, _ = _status(project)  # main(), which ends the usual way
    out = tmp_path / "status.json"
    # Computing (it writes kept results) and reading them back: every byte out.
    shutil.rmtree(project / ".kpitree" / "cache" / "results", ignore_errors=True)
    for _ in range(2):
        done = _program("status", str(project), *STATUS, stdout=out)
        assert done.returncode == 0, done.stderr
        # Ended right after the flush, NumPy with one OpenBLAS thread.
        assert done.stderr.endswith("[quick 0 blas=1 numpy=True gc=200000 open=0]"), done.stderr
        assert out.read_text(encoding="utf-8") == in_process
    assert any((project / ".kpitree" / "cache" / "results").iterdir())
    # The text view too.
    done = _program("--lang", "en", "status", str(project), *STATUS[:-1], stdout=out)
    assert done.returncode == 0, done.stderr
    assert done.stderr.endswith("[quick 0 blas=1 numpy=True gc=200000 open=0]"), done.stderr
    assert "Revenue" in out.read_text(encoding="utf-8")
    # A failed command keeps its exit status and ends the usual way.
    done = _program("status", str(project / "missing"), *STATUS, stdout=out)
    assert done.returncode == 1
    assert done.stderr.endswith("[teardown]")
    assert "error: " in done.stderr
    # So does any command that is not only reading.
    done = _program("--version", stdout=out)
    assert done.returncode == 0
    assert done.stderr == "[teardown]"


def test_the_program_leaves_the_users_openblas_threads(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "status.json"
    with out.open("wb") as sink:
        done = subprocess.run(
            [sys.executable, "-c", _PROGRAM, "status", str(project), *STATUS],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=600,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "2"},
        )
    assert done.returncode == 0, done.stderr
    assert done.stderr.endswith("[quick 0 blas=2 numpy=True gc=200000 open=0]"), done.stderr


def test_a_long_running_command_collects_garbage_as_python_does() -> None:
    import gc

    from kpitree.cli import state

    before = gc.get_threshold()
    try:
        gc.set_threshold(200_000, 30, 30)  # as the program sets them
        state.long_running()  # as `kpitree serve` does
        assert gc.get_threshold() == state.PYTHON_GC_THRESHOLDS == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


# The SQL a status compiles is the same text in every process: kept results are
# found by it, so text that changed with Python's string hashing would miss them
# after a recompile. The demo company has cross-source links, whose joins drop
# columns.
def _compiled(project: Path, seed: int) -> tuple[str, list[str]]:
    """A status compiled afresh under string-hash seed ``seed``: its output and
    the SQL of every query it kept."""
    cache = project / ".kpitree" / "cache"
    (cache / "queries.json").unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "kpitree", "status", str(project), *STATUS],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "PYTHONHASHSEED": str(seed)},
    )
    assert done.returncode == 0, done.stderr
    # The file is its checksum's line, then the JSON.
    text = (cache / "queries.json").read_text(encoding="utf-8")
    kept = json.loads(text.split("\n", 1)[1])
    texts = sorted(_strings(kept))
    assert any("kpitree_links" in text for text in texts)  # the links are joined
    return done.stdout, texts


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value.lstrip().upper().startswith(("SELECT", "WITH")) else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_the_compiled_sql_does_not_change_with_string_hashing(project: Path) -> None:
    first_out, first_sql = _compiled(project, 1)
    for seed in (2, 3, 4):
        out, sql = _compiled(project, seed)
        assert out == first_out
        assert sql == first_sql, f"PYTHONHASHSEED={seed} compiled other SQL"
