"""A computing ``kpitree status`` asks the warehouse in few round trips: who
the owners are in one batch (the facts of every owner table counted in one
query), then the metric queries with everything else the status and its
output need (when each source last had a fact, the schedule of renewals, the
reps' names) in one batch, and nothing after it. Each run a fresh process, as
a user runs the command, with the results kept by earlier commands removed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.project import Project

STATUS = ["--period", "FY2025", "--by", "department", "--by", "team", "--by", "rep"]
STATUS += ["--as-of", "2026-04-01", "--json"]

# The statements the command sends, batch by batch (a batch of one is one
# ``execute_sql``; a batch of several runs two at a time on DuckDB's cursors).
_PROBE = """
import json, sys
from kpitree.cli import main
from kpitree.engines.engine import Engine

batches = []
many, one = Engine.execute_sql_many, Engine.execute_sql

def execute_sql_many(self, sqls):
    if len(sqls) > 1:
        batches.append(list(sqls))
    return many(self, sqls)

def execute_sql(self, sql):
    batches.append([sql])
    return one(self, sql)

Engine.execute_sql_many, Engine.execute_sql = execute_sql_many, execute_sql
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
sys.stderr.write(json.dumps(batches))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batches")
    Warehouse(folder / "warehouse.duckdb").bulk_load(generate("tiny", seed=3).tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return folder / "project"


def _status(project: Path) -> tuple[str, list[list[str]]]:
    shutil.rmtree(project / ".kpitree" / "cache" / "results", ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "status", str(project), *STATUS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def _reads(sql: str, table: str) -> bool:
    return f'"{table}"' in sql


def test_a_computing_status_asks_in_two_batches(project: Path) -> None:
    first, _ = _status(project)  # compiles and keeps the SQL, as a user's first command
    out, batches = _status(project)
    assert out == first

    # The custom dimensions' registry (never kept: kpitree does not count its
    # writes) is read on its own, once.
    registry = [b for b in batches if any(_reads(s, "kpitree_dimensions") for s in b)]
    assert registry in ([], [registry[0]]) and len(registry[0] if registry else []) <= 1
    rest = [b for b in batches if b not in registry]
    assert len(rest) == 2, [len(b) for b in rest]
    owners, last = rest

    # Who owns the facts: the reps, their assignments and the owner counts of
    # every owner table, in one batch of three queries.
    assert len(owners) == 3 and any(_reads(s, "rep_assignments") for s in owners), owners
    counts = [s for s in owners if _reads(s, "activities")]
    assert len(counts) == 1
    for table in ("leads", "deals", "accounts", "activities"):
        assert _reads(counts[0], table), table

    # Then one batch, the last: the metric queries, the latest facts, the
    # renewals' schedule and the reps' names.
    assert any(_reads(s, "lead_stage_history") for s in last)
    assert any(s.startswith('SELECT CAST("k"') for s in last), "the latest facts"
    assert any(_reads(s, "contracts") and '"all0"' in s for s in last), "the schedule"
    names = [s for s in last if _reads(s, "reps")]
    assert len(names) == 1 and '"email"' not in names[0], "the reps' names"
