"""The review pack's next-actions table: the actions still open and those due
in the period, each with its progress or measured outcome, then blank rows to
fill in during the meeting. The XLSX pack's table reads back with
``kpitree actions import`` (:mod:`kpitree.review.sheet`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpitree.review.outcome import outcome_text
from kpitree.review.service import open_store, outcomes

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.engines import Engine
    from kpitree.reports.project_view import ProjectView

__all__ = ["ActionLine", "action_lines"]


@dataclass(frozen=True)
class ActionLine:
    id: int
    node: str
    label: str  # the node's label
    segment: str
    owner: str
    description: str
    expected: str
    due: dt.date
    state: str  # not_started | in_progress | met | not_met | inconclusive
    outcome: str  # the state in words, with the realised effect


def action_lines(
    project: ProjectView, period: Period, as_of: dt.date, lang: str, engine: Engine
) -> list[ActionLine]:
    """Open actions and actions due in ``period``, by due day."""
    from kpitree.compute.status import StatusResult

    if not (project.path / ".kpitree" / "app.sqlite").exists():
        return []  # no action was ever recorded (and none is created here)
    with open_store(project) as store:
        chosen = [
            a for a in store.list() if a.status == "open" or period.start <= a.due <= period.end
        ]

    class _OnEngine:
        tree = project.tree
        path = project.path

        @staticmethod
        def today() -> dt.date:
            return as_of

        @staticmethod
        def status(*args: object, **kwargs: object) -> StatusResult:
            return project.status(*args, engine=engine, **kwargs)  # type: ignore[arg-type]

    found = outcomes(_OnEngine(), chosen, as_of)
    lines = []
    for a in chosen:
        node = project.tree.nodes.get(a.node)
        unit = node.unit_name if node else None
        lines.append(
            ActionLine(
                id=a.id,
                node=a.node,
                label=node.display(lang) if node else a.node,
                segment=a.segment_text,
                owner=a.owner,
                description=a.description,
                expected=a.effect_text,
                due=a.due,
                state=found[a.id].state,
                outcome=outcome_text(found[a.id], unit, project.tree.currency, lang),
            )
        )
    return lines
