"""The SQL a status compiles is the same text in every process: kept results
are found by it (``.kpitree/cache/queries.json`` and the results beside it), so
text that changed with Python's string hashing would miss them after a
recompile. The demo company has cross-source links, whose joins drop columns."""

from __future__ import annotations

import json
import os
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


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hashing")
    Warehouse(folder / "warehouse.duckdb").bulk_load(generate("tiny", seed=5).tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return folder / "project"


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
