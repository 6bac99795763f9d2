"""Actions (施策) and their history in the project's app database
(``<project>/.kpitree/app.sqlite``, the file alerts and report deliveries use;
never the warehouse).

Tables (instants are UTC ISO-8601 text, days ISO dates):

- ``review_actions``: one row per action, as it stands now.
- ``review_action_history``: every change (created, edited, done), who made it,
  when, and the fields it set; a closed action's measured outcome is kept
  there as it was when the action was closed.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kpitree.appdb import APP_DB, AppStore
from kpitree.errors import Span, UserError
from kpitree.review.effect import Effect, parse_effect

__all__ = ["APP_DB", "Action", "ActionStore", "NewAction", "parse_segment"]

STATUSES = ("open", "done")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    segment TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL,
    description TEXT NOT NULL,
    effect TEXT NOT NULL,
    start TEXT NOT NULL,
    due TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    closed_at TEXT,
    note TEXT
);
CREATE TABLE IF NOT EXISTS review_action_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id INTEGER NOT NULL REFERENCES review_actions (id),
    at TEXT NOT NULL,
    author TEXT NOT NULL,
    change TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_action_history_action ON review_action_history (action_id);
"""

_EDITABLE = ("node", "segment", "owner", "description", "effect", "start", "due")
MAX_TEXT = 1000
"""The longest owner, description, expected effect, segment or closing note
(characters): an action is a line in a review, not a document."""


def check_text(field: str, value: str | None, span: Span | None = None) -> None:
    """KT770 when ``value`` is longer than :data:`MAX_TEXT`."""
    if value is not None and len(value) > MAX_TEXT:
        raise UserError.of(
            "KT770", "review.text_too_long", span, field=field, length=len(value),
            maximum=MAX_TEXT,
        )  # fmt: skip


def parse_segment(text: str | None, span: Span | None = None) -> tuple[tuple[str, str], ...]:
    """``team=東日本営業部`` (or ``team:…``, several joined by ``,``) as a
    segment key; empty for the whole company; KT213 when not ``dim=value``.
    A value holding a comma or a double quote is written in double quotes,
    as in the pages' filters (:mod:`kpitree.filter_text`):
    ``team="East, West",region=関東``.

    >>> parse_segment('team="East, West", region=関東')
    (('team', 'East, West'), ('region', '関東'))
    """
    from kpitree.filter_text import read_value

    out: list[tuple[str, str]] = []
    source = text or ""
    i, n = 0, len(source)
    while i < n:
        comma = source.find(",", i)
        comma = n if comma < 0 else comma
        # The dimension ends at the first ``=`` or ``:`` before the comma.
        marks = [m for m in (source.find("=", i, comma), source.find(":", i, comma)) if m >= 0]
        if not marks:
            if source[i:comma].strip():
                raise UserError.of("KT213", "review.bad_segment", span, value=source)
            i = comma + 1
            continue
        dim = source[i : min(marks)].strip()
        value, end = read_value(source, min(marks) + 1)
        if not dim or not value:
            raise UserError.of("KT213", "review.bad_segment", span, value=source)
        out.append((dim, value))
        i = end + 1
    return tuple(out)


def segment_text(segment: Sequence[tuple[str, str]]) -> str:
    """A segment key as :func:`parse_segment` reads it back.

    >>> segment_text((("team", "East, West"), ("region", "関東")))
    'team="East, West",region=関東'
    """
    from kpitree.filter_text import filter_text

    return ",".join(f"{d}={filter_text([v])}" for d, v in segment)


@dataclass(frozen=True)
class NewAction:
    """An action as entered (checked against the tree by :meth:`checked`)."""

    node: str
    owner: str
    description: str
    effect: str
    due: dt.date | None
    start: dt.date | None = None
    segment: tuple[tuple[str, str], ...] = ()

    def checked(
        self, units: Mapping[str, str | None], today: dt.date, span: Span | None = None
    ) -> NewAction:
        """The action with its due day (from ``by …`` when not given) and start
        (default today), or a located error (unknown node, empty owner or
        description, bad effect, due before start)."""
        from kpitree.source import did_you_mean

        for name, text in (
            ("owner", self.owner),
            ("description", self.description),
            ("effect", self.effect),
            ("segment", segment_text(self.segment)),
        ):
            check_text(name, text, span)
        if self.node not in units:
            raise UserError.of(
                "KT214",
                "review.unknown_node",
                span,
                node=self.node,
                hint=did_you_mean(self.node, units),
            )
        for name, value in (("owner", self.owner), ("description", self.description)):
            if not value.strip():
                raise UserError.of("KT215", "review.missing_field", span, field=name)
        _, by = parse_effect(self.effect, units[self.node], span)
        due = self.due or by
        if due is None:
            raise UserError.of("KT215", "review.missing_field", span, field="due")
        start = self.start or today
        if due < start:
            raise UserError.of(
                "KT216",
                "review.due_before_start",
                span,
                due=due.isoformat(),
                start=start.isoformat(),
            )
        return replace(
            self,
            owner=self.owner.strip(),
            description=self.description.strip(),
            effect=self.effect.strip(),
            due=due,
            start=start,
        )


