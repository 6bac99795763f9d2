"""The web benchmark still runs: a real server on the tiny demo company answers
every page and its JSON twin under concurrent clients (timings are not checked
here: the measured ones are in docs/web.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "bench" / "bench_web.py"


@pytest.mark.slow
def test_bench_web_runs_on_the_tiny_company(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--size",
            "tiny",
            "--clients",
            "3",
            "--requests",
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
    for name in ("tree", "node drill-down (api)", "funnel", "departments", "plan edited"):
        assert f"\n{name} " in out.stdout, out.stdout
    assert "requests from 3 clients" in out.stdout
    assert "live: kpitree import of 7 deals" in out.stdout
    assert "live: kpitree import of 7 leads" in out.stdout


@pytest.mark.slow
def test_bench_web_measures_the_load_while_imports_run(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--size", "tiny", "--clients", "3", "--duration", "4",
         "--imports-during", "--no-live", "--cache-dir", str(tmp_path), "--no-write"],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "p99 ms" in out.stdout and "load average (1, 5, 15 min)" in out.stdout
    found = re.search(r"imports during the load: (\d+) \(deals: (\d+) imports", out.stdout)
    assert found and int(found.group(1)) >= 1 and int(found.group(2)) >= 1, out.stdout
    assert "imports failed" not in out.stdout
    assert "live: kpitree import" not in out.stdout


@pytest.mark.slow
def test_bench_web_measures_the_floor_and_the_cpu_of_each_process(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--size", "tiny", "--clients", "3", "--duration", "4",
         "--imports-during", "--no-live", "--floor", "--cache-dir", str(tmp_path),
         "--no-write"],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    # kpitree's load, then the same load on the floor server, each with its CPU.
    floor = re.search(r"FLOOR .*?: (\d+) requests in .*?p95 ([\d.]+) ms", out.stdout)
    assert floor and int(floor.group(1)) > 0, out.stdout
    cpu = re.findall(r"CPU during the load .*?server ([\d.]+), the bench's clients ([\d.]+), "
                     r"imports ([\d.]+), other jobs ([\d.]+)", out.stdout)  # fmt: skip
    assert len(cpu) == 2, out.stdout
    for server, clients, imports, _ in cpu:
        assert float(server) > 0 and float(clients) > 0 and float(imports) > 0, out.stdout
    assert out.stdout.count("imports during the load:") == 2
    assert "imports failed" not in out.stdout
