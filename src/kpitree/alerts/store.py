"""Alert state and history in the project's app database
(``<project>/.kpitree/app.sqlite``, WAL mode, shared with the web app's own
tables), and the lock that keeps two runs from sending twice.

Tables (all ``alert_``-prefixed; instants are UTC ISO-8601 text, which sorts
in time order):

- ``alert_state``: one row per (rule, node, segment) ever evaluated true:
  ``firing`` or ``resolved``, since when, last notified when.
- ``alert_events``: every fired / renotified / resolved event with its facts.
- ``alert_deliveries``: one row per event and channel: ``pending`` until a
  receiver accepted it, then ``sent``; attempts and the last error are kept.
- ``alert_runs``: one row per run (what it evaluated, sent and left pending).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kpitree.appdb import APP_DB, AppStore
from kpitree.errors import UserError

__all__ = ["APP_DB", "AlertStore", "iso", "parse_iso", "run_lock"]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (
    rule TEXT NOT NULL,
    node TEXT NOT NULL,
    segment TEXT NOT NULL,
    state TEXT NOT NULL,
    since TEXT NOT NULL,
    last_notified_at TEXT,
    last_event_id INTEGER,
    PRIMARY KEY (rule, node, segment)
);
CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    node TEXT NOT NULL,
    segment TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    severity TEXT NOT NULL,
    period TEXT,
    facts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_at ON alert_events (at);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES alert_events (id),
    channel TEXT NOT NULL,
    channel_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT,
    UNIQUE (event_id, channel)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_status ON alert_deliveries (status);
CREATE TABLE IF NOT EXISTS alert_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    now TEXT NOT NULL,
    started_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""


def iso(at: dt.datetime) -> str:
    """UTC ISO text with seconds, so that text order is time order."""
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class AlertStore(AppStore):
    """The alert tables of one project's app database."""

    def __init__(self, project_root: Path) -> None:
        super().__init__(project_root, _SCHEMA)

    # -- state ----------------------------------------------------------------------

    def states(self) -> dict[tuple[str, str, str], sqlite3.Row]:
        rows = self.db.execute("SELECT * FROM alert_state").fetchall()
        return {(r["rule"], r["node"], r["segment"]): r for r in rows}

    def add_event(
        self,
        rule: str,
        node: str,
        segment: str,
        kind: str,
        at: dt.datetime,
        severity: str,
        period: str | None,
        facts: dict[str, Any],
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO alert_events (rule, node, segment, kind, at, severity, period, facts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (rule, node, segment, kind, iso(at), severity, period, json.dumps(facts)),
        )
        event_id = cur.lastrowid
        assert event_id is not None
        state = "resolved" if kind == "resolved" else "firing"
        self.db.execute(
            "INSERT INTO alert_state (rule, node, segment, state, since, last_notified_at,"
            " last_event_id) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (rule, node, segment) DO UPDATE SET state = excluded.state,"
            " since = CASE WHEN alert_state.state = excluded.state THEN alert_state.since"
            " ELSE excluded.since END,"
            " last_notified_at = excluded.last_notified_at,"
            " last_event_id = excluded.last_event_id",
            (rule, node, segment, state, iso(at), iso(at), event_id),
        )
        return event_id

    def add_delivery(self, event_id: int, channel: str, kind: str, due: dt.datetime) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO alert_deliveries (event_id, channel, channel_kind, status,"
            " due_at, next_attempt_at) VALUES (?, ?, ?, 'pending', ?, ?)",
            (event_id, channel, kind, iso(due), iso(due)),
        )

    # -- deliveries -----------------------------------------------------------------

    def due_deliveries(self, now: dt.datetime) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT d.*, e.rule AS rule FROM alert_deliveries d"
            " JOIN alert_events e ON e.id = d.event_id"
            " WHERE d.status = 'pending' AND d.due_at <= ? AND d.next_attempt_at <= ?"
            " ORDER BY d.id",
            (iso(now), iso(now)),
        ).fetchall()

    def pending(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT d.*, e.rule AS rule FROM alert_deliveries d"
            " JOIN alert_events e ON e.id = d.event_id WHERE d.status = 'pending' ORDER BY d.id"
        ).fetchall()

    def defer(self, delivery_id: int, until: dt.datetime) -> None:
        self.db.execute(
            "UPDATE alert_deliveries SET due_at = ? WHERE id = ?", (iso(until), delivery_id)
        )

    def delivered(self, delivery_id: int, attempts: int, at: dt.datetime) -> None:
        self.db.execute(
            "UPDATE alert_deliveries SET status = 'sent', attempts = attempts + ?,"
            " sent_at = ?, last_error = NULL WHERE id = ?",
            (attempts, iso(at), delivery_id),
        )

    def failed(self, delivery_id: int, attempts: int, error: str, retry_at: dt.datetime) -> None:
        self.db.execute(
            "UPDATE alert_deliveries SET attempts = attempts + ?, last_error = ?,"
            " next_attempt_at = ? WHERE id = ?",
            (attempts, error[:2000], iso(retry_at), delivery_id),
        )

    # -- history --------------------------------------------------------------------

    def event(self, event_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM alert_events WHERE id = ?", (event_id,)
        ).fetchone()
        assert row is not None
        return row

    def events(
        self, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> list[sqlite3.Row]:
        sql = "SELECT * FROM alert_events WHERE 1 = 1"
        args: list[str] = []
        if start is not None:
            sql += " AND at >= ?"
            args.append(iso(start))
        if end is not None:
            sql += " AND at < ?"
            args.append(iso(end))
        return self.db.execute(sql + " ORDER BY at, id", args).fetchall()

    def deliveries_of(self, event_ids: list[int]) -> dict[int, list[sqlite3.Row]]:
        out: dict[int, list[sqlite3.Row]] = {i: [] for i in event_ids}
        for chunk in range(0, len(event_ids), 500):
            ids = event_ids[chunk : chunk + 500]
            marks = ",".join("?" * len(ids))
            for row in self.db.execute(
                f"SELECT * FROM alert_deliveries WHERE event_id IN ({marks}) ORDER BY id", ids
            ):
                out[row["event_id"]].append(row)
        return out

    def latest_moment(self) -> str | None:
        """The latest ``now`` any run recorded, or any event happened at (ISO,
        UTC: comparable as text), or None for a fresh store."""
        row = self.db.execute(
            "SELECT max(m) AS m FROM (SELECT max(now) AS m FROM alert_runs"
            " UNION ALL SELECT max(at) FROM alert_events)"
        ).fetchone()
        return row["m"] if row is not None else None

    def record_run(self, now: dt.datetime, summary: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO alert_runs (now, started_at, summary) VALUES (?, ?, ?)",
            (iso(now), iso(dt.datetime.now(dt.UTC)), json.dumps(summary)),
        )


@contextlib.contextmanager
def run_lock(project_root: Path, timeout: float = 30.0) -> Iterator[None]:
    """An exclusive file lock (``.kpitree/alerts.lock``) held for one run; a
    second run waits up to ``timeout`` seconds, then gives up (KT720)."""
    import fcntl

    path = project_root / ".kpitree" / "alerts.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UserError.of("KT720", "alerts.locked", None, path=str(path)) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
