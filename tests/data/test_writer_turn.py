"""A process that reads the warehouse without pause (the web server warming its
pages) must not keep a writer (``kpitree import``) out: readers wait while a
writer has announced itself."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kpitree.data.warehouse import Warehouse, wait_for_writers, writer_turn, writers_waiting

READER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from kpitree.engines import open_engine

    path, until = Path(sys.argv[1]), time.monotonic() + float(sys.argv[2])
    Path(sys.argv[3]).write_text("reading")
    rounds = 0
    while time.monotonic() < until:
        # One page's worth of reading: the file is held for 0.4 s, then
        # opened again at once.
        with open_engine(path, timezone="UTC") as engine:
            engine.execute_sql("SELECT count(*) FROM leads")
            time.sleep(0.4)
        rounds += 1
    print(rounds)
    """
)


@pytest.mark.slow
def test_a_busy_reader_lets_a_waiting_writer_in(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).migrate()
    started = tmp_path / "started"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(path), "8", str(started)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline, "the reader did not start"
            time.sleep(0.02)
        time.sleep(0.5)  # the reader is in its loop
        waited = []
        for _ in range(3):
            began = time.monotonic()
            # Without the turn, the writer's retries land while the reader holds
            # the file and it gives up after its lock timeout (KT403).
            with Warehouse(path, lock_timeout=4).connect() as con:
                con.execute("SELECT 1").fetchall()
            waited.append(time.monotonic() - began)
            time.sleep(0.3)
        assert max(waited) < 2.0, waited
    finally:
        out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0
    assert int(out.strip()) >= 5  # the reader kept reading between the writes


def test_a_writers_turn_is_seen_by_other_processes_only(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with writer_turn(path):
        marker = next(tmp_path.glob("warehouse.duckdb.writer-*"))
        assert marker.name.endswith(f"-{os.getpid()}")
        assert not writers_waiting(path)  # this process's own turn
        began = time.monotonic()
        wait_for_writers(path, timeout=5)
        assert time.monotonic() - began < 0.5
    assert not marker.exists()


def test_nested_turns_of_one_process_keep_the_marker(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with writer_turn(path):
        with writer_turn(path):
            pass
        assert list(tmp_path.glob("warehouse.duckdb.writer-*"))  # the outer turn still holds
    assert not list(tmp_path.glob("warehouse.duckdb.writer-*"))


def test_a_turn_left_by_a_dead_process_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f"warehouse.duckdb.writer-{gone.stdout.strip()}"
    stale.write_text("0\n")
    assert not writers_waiting(path)
    assert not stale.exists()
    alive = tmp_path / f"warehouse.duckdb.writer-{os.getppid()}"
    alive.write_text("0\n")
    assert writers_waiting(path)  # the parent process is alive
    alive.unlink()
    assert not writers_waiting(path)
