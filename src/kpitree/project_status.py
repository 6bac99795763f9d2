"""Asking a project for its status (behind :meth:`kpitree.project.Project.status`):
the periods asked for, the segment levels to drill through (an organisation
dimension from the department down), the targets in force (per month from the
definition's revisions, or today's, with the project's target files over them),
and the engine and query cache the computation runs with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

    from kpitree.compute.periods import Period
    from kpitree.compute.status import StatusResult
    from kpitree.engines import Engine
    from kpitree.project import Project

__all__ = ["drill_path", "project_status"]


def project_status(
    project: Project,
    period: str | Period | Sequence[str | Period] | None = None,
    *,
    by: str | Sequence[str] | None = None,
    as_of: dt.date | None = None,
    filters: Mapping[str, Sequence[str | None]] | None = None,
    explain: bool = True,
    compare: bool = True,
    engine: Engine | None = None,
    targets: str = "then",
) -> StatusResult:
    """What :meth:`kpitree.project.Project.status` returns (see there)."""
    from kpitree.compute.status import compute_status
    from kpitree.compute.targets import Targets, read_target_file

    as_of = as_of or project.today()
    asked = (
        [period]
        if period is None or isinstance(period, str) or not isinstance(period, Sequence)
        else list(period)
    )
    periods = [
        p if not isinstance(p, str) and p is not None else project.period(p, as_of=as_of)
        for p in asked
    ]
    levels: list[tuple[str, ...]] = [()]
    for dim in [by] if isinstance(by, str) else list(by or []):
        levels.append(drill_path(dim))
    from kpitree.project_plans import plans_then
    from kpitree.review.revisions import check_targets_choice

    chosen = Targets(project.tree, project.plan_or_none)
    if check_targets_choice(targets) == "then":
        chosen.plan_for_month = plans_then(project)
    for file in project.tree.target_files:
        dims = sorted({d for level in levels for d in level} | {"department", "team", "rep"})
        chosen.overrides.update(read_target_file(project.path / file, project.tree, dims))
    own = engine is None
    eng = engine or project.engine()
    cache = project.query_cache()
    try:
        return compute_status(
            project.tree,
            project.catalogue,
            eng,
            chosen,
            periods,
            levels,
            as_of=as_of,
            filters=filters,
            with_explanations=explain,
            compare=compare,
            cache=cache,
        )
    finally:
        cache.save()
        if own:
            eng.close()


_ORG_PATH = ("department", "team", "rep")


def drill_path(dim: str) -> tuple[str, ...]:
    """Organisation dimensions drill from the department down (company →
    department → team → rep); any other dimension stands alone."""
    if dim in _ORG_PATH:
        return _ORG_PATH[: _ORG_PATH.index(dim) + 1]
    return (dim,)
