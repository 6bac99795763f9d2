"""Revisions of the tree's definition: every change to ``kpitree.yaml``
(nodes, formulas, targets, assumptions, organisation shares) kept with its
time, author and reason in the project's app database, whether or not the
folder is under git.

A revision is recorded by ``kpitree revise -m "…"`` (or ``--at`` to date a
change that took effect earlier); once a project has a history, a change
found in the file that was not recorded is added automatically, dated by the
file's modification time, so the history has no gaps.

Targets valid *then*: each month of a period takes the plan of the revision in
force at the end of that month (the latest one made on or before that day; the
first revision for months before the history starts), so a past review shows
what the team was asked to do at the time (:func:`plans_by_month`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from kpitree.appdb import APP_DB, AppStore
from kpitree.errors import UserError

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.definition.tree import Tree
    from kpitree.planning.plan import Plan

__all__ = [
    "TARGET_CHOICES",
    "Revision",
    "RevisionStore",
    "plans_by_month",
    "record_revision",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS definition_revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    author TEXT NOT NULL,
    reason TEXT,
    automatic INTEGER NOT NULL DEFAULT 0,
    digest TEXT NOT NULL,
    definition TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Revision:
    """A change of the definition: when it took effect, who made it and why, and the text."""

    id: int
    at: dt.datetime  # when it took effect (UTC)
    recorded_at: str
    author: str
    reason: str | None
    automatic: bool
    digest: str
    definition: str

    def to_json(self, zone: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds"),
            "recorded_at": self.recorded_at,
            "author": self.author,
            "reason": self.reason,
            "automatic": self.automatic,
            "digest": self.digest,
        }


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RevisionStore(AppStore):
    """The revision table of one project's app database."""

    def __init__(self, project_root: Path) -> None:
        self.root = project_root
        super().__init__(project_root, _SCHEMA)

    @staticmethod
    def _revision(row: sqlite3.Row) -> Revision:
        return Revision(
            id=row["id"],
            at=dt.datetime.fromisoformat(row["at"]),
            recorded_at=row["recorded_at"],
            author=row["author"],
            reason=row["reason"],
            automatic=bool(row["automatic"]),
            digest=row["digest"],
            definition=row["definition"],
        )

    def all(self) -> list[Revision]:
        return [
            self._revision(r)
            for r in self.db.execute("SELECT * FROM definition_revisions ORDER BY at, id")
        ]

    def get(self, revision_id: int) -> Revision:
        if not 0 < revision_id < 2**63:
            raise UserError.of("KT230", "revisions.unknown", None, id=revision_id)
        row = self.db.execute(
            "SELECT * FROM definition_revisions WHERE id = ?", (revision_id,)
        ).fetchone()
        if row is None:
            raise UserError.of("KT230", "revisions.unknown", None, id=revision_id)
        return self._revision(row)

    def latest(self) -> Revision | None:
        row = self.db.execute(
            "SELECT * FROM definition_revisions ORDER BY at DESC, id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else self._revision(row)

    def add(
        self,
        text: str,
        author: str,
        reason: str | None,
        at: dt.datetime,
        *,
        automatic: bool = False,
    ) -> Revision | None:
        """Record ``text`` as a revision taking effect at ``at`` (aware), unless
        it equals the latest one (then None). A revision cannot take effect
        before the latest one (KT231) nor in the future (KT232)."""
        now = dt.datetime.now(dt.UTC)
        if at > now + dt.timedelta(minutes=1):
            raise UserError.of("KT232", "revisions.in_future", None, at=at.isoformat())
        with self.transaction():
            latest = self.latest()
            if latest is not None and latest.digest == digest(text):
                return None
            if latest is not None and at < latest.at:
                raise UserError.of(
                    "KT231",
                    "revisions.before_latest",
                    None,
                    at=at.isoformat(),
                    latest=latest.at.isoformat(),
                    id=latest.id,
                )
            cur = self.db.execute(
                "INSERT INTO definition_revisions (at, recorded_at, author, reason, automatic,"
                " digest, definition) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                    now.isoformat(timespec="seconds"),
                    author,
                    reason,
                    int(automatic),
                    digest(text),
                    text,
                ),
            )
        assert cur.lastrowid is not None
        return self.get(cur.lastrowid)


