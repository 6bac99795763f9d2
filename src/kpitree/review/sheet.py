"""Reading back a review pack's next-actions table, filled in during the
meeting (the XLSX pack, the HTML pack saved from the browser, or a CSV of the
table, see :mod:`kpitree.review.sheet_files`): rows without a number become
new actions, numbered rows update their action (node, segment, owner,
description, expected effect, due day). Every row is checked first; one wrong
cell and nothing is written (each problem is reported with its sheet, row and
column)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.errors import Diagnostic, Severity, Span, UserError
from kpitree.i18n import LANGUAGES, t
from kpitree.review.actions import NewAction, parse_segment
from kpitree.review.effect import parse_due
from kpitree.review.sheet_files import read_rows

if TYPE_CHECKING:
    from kpitree.definition.tree import Tree
    from kpitree.review.service import ActionProject

__all__ = ["ACTION_COLUMNS", "import_sheet"]

ACTION_COLUMNS = ("id", "node", "segment", "owner", "action", "expected", "due", "outcome")
"""The next-actions table's columns (headings ``review.col.*``, in either language)."""


def _headers() -> list[list[str]]:
    return [[t(f"review.col.{k}", lang=lang) for k in ACTION_COLUMNS] for lang in LANGUAGES]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _nodes_by_name(tree: Tree) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in tree.nodes.values():
        for lang in LANGUAGES:
            names.setdefault(node.display(lang), node.id)
    names.update({n: n for n in tree.nodes})
    return names


def import_sheet(project: ActionProject, file: Path, author: str) -> dict[str, list[int]]:
    """Create and update actions from the filled table; all rows or none."""
    from kpitree.review.service import open_store

    where, _, rows = read_rows(file, _headers(), len(ACTION_COLUMNS))
    names = _nodes_by_name(project.tree)
    col = {k: i for i, k in enumerate(ACTION_COLUMNS)}
    problems: list[Diagnostic] = []
    created: list[NewAction] = []
    edited: dict[int, NewAction] = {}
    today = project.today()
    with open_store(project) as store:
        for number, cells in rows:
            values = {k: cells[i] for k, i in col.items()}
            if not any(_text(values[k]) for k in ACTION_COLUMNS if k != "outcome"):
                continue

            def at(key: str, row: int = number) -> Span:
                return Span(where, row, col[key] + 1)

            try:
                node_name = _text(values["node"])
                node = names.get(node_name, node_name)
                due_cell = values["due"]
                due = (
                    due_cell.date()
                    if isinstance(due_cell, dt.datetime)
                    else due_cell
                    if isinstance(due_cell, dt.date)
                    else parse_due(_text(due_cell), at("due"))
                    if _text(due_cell)
                    else None
                )
                raw_id = _text(values["id"])
                existing = None
                if raw_id:
                    if not raw_id.isdigit():
                        raise UserError.of("KT217", "review.unknown_action", at("id"), id=raw_id)
                    try:
                        existing = store.get(int(raw_id))
                    except UserError:
                        raise UserError.of(
                            "KT217", "review.unknown_action", at("id"), id=raw_id
                        ) from None
                new = NewAction(
                    node=node,
                    owner=_text(values["owner"]),
                    description=_text(values["action"]),
                    effect=_text(values["expected"]),
                    due=due,
                    start=existing.start if existing else None,
                    segment=parse_segment(_text(values["segment"]), at("segment")),
                ).checked(store.units, today, at("node"))
            except UserError as exc:
                problems += [
                    d
                    if d.span is not None
                    else Diagnostic(d.severity, d.code, d.key, d.params, at("node"))
                    for d in exc.diagnostics
                ]
                continue
            if existing is not None:
                edited[existing.id] = new
            else:
                created.append(new)
        if problems:
            raise UserError(
                [Diagnostic(Severity.ERROR, d.code, d.key, d.params, d.span) for d in problems]
            )
        ids = store.apply(created, edited, author)
    return {"created": ids[: len(created)], "updated": ids[len(created) :]}
