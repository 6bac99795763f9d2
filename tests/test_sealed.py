"""Files a project keeps for later commands are sealed with the user's own key:
SQL, a definition, results or account scores that someone else put in a
project's ``.kpitree/cache`` (a shared drive, a repository) are never used —
each command runs as a fresh process, as a user runs it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
import pytest
import yaml

from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.project import Project
from kpitree.sealed import KEY_FILE, seal, unseal

STATUS = ["--period", "FY2025", "--by", "team", "--as-of", "2026-04-01", "--json"]


def test_a_seal_verifies_only_its_own_bytes_under_the_users_key() -> None:
    body = json.dumps({"queries": {"k": ["SELECT 1", [], []]}}).encode()
    sealed = seal(body)
    assert unseal(sealed) == body
    assert unseal(body) is None  # a plain file, as an older kpitree or a planter writes it
    assert unseal(sealed[:-1] + b"]") is None  # one byte changed
    other = hmac.new(b"k" * 32, body, hashlib.sha256).hexdigest().encode()
    assert unseal(other + b"\n" + body) is None  # another user's key
    assert unseal(b"") is None


def test_the_key_is_the_owners_alone_and_the_same_in_every_process() -> None:
    key = Path(os.environ["KPITREE_CACHE_DIR"]) / KEY_FILE
    seal(b"x")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from kpitree.sealed import seal; sys.stdout.buffer.write(seal(b'x'))",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert done.stdout == seal(b"x")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    Warehouse(tmp_path / "warehouse.duckdb").bulk_load(
        generate("tiny", seed=3).tables, label="demo"
    )
    definition = Project.init(tmp_path / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(tmp_path / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return tmp_path / "project"


def _status(project: Path) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from kpitree.cli import main; main()",
            "status",
            str(project),
            *STATUS,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _plain(path: Path) -> bytes:
    """The body of a sealed file: what a planter would write without the key."""
    data = path.read_bytes()
    body = unseal(data)
    return data if body is None else bytes(body)


def test_planted_sql_is_never_run(project: Path, tmp_path: Path) -> None:
    expected = _status(project)
    cache = project / ".kpitree" / "cache"
    stored = json.loads(_plain(cache / "queries.json"))
    planted = tmp_path / "planted.csv"
    for entry in stored["queries"].values():
        entry[0] = f"COPY (SELECT 42 AS x) TO '{planted}'"
    (cache / "queries.json").write_text(json.dumps(stored), encoding="utf-8")
    for result in (cache / "results").iterdir():
        result.unlink()  # so that every query must run
    assert _status(project) == expected
    assert not planted.exists()
    # The file was compiled and sealed again: the next command uses it.
    assert unseal((cache / "queries.json").read_bytes()) is not None


def test_a_planted_definition_is_never_used(project: Path) -> None:
    expected = _status(project)
    assert _status(project) == expected  # the project now keeps its checked tree
    kept = project / ".kpitree" / "cache" / "definition.json"
    text = _plain(kept).decode("utf-8")
    revenue = json.loads(expected)["rows"][0]
    assert revenue["node"] == "revenue" and revenue["target"] == 300_000_000
    assert text.count("300000000") == 1  # the revenue target
    kept.write_text(text.replace("300000000", "999999999"), encoding="utf-8")
    assert _status(project) == expected


def test_planted_results_are_never_shown(project: Path) -> None:
    expected = _status(project)
    results = project / ".kpitree" / "cache" / "results"
    files = list(results.iterdir())
    assert files
    for path in files:
        table = pyarrow.ipc.open_file(pa.py_buffer(_plain(path))).read_all()
        doubled = pa.table(
            {
                name: pc.multiply(column, 2) if pa.types.is_integer(column.type) else column
                for name, column in zip(table.column_names, table.columns, strict=True)
            }
        )
        sink = pa.BufferOutputStream()
        with pyarrow.ipc.new_file(sink, doubled.schema) as writer:
            writer.write_table(doubled)
        path.write_bytes(sink.getvalue().to_pybytes())
    assert _status(project) == expected
