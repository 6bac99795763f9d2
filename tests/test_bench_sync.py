"""The sync benchmark still runs end to end on a tiny portal (timings are not
checked here: they live in bench/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "bench" / "bench_sync.py"


@pytest.mark.slow
def test_bench_sync_runs_on_a_tiny_portal() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--contacts", "200", "--deals", "20", "--no-salesforce",
         "--no-write"],
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hubspot    full" in out.stdout and "hubspot    incremental" in out.stdout
    assert "hubspot    unchanged" in out.stdout  # and it changed nothing (else an error)
    assert "peak RSS of the full sync" in out.stdout
