"""The definition's history as the Plan page shows it: every revision with
the time it was in force (from its moment to the next revision's), its
author and reason, and the targets it changed; and what changed between any
two revisions. The JSON twin (``GET /api/plan/revisions``) gives the same."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kpitree.review.revision_diff import Change, changes

__all__ = ["revision_history"]

_PLAN_KEY = re.compile(r"^(nodes\.[^.]+\.(target|assume)(\.|$)|organisation\.|plan\.)")


def _is_plan_key(key: str) -> bool:
    """Keys that change what the team is asked to do: targets, assumptions,
    organisation shares and the plan's allocation."""
    return _PLAN_KEY.match(key) is not None


def _change(c: Change, lang: str) -> dict[str, Any]:
    from kpitree.i18n import t

    text = t(f"revisions.change.{c.kind}", lang=lang, old=c.old, new=c.new)
    return {**c.to_json(), "text": f"{c.key}: {text}"}


def revision_history(
    project_root: Path,
    definition: Path,
    zone: str,
    author: Callable[[], str],
    lang: str,
    diff: int | None = None,
    against: int | None = None,
) -> dict[str, Any]:
    """Every revision, newest first, with ``until`` (when the next one took
    over; None for the one in force) and its plan changes (targets,
    assumptions, organisation shares) against the one before; with ``diff``,
    every change of revision ``diff`` against ``against`` (default: the one
    before it). Empty without a history."""
    from kpitree.review.revisions import RevisionStore, catch_up

    history = catch_up(project_root, definition, author)
    rows = []
    for i, r in enumerate(history):
        found = changes(history[i - 1].definition, r.definition) if i else []
        nxt = history[i + 1] if i + 1 < len(history) else None
        rows.append(
            {
                **r.to_json(zone),
                "until": None if nxt is None else nxt.to_json(zone)["at"],
                "changes": len(found),
                "plan_changes": [_change(c, lang) for c in found if _is_plan_key(c.key)],
            }
        )
    shown = None
    if diff is not None:
        with RevisionStore(project_root) as store:
            newer = store.get(diff)
            older = store.get(against) if against is not None else None
        if older is None and against is None:
            before = [r for r in history if (r.at, r.id) < (newer.at, newer.id)]
            older = before[-1] if before else None
        found = changes(older.definition if older is not None else "", newer.definition)
        shown = {
            "revision": newer.to_json(zone),
            "against": None if older is None else older.to_json(zone),
            "changes": [_change(c, lang) for c in found],
        }
    return {"revisions": rows[::-1], "diff": shown}
