"""A reader opening the warehouse while a thread of the same process has it open
for writing (the first request creating the warehouse of a new project while the
dashboard's warm-up reads it) waits its turn instead of failing with KT514; and
a writer waits for a reader in the same way."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from kpitree.data.warehouse import Warehouse
from kpitree.engines import open_engine


def test_a_reader_waits_for_a_writer_of_this_process(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).migrate()
    writer = duckdb.connect(str(path))  # read-write, in this process
    # Closed shortly after: the reader below is already waiting by then.
    threading.Timer(0.3, writer.close).start()
    with open_engine(path, read_only=True, lock_timeout=60) as engine:
        assert engine.read_only


def test_a_writer_waits_for_a_reader_of_this_process(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).migrate()
    reader = duckdb.connect(str(path), read_only=True)
    threading.Timer(0.3, reader.close).start()
    with Warehouse(path, lock_timeout=60).connect() as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
