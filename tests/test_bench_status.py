"""The status benchmark still runs and its three implementations still agree
(timings are not checked here: they live in bench/README.md)."""

from __future__ import annotations

import json
import pickle
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
    assert "kpitree_cli: same numbers as duckdb_cli (both years)" in out.stdout
    assert "kpitree_cli_year: same numbers as duckdb_cli_year" in out.stdout
    assert "end to end, fresh processes: kpitree_cli / duckdb_cli = " in out.stdout
    steps = ("duckdb_sql", "kpitree_cold", "kpitree_status", "kpitree_compare", "pandas")
    for step in (*steps, "duckdb_cli", "kpitree_cli", "duckdb_cli_year", "kpitree_cli_year"):
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


def _status_row(actual: float, previous: float | None) -> dict[str, object]:
    segment = {"department": "Sales"}
    return {
        "node": "leads",
        "period": "FY2025",
        "segment": segment,
        "actual": actual,
        "previous": previous,
        "last_year": previous,
    }


def test_the_end_to_end_comparison_checks_the_previous_year(tmp_path: Path) -> None:
    """The command's ``previous`` column is compared with the hand query's FY2024:
    a wrong one is a difference, and a rep with no row is not compared."""
    sys.path.insert(0, str(BENCH.parent))
    try:
        import bench_status as bs
    finally:
        sys.path.remove(str(BENCH.parent))
    level = ("department",)
    hand = {
        ("leads", "FY2025", level, ("Sales",)): 10.0,
        ("leads", "FY2024", level, ("Sales",)): 7.0,
        ("leads", "FY2024", level, ("Gone",)): 3.0,  # no row in FY2025: not compared
    }

    def run(previous: float | None) -> dict[str, dict[str, object]]:
        rows = [_status_row(10.0, previous)]
        steps: dict[str, dict[str, object]] = {}
        for name in ("kpitree_cli", "kpitree_cli_year"):
            out = tmp_path / f"{name}.json"
            out.write_text(json.dumps({"rows": rows}), encoding="utf-8")
            steps[name] = {"out": str(out), "values": ""}
        for name in ("duckdb_cli", "duckdb_cli_year"):
            values = tmp_path / f"{name}.pkl"
            values.write_bytes(pickle.dumps(hand))
            steps[name] = {"out": "", "values": str(values)}
        return bs.compare_end_to_end(steps, {"leads": "leads"}, 2025)

    assert run(7.0)["kpitree_cli"]["equal"]
    wrong = run(8.0)["kpitree_cli"]
    assert not wrong["equal"]
    assert wrong["first"] == ["leads FY2024 [department=Sales]: kpitree 8.0, baseline 7.0"]
    assert not run(None)["kpitree_cli"]["equal"]  # a previous year left out