TARGET_CHOICES = ("then", "current")


def check_targets_choice(value: str) -> str:
    """``then`` (targets valid at the time) or ``current`` (today's); KT233 otherwise."""
    if value not in TARGET_CHOICES:
        raise UserError.of("KT233", "revisions.bad_targets", None, value=value)
    return value


def record_revision(
    project_root: Path,
    definition: Path,
    author: str,
    reason: str | None,
    at: dt.datetime | None = None,
) -> Revision | None:
    """Record the definition as it is now (None: unchanged since the latest revision)."""
    text = definition.read_text(encoding="utf-8")
    with RevisionStore(project_root) as store:
        return store.add(text, author, reason, at or dt.datetime.now(dt.UTC))


def catch_up(project_root: Path, definition: Path, author: Callable[[], str]) -> list[Revision]:
    """Once a history exists: record an unrecorded change of the file,
    dated by its modification time (not before the latest revision). Returns
    the history, oldest first (empty without one; nothing is created then)."""
    if not (project_root / APP_DB).exists():
        return []
    try:
        with RevisionStore(project_root) as store:
            latest = store.latest()
            if latest is None:
                return []
            text = definition.read_text(encoding="utf-8")
            if latest.digest != digest(text):
                mtime = dt.datetime.fromtimestamp(definition.stat().st_mtime, dt.UTC)
                at = min(max(mtime, latest.at), dt.datetime.now(dt.UTC))
                store.add(text, author(), None, at, automatic=True)
            return store.all()
    except sqlite3.Error:
        # An app database that cannot be read or written here (a read-only
        # copy of the project): no history is known, today's targets apply.
        return []


def in_force(history: list[Revision], day: dt.date, zone: str) -> Revision:
    """The revision in force at the end of ``day``: the latest made on or
    before it; the first one for days before the history starts."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(zone))
    chosen = history[0]
    for revision in history:
        if revision.at < end:
            chosen = revision
    return chosen


def plans_by_month(
    project_root: Path,
    definition: Path,
    tree: Tree,
    author: Callable[[], str],
    known_on: dt.date | None = None,
) -> Callable[[Period], Plan | None] | None:
    """For a project with a history: month -> the plan of the revision in
    force at the month's end, or with ``known_on`` at that day for the months
    ending after it (the plan as it was known then: a burn-up of September
    draws the rest of the year as September's plan had it). None without a
    history, or when every month would take today's definition anyway."""
    from kpitree.planning.plan import make_plan

    history = catch_up(project_root, definition, author)
    if len(history) < 2:
        return None
    trees: dict[int, Tree | None] = {history[-1].id: tree}
    plans: dict[tuple[int, int], Plan | None] = {}

    def tree_of(revision: Revision) -> Tree | None:
        if revision.id not in trees:
            trees[revision.id] = _load(project_root, revision)
        return trees[revision.id]

    def plan_for(month: Period) -> Plan | None:
        day = month.end if known_on is None else min(month.end, known_on)
        revision = in_force(history, day, tree.timezone)
        key = (revision.id, month.fiscal_year)
        if key not in plans:
            old = tree_of(revision)
            try:
                plans[key] = None if old is None else make_plan(old, fiscal_year=month.fiscal_year)
            except UserError:
                plans[key] = None
        return plans[key]

    return plan_for


def _load(project_root: Path, revision: Revision) -> Tree | None:
    """The revision's tree, read from a copy of its text beside the app
    database (None when it no longer loads)."""
    from kpitree.definition.resolve import load_tree

    folder = project_root / ".kpitree" / "revisions"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{revision.digest[:16]}.yaml"
    if not file.exists():
        file.write_text(revision.definition, encoding="utf-8")
    try:
        return load_tree(str(file))
    except UserError:
        return None
