"""What every page view shares: the page query (period, filters, drill-down,
language) read from a URL, the status source, periods and trends (how one
node's numbers are shown is in :mod:`kpitree.web.views.shown`).

A view model is a plain ``dict`` of JSON values: the HTML page renders it and
the JSON twin returns it, so the two can never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import unquote

from kpitree.filter_text import filter_params, filter_text, filter_values
from kpitree.i18n import t
from kpitree.web.views.shown import fmt_card

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import NodeStatus, StatusResult
    from kpitree.definition.tree import Tree
    from kpitree.project import Project

__all__ = [
    "FILTER_DIMENSIONS",
    "ORG_LEVELS",
    "DirectSource",
    "PageQuery",
    "StatusSource",
    "drill_text",
    "table",
]

T = TypeVar("T")

# Dimensions a URL may filter on (``?team=east&channel=web``); the organisation
# path drills company → department → team → rep.
ORG_LEVELS = ("department", "team", "rep")
FILTER_DIMENSIONS = (
    "department",
    "team",
    "rep",
    "manager",
    "region",
    "channel",
    "campaign",
    "segment",
    "industry",
)
HISTORY_LENGTH = 12  # periods in a trend


def drill_text(path: Sequence[object]) -> str:
    """A drill-down path as the ``drill`` parameter writes it: the segments
    joined by ``/``, a ``/`` or ``%`` inside one written ``%2F`` / ``%25`` (a
    team may be named ``East/West``); read back by :meth:`PageQuery.from_params`."""
    return "/".join(str(p).replace("%", "%25").replace("/", "%2F") for p in path)


@dataclass(frozen=True)
class PageQuery:
    """What a page shows: the period text (``None``: the project's current
    review period), segment filters, the breakdown dimension, the drill-down
    path (``("field_sales", "east")``) and the language."""

    period: str | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    by: str | None = None
    drill: tuple[str, ...] = ()
    lang: str = "ja"

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any] | Any, lang: str, custom: Sequence[str] = ()
    ) -> PageQuery:
        """Read a query from URL parameters (a Starlette ``QueryParams`` or a
        mapping of lists); unknown parameters are ignored. ``custom``: the
        custom dimensions a URL may filter on too."""
        getlist = getattr(params, "getlist", None)

        def values(key: str) -> list[str]:
            if getlist is not None:
                return [str(v) for v in getlist(key)]
            raw = params.get(key)
            if raw is None:
                return []
            return [str(v) for v in raw] if isinstance(raw, list | tuple) else [str(raw)]

        filters = []
        for dim in dict.fromkeys([*FILTER_DIMENSIONS, *custom]):
            chosen = [p for v in values(dim) for p in filter_values(v)]
            if chosen:
                filters.append((dim, tuple(dict.fromkeys(chosen))))
        period = (values("period") or [""])[0].strip() or None
        by = (values("by") or [""])[0].strip() or None
        drill_text = (values("drill") or [""])[0].strip()
        drill = tuple(unquote(p) for p in drill_text.split("/") if p) if drill_text else ()
        return cls(period, tuple(filters), by, drill, lang)

    @property
    def filter_map(self) -> dict[str, list[str | None]]:
        return {dim: list(vals) for dim, vals in self.filters}

    def params(self, **changes: Any) -> dict[str, str]:
        """URL parameters of this query with ``changes`` (``None`` removes one)."""
        out: dict[str, str] = {}
        if self.period:
            out["period"] = self.period
        for dim, vals in self.filters:
            out[dim] = filter_text(vals)
        if self.by:
            out["by"] = self.by
        if self.drill:
            out["drill"] = drill_text(self.drill)
        out["lang"] = self.lang
        for key, value in changes.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = str(value)
        return out

    def segment_params(self, segment: Mapping[str, object], **changes: Any) -> dict[str, str]:
        """URL parameters of this query narrowed to ``segment`` (one value per
        dimension, quoted as :mod:`kpitree.filter_text` says) with ``changes``."""
        return self.params(**filter_params(segment), **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "filters": {dim: list(vals) for dim, vals in self.filters},
            "by": self.by,
            "drill": list(self.drill),
            "lang": self.lang,
        }


class StatusSource(Protocol):
    """Where views get status results from: the project directly, or the
    web app's cache (same arguments as :meth:`kpitree.project.Project.status`)."""

    project: Project

    def status(
        self,
        period: str | Period | Sequence[str | Period] | None,
        *,
        by: Sequence[str] = (),
        filters: Mapping[str, Sequence[str | None]] | None = None,
        explain: bool = True,
        compare: bool = True,
    ) -> StatusResult: ...

    def today(self) -> dt.date: ...

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``key`` while the data and the
        definition stay the same."""
        ...


class DirectSource:
    """Status straight from the project (no cache): for tests and scripts."""

    def __init__(self, project: Project, as_of: dt.date | None = None) -> None:
        self.project = project
        self.as_of = as_of

    def today(self) -> dt.date:
        return self.as_of or self.project.today()

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        return compute()

    def status(
        self,
        period: str | Period | Sequence[str | Period] | None,
        *,
        by: Sequence[str] = (),
        filters: Mapping[str, Sequence[str | None]] | None = None,
        explain: bool = True,
        compare: bool = True,
    ) -> StatusResult:
        return self.project.status(
            period,
            by=list(by),
            filters=filters or None,
            explain=explain,
            compare=compare,
            as_of=self.today(),
        )


def table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """A downloadable table: ``columns`` as (key, heading) and raw ``rows``."""
    return {
        "columns": [{"key": k, "label": label} for k, label in columns],
        "rows": [list(r) for r in rows],
    }


def period_info(period: Period, lang: str) -> dict[str, Any]:
    return {
        "key": period.key,
        "label": period.label(lang),
        "grain": period.grain,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }


# Periods in a trend by grain: a year of months, two years of quarters, five
# fiscal years (older years rarely have data).
# A range (2017-06-01..2018-11-30, all) is compared with the range of as many
# days before it, not with a long run of them.
_TREND_LENGTH = {
    "day": 14,
    "week": 13,
    "month": 12,
    "quarter": 8,
    "half": 6,
    "year": 5,
    "range": 2,
}


def history_periods(period: Period, length: int | None = None) -> list[Period]:
    """``length`` periods of the same grain ending with ``period`` (default:
    by grain, a year of months)."""
    length = length or _TREND_LENGTH.get(period.grain, HISTORY_LENGTH)
    out = [period]
    for _ in range(length - 1):
        out.insert(0, out[0].previous())
    return out


def resolve_period(source: StatusSource, text: str | None) -> Period:
    """The period asked for; by default the review period of today, or, when
    the data ends before it starts, the last one with data (a project whose
    last import is weeks old opens on numbers, not on an empty month)."""
    project = source.project
    today = source.today()
    current = project.period(text, as_of=today)
    if text is not None:
        return current
    last = last_data_day(source)
    if last is not None and last < current.start:
        return project.period(None, as_of=last)
    return current


def last_data_day(source: StatusSource) -> dt.date | None:
    """The last day up to today on which something happened in the data
    (None: the warehouse holds no fact yet)."""
    today = source.today()
    return source.cached(("last_fact_day", today), lambda: _last_fact_day(source.project, today))


def _last_fact_day(project: Project, today: dt.date) -> dt.date | None:
    from kpitree.compute.coverage import last_fact_day

    with project.engine() as engine:
        return last_fact_day(engine, today)


def rows_at(
    result: StatusResult, period: str, level: tuple[str, ...] = ()
) -> dict[tuple[str, tuple[tuple[str, str | None], ...]], NodeStatus]:
    """Status rows of one period and segment level, by (node, segment)."""
    return {(r.node, r.segment): r for r in result.select(period=period, level=level)}


def main_status(source: StatusSource, query: PageQuery, period: Period) -> StatusResult:
    """The period's status for the company and every organisation level
    (department, team, rep), with explanations: one computation that every
    page shares (the Tree and Funnel read its company rows), so that after new
    data it is computed once, not beside a company-only status."""
    return source.status(period, by=ORG_LEVELS, filters=query.filter_map)


def history_status(source: StatusSource, query: PageQuery, period: Period) -> StatusResult:
    """Company-level actuals and targets of the last periods up to ``period``
    and of the same periods a year earlier: the Node page's lines and every
    page's trends (one computation for all of them)."""
    recent = history_periods(period)
    earlier = [p.same_period_last_year() for p in recent]
    asked = sorted({*recent, *earlier}, key=lambda p: p.start)
    return source.status(asked, filters=query.filter_map, explain=False, compare=False)


