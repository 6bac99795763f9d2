"""The project's app database (``.kpitree/app.sqlite``): state the people using
kpitree create (users, alert history, actions, revisions, notes, shared links,
report deliveries), kept beside the project and never in the warehouse.

:class:`AppStore` is what a store of that database shares: the file opened in
WAL mode with a generous busy timeout (a CLI command and the server take turns
on it), its tables created if missing, and ``BEGIN IMMEDIATE`` transactions.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Self

__all__ = ["APP_DB", "AppStore"]

APP_DB = Path(".kpitree") / "app.sqlite"


_APPLIED: set[tuple[str, int, int, str]] = set()


class AppStore:
    """One open connection to a project's app database with ``schema`` applied
    (a script of ``CREATE ... IF NOT EXISTS`` statements)."""

    def __init__(self, project_root: Path, schema: str) -> None:
        self.path = project_root / APP_DB
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        # Once per file (its inode and change time: a file made again is
        # another) and schema in a process: a server opens a store on many
        # requests, and the script is only CREATE ... IF NOT EXISTS.
        st = self.path.stat()
        key = (str(self.path), st.st_ino, st.st_ctime_ns, schema)
        if key not in _APPLIED:
            self.db.executescript(schema)
            _APPLIED.add(key)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``); rolled
        back when the block raises."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
