"""Interrupting the queries of the engines opened for one purpose (the web
server's warm-up round, when new data makes it stale)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from kpitree.data.warehouse import Warehouse
from kpitree.engines import open_engine
from kpitree.engines.engine import OPENED_FOR, interrupt_engines

# Long enough to still run when interrupted (minutes uninterrupted).
SLOW = "SELECT count(*) FROM range(100000000000) a"


def test_engines_of_one_purpose_are_interrupted_and_others_not(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).migrate()
    outcome: dict[str, object] = {}

    def run(name: str, purpose: object, sqls: list[str]) -> None:
        token = OPENED_FOR.set(purpose)
        try:
            with open_engine(path, timezone="UTC") as engine:
                started = time.monotonic()
                try:
                    list(engine.execute_sql_many(sqls))
                    outcome[name] = "finished"
                except duckdb.InterruptException:
                    outcome[name] = time.monotonic() - started
        finally:
            OPENED_FOR.reset(token)

    warm = threading.Thread(target=run, args=("warm", "round-1", [SLOW, SLOW]))
    other = threading.Thread(target=run, args=("other", "page", ["SELECT 42", "SELECT 43"]))
    warm.start()
    time.sleep(0.5)  # both cursors are running
    other.start()
    other.join(30)
    assert interrupt_engines("round-2") == 0  # another round: nothing of it is open
    assert interrupt_engines(None) == 0  # no purpose never matches
    asked = interrupt_engines("round-1")
    warm.join(30)
    assert not warm.is_alive()
    assert asked == 1
    assert outcome["other"] == "finished"
    assert isinstance(outcome["warm"], float) and outcome["warm"] < 10


def test_a_closed_engine_is_not_asked(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).migrate()
    token = OPENED_FOR.set("gone")
    try:
        with open_engine(path, timezone="UTC") as engine:
            engine.execute_sql("SELECT 1")
    finally:
        OPENED_FOR.reset(token)
    assert interrupt_engines("gone") == 0


@pytest.mark.parametrize("url", ["duckdb://"])
def test_interrupt_with_nothing_running_is_harmless(url: str) -> None:
    with open_engine(url, timezone="UTC") as engine:
        engine.interrupt()
        assert engine.execute_sql("SELECT 7 AS x").to_pylist() == [{"x": 7}]