@dataclass(frozen=True)
class Action:
    id: int
    node: str
    segment: tuple[tuple[str, str], ...]
    owner: str
    description: str
    effect_text: str
    effect: Effect
    start: dt.date
    due: dt.date
    status: str  # open | done
    created_at: str
    created_by: str
    closed_at: str | None = None
    note: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def segment_text(self) -> str:
        return segment_text(self.segment)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node": self.node,
            "segment": dict(self.segment),
            "owner": self.owner,
            "description": self.description,
            "expected_effect": self.effect_text,
            "start": self.start.isoformat(),
            "due": self.due.isoformat(),
            "status": self.status,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "closed_at": self.closed_at,
            "note": self.note,
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ActionStore(AppStore):
    """The action tables of one project's app database."""

    def __init__(self, project_root: Path, units: Mapping[str, str | None]) -> None:
        self.units = units  # node -> unit, to read each action's effect
        super().__init__(project_root, _SCHEMA)

    def _action(self, row: sqlite3.Row) -> Action:
        unit = self.units.get(row["node"])
        try:
            effect, _ = parse_effect(row["effect"], unit)
        except UserError:  # the node's unit changed since: read it as written
            effect, _ = parse_effect(row["effect"], "ratio" if "pt" in row["effect"] else None)
        return Action(
            id=row["id"],
            node=row["node"],
            segment=parse_segment(row["segment"]),
            owner=row["owner"],
            description=row["description"],
            effect_text=row["effect"],
            effect=effect,
            start=dt.date.fromisoformat(row["start"]),
            due=dt.date.fromisoformat(row["due"]),
            status=row["status"],
            created_at=row["created_at"],
            created_by=row["created_by"],
            closed_at=row["closed_at"],
            note=row["note"],
        )

    def _insert(self, new: NewAction, author: str) -> int:
        assert new.due is not None and new.start is not None
        at = _now()
        cur = self.db.execute(
            "INSERT INTO review_actions (node, segment, owner, description, effect, start, due,"
            " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.node,
                segment_text(new.segment),
                new.owner,
                new.description,
                new.effect,
                new.start.isoformat(),
                new.due.isoformat(),
                at,
                author,
            ),
        )
        action_id = cur.lastrowid
        assert action_id is not None
        self._log(action_id, at, author, "created", self._fields(new))
        return action_id

    @staticmethod
    def _fields(new: NewAction) -> dict[str, Any]:
        return {
            "node": new.node,
            "segment": segment_text(new.segment),
            "owner": new.owner,
            "description": new.description,
            "effect": new.effect,
            "start": None if new.start is None else new.start.isoformat(),
            "due": None if new.due is None else new.due.isoformat(),
        }

    def _log(self, action_id: int, at: str, author: str, change: str, fields: Any) -> None:
        self.db.execute(
            "INSERT INTO review_action_history (action_id, at, author, change, fields)"
            " VALUES (?, ?, ?, ?, ?)",
            (action_id, at, author, change, json.dumps(fields, ensure_ascii=False, default=str)),
        )

    def add(self, new: NewAction, author: str) -> Action:
        """Store a checked action (see :meth:`NewAction.checked`)."""
        with self.transaction():
            action_id = self._insert(new, author)
        return self.get(action_id)

    def apply(
        self, created: Sequence[NewAction], edited: Mapping[int, NewAction], author: str
    ) -> list[int]:
        """Create and edit actions in one transaction: all of it or nothing.
        Edits that change nothing are not recorded."""
        ids = []
        with self.transaction():
            for new in created:
                ids.append(self._insert(new, author))
            for action_id, new in edited.items():
                if self._edit(action_id, new, author):
                    ids.append(action_id)
        return ids

    def _edit(self, action_id: int, new: NewAction, author: str) -> bool:
        row = self._row(action_id)
        fields = self._fields(new)
        changed = {k: v for k, v in fields.items() if v is not None and str(row[k]) != str(v)}
        if not changed:
            return False
        sets = ", ".join(f"{k} = ?" for k in changed)
        self.db.execute(
            f"UPDATE review_actions SET {sets} WHERE id = ?", [*changed.values(), action_id]
        )
        self._log(action_id, _now(), author, "edited", changed)
        return True

    def _row(self, action_id: int) -> sqlite3.Row:
        if not 0 < action_id < 2**63:  # beyond what SQLite can hold: no such action
            raise UserError.of("KT217", "review.unknown_action", None, id=action_id)
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM review_actions WHERE id = ?", (action_id,)
        ).fetchone()
        if row is None:
            raise UserError.of("KT217", "review.unknown_action", None, id=action_id)
        return row

    def get(self, action_id: int) -> Action:
        action = self._action(self._row(action_id))
        history = [
            {
                "at": h["at"],
                "author": h["author"],
                "change": h["change"],
                "fields": json.loads(h["fields"]),
            }
            for h in self.db.execute(
                "SELECT * FROM review_action_history WHERE action_id = ? ORDER BY id", (action_id,)
            )
        ]
        return replace(action, history=history)

    def list(self, *, status: str | None = None, node: str | None = None) -> list[Action]:
        sql = "SELECT * FROM review_actions WHERE 1 = 1"
        args: list[str] = []
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if node is not None:
            sql += " AND node = ?"
            args.append(node)
        return [self._action(r) for r in self.db.execute(sql + " ORDER BY due, id", args)]

    def done(
        self, action_id: int, author: str, note: str | None, outcome: Mapping[str, Any] | None
    ) -> Action:
        """Close an action (KT218 when it is closed already), keeping the
        outcome measured at that moment in its history."""
        check_text("note", note)
        with self.transaction():
            row = self._row(action_id)
            if row["status"] == "done":
                raise UserError.of("KT218", "review.already_done", None, id=action_id)
            at = _now()
            self.db.execute(
                "UPDATE review_actions SET status = 'done', closed_at = ?, note = ? WHERE id = ?",
                (at, note, action_id),
            )
            self._log(action_id, at, author, "done", {"note": note, "outcome": outcome})
        return self.get(action_id)