def trend(
    history: StatusResult, node_id: str, periods: Sequence[Period], lang: str, tree: Tree
) -> dict[str, Any]:
    """A node's actuals and targets over ``periods`` with sparkline points (in
    the viewBox of :data:`kpitree.chartstyle.SPARKLINE`) and its scale (lowest,
    highest and last value, as printed). When the last period is still
    running, its point is left out of ``points`` and joined to the one before
    in ``partial`` (drawn dashed, see :data:`kpitree.chartstyle.PARTIAL`)."""
    from kpitree.chartstyle import SPARKLINE

    node = tree.nodes[node_id]
    by_period = {r.period: r for r in history.select(node=node_id, level=())}
    values = [by_period[p.key].actual if p.key in by_period else None for p in periods]
    targets = [by_period[p.key].target if p.key in by_period else None for p in periods]
    known = [v for v in values if v is not None]
    drawn: list[str] = []
    if len(known) >= 2:
        low, high = min(known), max(known)
        span = (high - low) or 1.0
        step = SPARKLINE.width / max(1, len(values) - 1)
        bottom, room = SPARKLINE.height - SPARKLINE.pad, SPARKLINE.height - 2 * SPARKLINE.pad
        drawn = [
            f"{i * step:.1f},{bottom - (v - low) / span * room:.1f}"
            for i, v in enumerate(values)
            if v is not None
        ]
    running = bool(periods) and not periods[-1].is_complete(history.as_of)
    partial = ""
    if running and values and values[-1] is not None and len(drawn) >= 2:
        partial = " ".join(drawn[-2:])
        drawn = drawn[:-1]
    last = next((v for v in reversed(values) if v is not None), None)
    scale = (
        {
            "min": fmt_card(min(known), node, tree, lang),
            "max": fmt_card(max(known), node, tree, lang),
            "last": fmt_card(last, node, tree, lang),
        }
        if known
        else None
    )
    return {
        "periods": [p.key for p in periods],
        "labels": [p.label(lang) for p in periods],
        "values": values,
        "targets": targets,
        "points": " ".join(drawn),
        "partial": partial,
        "in_progress": running,
        "scale": scale,
        "scale_text": None
        if scale is None
        else t("pages.spark.scale", lang=lang, **scale)
        + (f" · {t('pages.ui.last_running', lang=lang)}" if running else ""),
    }


