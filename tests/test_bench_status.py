"""The status benchmark still runs and its three implementations still agree
(timings are not checked here: they live in bench/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "bench" / "bench_status.py"


@pytest.mark.slow
def test_bench_status_runs_on_the_tiny_company(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--size",
            "tiny",
            "--repeat",
            "1",
            "--cache-dir",
            str(tmp_path),
            "--no-write",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "duckdb_sql: same numbers as kpitree_status" in out.stdout
    assert "pandas: same numbers as kpitree_status" in out.stdout
    assert "kpitree_cold: same numbers as kpitree_status" in out.stdout
    assert "kpitree_compare: same numbers as kpitree_status" in out.stdout
    # The command as users run it gives the hand-written query's numbers too.
    assert "kpitree_cli: same numbers as duckdb_cli" in out.stdout
    assert "end to end, fresh processes: kpitree_cli / duckdb_cli = " in out.stdout
    steps = ("duckdb_sql", "kpitree_cold", "kpitree_status", "kpitree_compare", "pandas")
    for step in (*steps, "duckdb_cli", "kpitree_cli"):
        assert f"\n{step} " in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "generator"),
    [("tiny", "demo"), ("20k", "sql")],  # the demo company; one generated in DuckDB SQL
)
def test_bench_scaling_compares_the_command_with_the_hand_query(
    tmp_path: Path, size: str, generator: str
) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH.with_name("bench_scaling.py")),
            "--size",
            size,
            "--generator",
            generator,
            "--cache-dir",
            str(tmp_path),
            "--no-write",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{size}: same numbers" in out.stdout
    assert "load average before / after" in out.stdout
