"""The tree with numbers: actual, target, pace, forecast and status of every
node, per period and segment.

How a node gets its actual (the same rules the planner uses, run on data):

- a node with ``metric:`` is *measured*;
- a formula node is *computed* from its children's actuals;
- an input without a metric is *implied* when its parent is measured and its
  siblings are known (an MQL rate as MQLs / leads);
- a node both measured and computable reports the *reconciliation* gap:
  measured minus computed (does won deals x average deal size equal revenue?).

Pacing within a period (:mod:`kpitree.compute.status_table`): expected-to-date
is the target times the share of the period passed (business days, or the
schedule of what falls due for renewals), formula nodes take theirs from their
children, averages expect the target itself. Statuses and flags
(:mod:`kpitree.compute.judge`): ``no_data``, ``low_volume``, then pace against
expected-to-date: at or above ``pacing.on_track`` on track, at or above
``pacing.at_risk`` at risk, below that off track (inverted for lower-is-better).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from kpitree.compute.columns import concat
from kpitree.compute.explain import Bottleneck, explain_status
from kpitree.compute.freshness import (
    is_scheduled,
    latest_facts,
    latest_query,
    schedule_query,
    schedule_shares,
    unlinked_deals,
)
from kpitree.compute.judge import STATUSES as JUDGED
from kpitree.compute.judge import Flag
from kpitree.compute.measure import Level, measure_columns
from kpitree.compute.metrics import Catalogue
from kpitree.compute.periods import Period
from kpitree.compute.querycache import QueryCache, query_cache
from kpitree.compute.status_result import NodeStatus, StatusResult
from kpitree.compute.status_table import Evidence, level_table
from kpitree.compute.targets import Targets
from kpitree.definition.tree import Tree

if TYPE_CHECKING:
    from kpitree.engines import Engine

__all__ = ["Bottleneck", "NodeStatus", "StatusResult", "compute_status"]

STATUSES = JUDGED


def compute_status(
    tree: Tree,
    catalogue: Catalogue,
    engine: Engine,
    targets: Targets,
    periods: Sequence[Period],
    levels: Sequence[Level] = ((),),
    *,
    as_of: dt.date,
    filters: Mapping[str, Sequence[str | None]] | None = None,
    with_explanations: bool = True,
    compare: bool = True,
    progress: Callable[[str], None] | None = None,
    cache: QueryCache | None = None,
) -> StatusResult:
    """Status of every node for each of ``periods`` (whole periods: they are
    measured up to ``as_of``) and every segment of each level."""
    measured = {n.id: n.metric for n in tree.nodes.values() if n.metric}
    # The periods measured: each asked one to date (nothing yet when it starts
    # after as_of), the same stretch of its predecessor and of last year.
    current = [p.to_date(as_of) for p in periods]
    previous: list[Period | None] = [
        (c or p).previous_to_date() if compare else None
        for p, c in zip(periods, current, strict=True)
    ]
    last_year = [
        (c or p).same_period_last_year() if c is not None and compare else None
        for p, c in zip(periods, current, strict=True)
    ]
    wanted = [x for x in [*current, *previous, *last_year] if x is not None]
    all_periods = list(dict.fromkeys(wanted))
    index = {p: i for i, p in enumerate(all_periods)}
    if progress:
        progress("measure")
    frames = measure_columns(
        engine,
        catalogue,
        list(dict.fromkeys(measured.values())),
        all_periods,
        levels,
        filters,
        as_of=as_of,
        cache=cache,
        alongside=_evidence_queries(catalogue, engine, periods, levels, measured, as_of, cache),
    )
    order = tree.display_order()
    evidence = _evidence(tree, catalogue, engine, periods, measured, as_of, cache)
    pieces = []
    for level in levels:
        pieces.append(
            level_table(
                tree,
                catalogue,
                targets,
                frames[level],
                level,
                measured,
                order,
                (periods, current, previous, last_year, index),
                as_of,
                filters,
                evidence,
            )
        )
    result = StatusResult(list(periods), list(levels), as_of, concat(pieces))
    for level in levels:
        absent: dict[str, tuple[str, ...]] = frames[level].attrs.get("not_applicable", {})
        if absent:
            result.not_applicable[level] = {
                node_id: dims
                for node_id, metric_id in measured.items()
                for used in catalogue.closure([metric_id])
                if (dims := absent.get(used)) is not None
            }
    if () in frames:
        _unlinked(result, tree, engine, periods, as_of, cache)
    if with_explanations and () in frames:
        explain_status(result, tree, periods[-1])
    return result


def _evidence_queries(
    catalogue: Catalogue,
    engine: Engine,
    periods: Sequence[Period],
    levels: Sequence[Level],
    measured: Mapping[str, str],
    as_of: dt.date,
    cache: QueryCache | None,
) -> list[tuple[str, Callable[[], object]]]:
    """The queries :func:`_evidence` will ask (and the reps' names, which a
    status by rep is shown with), to run in the batch of the metric queries,
    whose results the cache keeps for them: those of a warehouse whose results
    are kept, and whose SQL is known (it compiled before, so building it cannot
    fail on a database without the tables)."""
    from kpitree.compute.people import rep_names_query

    cache = cache or query_cache()
    if not cache.keeps_results(engine):
        return []
    metric_ids = list(dict.fromkeys(measured.values()))
    _, latest = latest_query(engine, catalogue, metric_ids, as_of, cache)
    queries = [latest] if latest is not None else []
    if periods and any(
        is_scheduled(catalogue.metrics.get(m)) for m in catalogue.closure(metric_ids)
    ):
        queries.append(schedule_query(engine, periods, as_of, cache))
    # The names are looked up in the engine's own cache: kept there only.
    if any("rep" in level for level in levels) and engine.sql_cache is cache:
        names = rep_names_query(engine)
        if names is not None:
            queries.append(names)
    return [(key, build) for key, build in queries if cache.knows(key)]


def _evidence(
    tree: Tree,
    catalogue: Catalogue,
    engine: Engine,
    periods: Sequence[Period],
    measured: Mapping[str, str],
    as_of: dt.date,
    cache: QueryCache | None,
) -> Evidence:
    """When each measured metric's source last had a fact, and the share of
    the scheduled facts of each period due by ``as_of``. A database without
    the tables asked (not a kpitree warehouse) gives no evidence."""
    from kpitree.errors import UserError

    cache = cache or query_cache()
    metric_ids = list(dict.fromkeys(measured.values()))
    try:
        latest = latest_facts(engine, catalogue, metric_ids, as_of, cache)
    except UserError:
        latest = {}
    schedule: list[float | None] = []
    if any(is_scheduled(catalogue.metrics.get(m)) for m in catalogue.closure(metric_ids)):
        try:
            schedule = schedule_shares(engine, periods, as_of, cache)
        except UserError:
            schedule = []
    approximate = None
    if engine.approximate_median:
        from kpitree.engines.dialects import APPROXIMATE_MEDIAN

        approximate = APPROXIMATE_MEDIAN.get(engine.name, engine.name)
    return Evidence(latest, schedule, approximate)


def _unlinked(
    result: StatusResult,
    tree: Tree,
    engine: Engine,
    periods: Sequence[Period],
    as_of: dt.date,
    cache: QueryCache | None,
) -> None:
    """On company rows of a share above 100% computed from counts of different
    entities: how many deals of the period have no originating lead."""
    import numpy as np

    from kpitree.errors import UserError

    table = result.table
    if not len(table):
        return
    flags = table["flags"].copy()
    company = np.fromiter(map(len, table["segment"]), "int64", len(table)) == 0
    by_key = {p.key: p for p in periods}
    counted: dict[str, tuple[int, int] | None] = {}
    for i in (company.nonzero()[0]).tolist():
        found = flags[i]
        if not any(_unlinked_share(f) for f in found):
            continue
        key = str(table["period"][i])
        if key not in counted:
            try:
                counted[key] = unlinked_deals(engine, by_key[key], as_of, cache or query_cache())
            except UserError:
                counted[key] = None
        got = counted[key]
        if got is None or got[0] == 0:
            continue
        params = (("unlinked", got[0]), ("total", got[1]), ("entity", "deals"))
        flags[i] = (*found, Flag("unlinked_facts", params))
    result.table = table.with_columns({"flags": flags})
    result._arrays = None
    result._frame = None


def _unlinked_share(flag: Flag) -> bool:
    return flag.code == "rate_above_one" and flag.values.get("cause") == "unlinked"
