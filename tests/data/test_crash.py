"""A process killed in the middle of an import leaves the warehouse exactly as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kpitree.data.warehouse import PAUSE_ENV, Warehouse, default_warehouse_path

from .warehouse_support import batch, lead, snapshot

# Imports 300,000 new leads with their history and changes every lead already stored,
# so the killed transaction has inserts, updates and change-log rows in flight.
IMPORTER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pyarrow as pa
    from kpitree.data.batch import MappedBatch
    from kpitree.data.warehouse import Warehouse

    n = 300_000
    ids = pa.array([f"L{i}" for i in range(n)])
    created = pa.array(
        np.full(n, np.datetime64("2026-02-01T00:00:00", "us")), pa.timestamp("us", tz="UTC")
    )
    leads = pa.table({"lead_id": ids, "created_at": created, "channel": pa.array(["ads"] * n)})
    history = pa.table({"lead_id": ids, "stage": pa.array(["mql"] * n), "entered_at": created})
    tables = {"leads": leads, "lead_stage_history": history}
    batch = MappedBatch("big.csv", "f" * 64, "m", n, tables, [], [])
    print("starting", flush=True)
    Warehouse(sys.argv[1]).apply(batch, skip_invalid=False)
    print("committed", flush=True)
    """
)


def _seed(path: Path) -> Warehouse:
    wh = Warehouse(path)
    wh.apply(
        batch(
            {
                "leads": [lead(f"L{i}", 1 + i % 28) for i in range(500)],
                "lead_stage_history": [
                    {"lead_id": "L1", "stage": "lead", "entered_at": lead("L1")["created_at"]}
                ],
            }
        ),
        skip_invalid=False,
    )
    return wh


def _spawn(path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", IMPORTER, str(path)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(marker: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"importer ended early: {proc.communicate()}")
        assert time.monotonic() < deadline, "importer never reached the pause point"
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_inside_the_transaction_leaves_the_warehouse_as_before(tmp_path: Path) -> None:
    path = default_warehouse_path(tmp_path)
    wh = _seed(path)
    before = snapshot(wh)
    log_before = wh.imports()

    marker = tmp_path / "paused"
    proc = _spawn(path, {PAUSE_ENV: str(marker)})
    try:
        _wait_for(marker, proc)  # every row is written, the commit has not happened
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    reopened = Warehouse(path)
    assert snapshot(reopened) == before
    assert reopened.imports() == log_before
    with reopened.connect() as con:
        leftovers = con.execute(
            "SELECT count(*) FROM kpitree_changes_leads WHERE import_id <> 1"
        ).fetchall()
    assert leftovers == [(0,)]
    # The warehouse is fully usable afterwards: the same import now goes through.
    rerun = _spawn(path, {})
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert reopened.row_counts()["leads"] == 300_000


@pytest.mark.slow
def test_kill_at_any_moment_leaves_before_or_after(tmp_path: Path) -> None:
    """Without a pause point: whenever the kill lands, the import is all or nothing."""
    path = default_warehouse_path(tmp_path)
    wh = _seed(path)
    before = snapshot(wh)
    proc = _spawn(path, {})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "starting"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    reopened = Warehouse(path)
    statuses = [r.status for r in reopened.imports()]
    if statuses == ["applied"]:
        assert snapshot(reopened) == before
    else:
        assert statuses == ["applied", "applied"]
        counts = reopened.row_counts()
        assert (counts["leads"], counts["lead_stage_history"]) == (300_000, 300_001)