def choices(source: StatusSource, period: Period, lang: str) -> dict[str, Any]:
    """What the period selector and the filters offer: recent months, quarters
    and fiscal years (and the period shown), the organisation's departments and
    teams."""
    from kpitree.compute.periods import period_of

    project = source.project
    tree = project.tree
    today = source.today()
    fys = tree.fiscal_year_start
    month = period_of(today, "month", fys)
    quarter = period_of(today, "quarter", fys)
    year = period_of(today, "year", fys)
    found = [*history_periods(month, 13)[::-1], *history_periods(quarter, 5)[::-1]]
    found += [year, year.previous()]
    if period not in found:
        found.insert(0, period)
    teams = sorted(
        {team.id for dept in tree.organisation.departments.values() for team in dept.teams}
    )
    period_choices = [{"key": p.key, "label": p.label(lang)} for p in found]
    # Every day with data; a range shown (all time included) is listed first.
    period_choices.append({"key": "all", "label": t("pages.ui.all_time", lang=lang)})
    return {
        "no_data": last_data_day(source) is None,
        "period_choices": period_choices,
        "filter_choices": {
            "department": [
                {"id": d.id, "label": d.label.text(lang, d.id)}
                for d in tree.organisation.departments.values()
            ],
            "team": teams,
            "channel": source.cached(("channels",), partial(_channels, project)),
            # The dimensions the imports' mappings declared (代理店, 製品, …).
            "custom": [
                {"id": d.name, "label": d.label(lang)}
                for d in source.cached(("custom_dimensions",), project.custom_dimensions).values()
            ],
        },
    }


def _channels(project: Project) -> list[str]:
    """The lead channels in the data (the channel filter's suggestions)."""
    with project.engine() as engine:
        leads = engine.table("leads")
        found = engine.execute(leads.select("channel").distinct())
    return sorted(str(c) for c in found.column("channel").to_pylist() if c is not None)


def quality_report(source: StatusSource) -> dict[str, Any]:
    """``kpitree data check --json`` as of the source's today, read once per
    data version (the Data page and every page's node warnings share it).
    Shared: callers must not change it."""
    return source.cached(("quality",), partial(check_quality_now, source))


def check_quality_now(source: StatusSource) -> dict[str, Any]:
    """``kpitree data check --json`` as of the source's today, computed now
    (:func:`quality_report` keeps it)."""
    from kpitree.compute.quality import check_quality

    project = source.project
    with project.engine() as engine:
        report = check_quality(engine, project.catalogue, project.tree, source.today())
    return report.to_json()


def quality_by_node(source: StatusSource) -> dict[str, dict[str, Any]]:
    """The data-quality findings (``kpitree data check`` as of today) that touch
    each node: node id -> {errors, warnings, records, findings}, where records
    add up the records of its findings and each finding keeps its rule, code,
    level, table, count, example ids and detail. Read once per data version."""

    def compute() -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for finding in quality_report(source)["findings"]:
            item = {k: v for k, v in finding.items() if k not in ("metrics", "nodes")}
            for nid in finding["nodes"]:
                entry = out.setdefault(
                    nid, {"errors": 0, "warnings": 0, "records": 0, "findings": []}
                )
                entry["errors" if finding["level"] == "error" else "warnings"] += 1
                entry["records"] += finding["count"]
                entry["findings"].append(dict(item))
        return out

    return source.cached(("quality_by_node",), compute)
