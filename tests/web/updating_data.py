"""New data that a real server sees at once but cannot read yet: one deal won
today, written by this process in the warehouse, which it keeps open (DuckDB's
file lock) until the block ends. Meanwhile the server's computations of the new
data wait for the file, so whatever a page answers then is the previous data's."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .conftest import run_kpitree

__all__ = ["status_actual", "won_deal_held"]


@contextmanager
def won_deal_held(project: Path) -> Iterator[None]:
    """One more deal won today in ``project``'s warehouse, the file held open
    by this process until the block ends."""
    import duckdb

    from kpitree.data.writers import bump_versions

    path = project / ".kpitree" / "warehouse.duckdb"
    deadline = time.monotonic() + 60
    while True:  # the server opens the file for its reads: wait for a gap
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    try:
        today = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()
        con.execute(
            "INSERT INTO deals SELECT * REPLACE ('held-' || deal_id AS deal_id, "
            "?::DATE AS close_date) FROM deals WHERE status = 'won' ORDER BY deal_id LIMIT 1",
            [today],
        ).fetchall()
        bump_versions(con, ["deals"])
        yield
    finally:
        con.close()


def status_actual(project: Path, node: str) -> float:
    """``node``'s actual this month as ``kpitree status --json`` computes it in
    its own process (no server, no page cache)."""
    result = run_kpitree("status", project, "--json", "--no-compare")
    rows: list[dict[str, Any]] = json.loads(result.stdout)["rows"]
    (found,) = (r for r in rows if r["node"] == node and not r["segment"])
    return float(found["actual"])
