"""Notes on the timeline: what happened on a day or over a period ("価格改定",
"展示会", "IS 2名増員"), optionally about one node and one segment, kept in the
project's app database (``<project>/.kpitree/app.sqlite``) beside the users and
alerts, never in the warehouse. Every change is kept in a history (who changed
what, when, the note before and after).

Tables:

- ``timeline_notes``: the notes as they are now (a deleted note is gone).
- ``timeline_note_history``: one row per creation, edit or deletion.

A note *touches* a chart when its dates overlap the chart's periods, its node
(if any) is the chart's node, and its segment (if any) is not excluded by the
chart's filters (a chart filtered to another department does not show a note
about inside sales; the company-wide chart does).

>>> store = NoteStore(Path("my-project"))                           # doctest: +SKIP
>>> note = store.add(NoteDraft(dt.date(2026, 10, 1), None, "price_change"), "sato")
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kpitree.appdb import APP_DB
from kpitree.errors import UserError

History = list[dict[str, Any]]

__all__ = ["MAX_TEXT", "Note", "NoteDraft", "NoteStore", "parse_day", "parse_segment"]

MAX_TEXT = 500
"""Longest note text (characters): a note is a label on a chart, not a report."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS timeline_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    start_day TEXT NOT NULL,
    end_day TEXT NOT NULL,
    node TEXT,
    segment_dim TEXT,
    segment_value TEXT,
    text TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_notes_days ON timeline_notes (start_day, end_day);
