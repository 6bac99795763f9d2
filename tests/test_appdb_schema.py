"""A store of the app database applies its schema once per file in a process
(a server opens stores on many requests), and again on a file made anew (as
after a reset): its tables are always there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kpitree.appdb import AppStore

SCHEMA = "CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT);"


def tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as con:
        return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def test_the_schema_is_applied_once_per_file_and_again_on_a_new_file(tmp_path: Path) -> None:
    with AppStore(tmp_path, SCHEMA) as first:
        first.db.execute("INSERT INTO things (name) VALUES ('a')")
    assert tables(first.path) == ["things"]
    with AppStore(tmp_path, SCHEMA) as again:
        assert [tuple(r) for r in again.db.execute("SELECT name FROM things")] == [("a",)]
    # The file removed and made again (as a reset does): its tables are made again.
    for leftover in tmp_path.glob(".kpitree/app.sqlite*"):
        leftover.unlink()
    with AppStore(tmp_path, SCHEMA) as anew:
        anew.db.execute("INSERT INTO things (name) VALUES ('b')")
        assert [tuple(r) for r in anew.db.execute("SELECT name FROM things")] == [("b",)]
