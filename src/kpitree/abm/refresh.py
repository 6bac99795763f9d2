"""Scores computed when the data changes: after a successful ``kpitree
import``, ``kpitree sync`` or ``kpitree imports undo`` the project's kept
daily scores (:mod:`kpitree.abm.daily`) are computed again for the days the
dashboard reads first, so the first page after new data is not the slow one.

The days are today and the day the Accounts page compares with by default
(the end of the previous month); when a node's metric reads the columns of
``abm:`` (target accounts, scores: :mod:`kpitree.compute.account_columns`),
also every day of the current and previous review periods up to today, which
the dashboard's numbers of that node read. Any other day is computed when
first asked, as before. (Every day of the periods costs an account's score
per day: at 500k accounts about 30 times the two days; a project whose tree
reads no score never asks them.)

A write that fails changes no canonical table: nothing is computed and the
kept scores are left as they were. Computing is a convenience: a definition
that does not load, or a warehouse that cannot be read now, leaves the scores
to be computed by the first page (which says what is wrong); the write itself
has succeeded either way, and the command reports it so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kpitree.compute.metrics import Catalogue
    from kpitree.compute.periods import Period
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine

__all__ = ["dashboard_days", "may_declare_abm", "reads_scores", "refresh_daily_scores"]


class _Project(Protocol):
    """What is read of a project (:class:`kpitree.project.Project`)."""

    @property
    def tree(self) -> Tree: ...

    def today(self) -> dt.date: ...

    def period(self, text: str | None = None, *, as_of: dt.date | None = None) -> Period: ...

    def engine(self) -> Engine: ...

    @property
    def catalogue(self) -> Catalogue: ...


def reads_scores(project: _Project) -> bool:
    """Whether a metric of the tree's nodes (or one they are computed from)
    reads the columns of ``abm:`` on each fact's day."""
    from kpitree.compute.account_columns import uses_abm

    ids = sorted({n.metric for n in project.tree.nodes.values() if n.metric})
    catalogue = project.catalogue
    return any(uses_abm(catalogue[m]) for m in catalogue.closure(ids))


def dashboard_days(project: _Project, today: dt.date | None = None) -> list[dt.date]:
    """The days the dashboard and the Accounts page read first (see the
    module's docstring), oldest first."""
    from kpitree.abm.overview import scoring_days
    from kpitree.compute.periods import period_of

    day = today or project.today()
    _, as_of, before = scoring_days(project, day, None)
    if not reads_scores(project):
        return sorted({as_of, before})
    current = project.period(as_of=day)  # the review period of the KGI
    try:
        start = period_of(
            current.start - dt.timedelta(days=1), current.grain, current.fiscal_year_start
        ).start
    except ValueError:  # a grain without periods of its own (a range): this one
        start = current.start
    start = min(start, day)
    days = {as_of, before}
    days.update(start + dt.timedelta(days=i) for i in range((day - start).days + 1))
    return sorted(days)


def refresh_daily_scores(project: _Project, today: dt.date | None = None) -> list[dt.date]:
    """Compute and keep the daily scores of :func:`dashboard_days` on the
    project's current data; the days computed (none without ``abm:``)."""
    if project.tree.abm is None:
        return []
    days = dashboard_days(project, today)
    with project.engine() as engine:
        store = getattr(engine, "abm_scores", None)
        if store is None:
            return []
        store.rows(days)
    return days


def may_declare_abm(folder: Path) -> bool:
    """Whether the definition in ``folder`` may declare ``abm:`` (``False`` only
    when there is no definition or its YAML has no top-level ``abm`` key), asked
    before loading the project, which costs more than a write of a small file."""
    definition = folder / "kpitree.yaml" if folder.is_dir() else folder
    if not definition.is_file():
        return False
    try:
        from kpitree.source import load_yaml

        data = load_yaml(definition).data
    except Exception:  # loading the project says what is wrong
        return True
    return not isinstance(data, dict) or "abm" in data