CREATE TABLE IF NOT EXISTS timeline_note_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    note_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS timeline_note_history_note ON timeline_note_history (note_id);
"""

_COLUMNS = (
    "id, start_day, end_day, node, segment_dim, segment_value, text, "
    "created_by, created_at, updated_by, updated_at"
)


def parse_day(text: str, field: str) -> dt.date:
    """A day written ``YYYY-MM-DD`` (KT681 otherwise, naming the field)."""
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise UserError.of("KT681", "notes.error.bad_day", None, field=field, value=text) from None


def parse_segment(text: str | None) -> tuple[str, str] | None:
    """``department=inside_sales`` -> ``("department", "inside_sales")``; empty
    -> ``None``; anything else is KT684. The value may be written in double
    quotes as in the pages' filters (``team="East, West"``); unquoted, the
    rest of the text is the value.

    >>> parse_segment('team="say ""hi"", East"')
    ('team', 'say "hi", East')
    """
    from kpitree.filter_text import read_value

    if text is None or not text.strip():
        return None
    dim, sep, value = text.strip().partition("=")
    if value.strip().startswith('"'):
        written = value
        value, end = read_value(written)
        if end < len(written):  # a second value after the quoted one
            raise UserError.of("KT684", "notes.error.bad_segment", None, value=text)
    if not sep or not dim.strip() or not value.strip():
        raise UserError.of("KT684", "notes.error.bad_segment", None, value=text)
    return dim.strip(), value.strip()


@dataclass(frozen=True)
class NoteDraft:
    """What an editor writes: a day (``end`` ``None``) or a period, the text, and
    optionally the node and segment it is about."""

    start: dt.date
    end: dt.date | None
    text: str
    node: str | None = None
    segment: tuple[str, str] | None = None

    def checked(self) -> NoteDraft:
        """The draft with its text trimmed; KT680 for an empty or too long text,
        KT681 for a period that ends before it starts."""
        text = self.text.strip()
        if not text or len(text) > MAX_TEXT:
            raise UserError.of("KT680", "notes.error.bad_text", None, maximum=MAX_TEXT)
        end = self.end or self.start
        if end < self.start:
            raise UserError.of(
                "KT681",
                "notes.error.ends_before_start",
                None,
                start=self.start.isoformat(),
                end=end.isoformat(),
            )
        return replace(self, text=text, end=end, node=self.node or None)


@dataclass(frozen=True)
class Note:
    """A stored note."""

    id: int
    start: dt.date
    end: dt.date
    node: str | None
    segment: tuple[str, str] | None
    text: str
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str

    def overlaps(self, start: dt.date, end: dt.date) -> bool:
        return self.start <= end and start <= self.end

    def touches(self, node: str | None, filters: Mapping[str, Any]) -> bool:
        """Whether the note belongs on a chart of ``node`` (``None``: a chart of
        no single node) under ``filters`` (dimension -> value or values)."""
        if self.node is not None and node is not None and self.node != node:
            return False
        if self.segment is None:
            return True
        dim, value = self.segment
        chosen = filters.get(dim)
        if chosen is None or chosen == "" or chosen == ():
            return True
        values = (chosen,) if isinstance(chosen, str) else tuple(chosen)
        return value in values

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "node": self.node,
            "segment": None if self.segment is None else "=".join(self.segment),
            "text": self.text,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _note(row: tuple[Any, ...]) -> Note:
    segment = (row[4], row[5]) if row[4] is not None else None
    return Note(
        id=int(row[0]),
        start=dt.date.fromisoformat(row[1]),
        end=dt.date.fromisoformat(row[2]),
        node=row[3],
        segment=segment,
        text=row[6],
        created_by=row[7],
        created_at=row[8],
        updated_by=row[9],
        updated_at=row[10],
    )


_READY: set[Path] = set()


class NoteStore:
    """The notes of one project (every call opens and closes its own
    connection, so the server's threads and the CLI can share the file)."""

    def __init__(self, project_dir: Path) -> None:
        self.path = Path(project_dir) / APP_DB

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as con:
            if self.path not in _READY:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_SCHEMA)
                _READY.add(self.path)
            with con:
                yield con

    def list(
        self,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        node: str | None = None,
    ) -> list[Note]:
        """Notes overlapping ``start``..``end`` (either open), about ``node`` or
        about no node when ``node`` is given, oldest first."""
        if not self.path.exists():
            return []
        sql = f"SELECT {_COLUMNS} FROM timeline_notes WHERE 1=1"
        args: list[Any] = []
        if start is not None:
            sql += " AND end_day >= ?"
            args.append(start.isoformat())
        if end is not None:
            sql += " AND start_day <= ?"
            args.append(end.isoformat())
        if node is not None:
            sql += " AND (node IS NULL OR node = ?)"
            args.append(node)
        sql += " ORDER BY start_day, id"
        with self._connect() as con:
            return [_note(r) for r in con.execute(sql, args).fetchall()]

    def get(self, note_id: int) -> Note:
        """The note ``note_id``; KT683 when there is none."""
        found = self._get_or_none(note_id) if self.path.exists() else None
        if found is None:
            raise UserError.of("KT683", "notes.error.unknown", None, id=note_id)
        return found

    def _get_or_none(self, note_id: int, con: sqlite3.Connection | None = None) -> Note | None:
        sql = f"SELECT {_COLUMNS} FROM timeline_notes WHERE id = ?"
        if con is not None:
            row = con.execute(sql, (note_id,)).fetchone()
        else:
            with self._connect() as own:
                row = own.execute(sql, (note_id,)).fetchone()
        return None if row is None else _note(row)

    def add(self, draft: NoteDraft, by: str) -> Note:
        """Store a new note written by ``by``."""
        draft = draft.checked()
        now = _now()
        seg = draft.segment or (None, None)
        with self._connect() as con:
            cursor = con.execute(
                "INSERT INTO timeline_notes (start_day, end_day, node, segment_dim, "
                "segment_value, text, created_by, created_at, updated_by, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    draft.start.isoformat(),
                    (draft.end or draft.start).isoformat(),
                    draft.node,
                    seg[0],
                    seg[1],
                    draft.text,
                    by,
                    now,
                    by,
                    now,
                ),
            )
            note = self._get_or_none(int(cursor.lastrowid or 0), con)
            assert note is not None
            _record(con, note.id, "created", by, now, None, note)
        return note

    def edit(self, note_id: int, draft: NoteDraft, by: str) -> Note:
        """Replace the note's dates, node, segment and text (KT683 when unknown)."""
        draft = draft.checked()
        now = _now()
        seg = draft.segment or (None, None)
        with self._connect() as con:
            before = self._get_or_none(note_id, con)
            if before is None:
                raise UserError.of("KT683", "notes.error.unknown", None, id=note_id)
            con.execute(
                "UPDATE timeline_notes SET start_day = ?, end_day = ?, node = ?, "
                "segment_dim = ?, segment_value = ?, text = ?, updated_by = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    draft.start.isoformat(),
                    (draft.end or draft.start).isoformat(),
                    draft.node,
                    seg[0],
                    seg[1],
                    draft.text,
                    by,
                    now,
                    note_id,
                ),
            )
            after = self._get_or_none(note_id, con)
            assert after is not None
            _record(con, note_id, "edited", by, now, before, after)
        return after

    def delete(self, note_id: int, by: str) -> Note:
        """Remove the note (its history stays); KT683 when unknown."""
        now = _now()
        with self._connect() as con:
            before = self._get_or_none(note_id, con)
            if before is None:
                raise UserError.of("KT683", "notes.error.unknown", None, id=note_id)
            con.execute("DELETE FROM timeline_notes WHERE id = ?", (note_id,))
            _record(con, note_id, "deleted", by, now, before, None)
        return before

    def history(self, note_id: int | None = None) -> History:
        """Every change (of one note, or of all), newest first."""
        if not self.path.exists():
            return []
        sql = "SELECT id, note_id, action, by, at, before, after FROM timeline_note_history"
        args: tuple[Any, ...] = ()
        if note_id is not None:
            sql += " WHERE note_id = ?"
            args = (note_id,)
        sql += " ORDER BY id DESC"
        with self._connect() as con:
            rows = con.execute(sql, args).fetchall()
        return [
            {
                "id": r[0],
                "note": r[1],
                "action": r[2],
                "by": r[3],
                "at": r[4],
                "before": None if r[5] is None else json.loads(r[5]),
                "after": None if r[6] is None else json.loads(r[6]),
            }
            for r in rows
        ]


def _record(
    con: sqlite3.Connection,
    note_id: int,
    action: str,
    by: str,
    at: str,
    before: Note | None,
    after: Note | None,
) -> None:
    con.execute(
        "INSERT INTO timeline_note_history (note_id, action, by, at, before, after) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            note_id,
            action,
            by,
            at,
            None if before is None else json.dumps(before.to_json(), ensure_ascii=False),
            None if after is None else json.dumps(after.to_json(), ensure_ascii=False),
        ),
    )
