"""The engine benchmark still runs, and DuckDB and chDB still agree on it
(Spark is left to the recorded runs: its JVM costs minutes here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

if os.environ.get("CI") == "true":
    import chdb  # noqa: F401  (CI installs every extra: a skip there would hide a failure)
pytest.importorskip("chdb", reason="the clickhouse extra is not installed (uv sync --all-extras)")

BENCH = Path(__file__).parent.parent.parent / "bench" / "bench_engines.py"


@pytest.mark.slow
@pytest.mark.engine
def test_bench_engines_gives_the_same_numbers_on_duckdb_and_chdb() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--size", "tiny", "--engines", "duckdb,chdb", "--no-write"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "chdb: same numbers as duckdb" in out.stdout
    assert "\nchdb " in out.stdout and "\nduckdb " in out.stdout
