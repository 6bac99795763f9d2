"""Versioned migrations of the warehouse.

Each migration is a file ``NNNN_<name>.sql`` in this folder, applied once, in
version order, in its own transaction together with its row in
``kpitree_schema_version``. A migration that has been released is never edited:
a change to :mod:`kpitree.data.schema` ships as a new file (``ALTER TABLE ... ADD
COLUMN`` on the table *and* on its ``kpitree_changes_<table>`` twin). A test
compares the migrated warehouse with the schema, so a forgotten migration fails CI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from kpitree.errors import DataError

if TYPE_CHECKING:
    import duckdb

__all__ = ["VERSION_TABLE", "Migration", "applied_versions", "apply_pending", "migrations"]

VERSION_TABLE = "kpitree_schema_version"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned step of the warehouse layout."""

    version: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """Every migration shipped with this version of kpitree, oldest first."""
    found: list[Migration] = []
    for entry in resources.files(__name__).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    # Gaps or duplicates mean a botched merge; refuse rather than guess the order.
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must be 1..n without gaps, got {versions}")
    return tuple(found)


def applied_versions(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Versions already applied to the warehouse behind ``con``."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    rows = con.execute(f"SELECT version FROM {VERSION_TABLE} ORDER BY version").fetchall()
    return [int(r[0]) for r in rows]


def apply_pending(con: duckdb.DuckDBPyConnection, *, path: str) -> list[int]:
    """Apply the migrations the warehouse has not seen yet; return their versions.

    Running it again is a no-op. A warehouse written by a newer kpitree (a version
    this one does not know) is refused instead of being half-understood.
    """
    done = set(applied_versions(con))
    known = migrations()
    newest = max((m.version for m in known), default=0)
    if done and max(done) > newest:
        raise DataError.of(
            "KT402", "warehouse.too_new", path=path, version=max(done), supported=newest
        )
    applied: list[int] = []
    for migration in known:
        if migration.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                f"INSERT INTO {VERSION_TABLE} VALUES (?, ?, now())",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
