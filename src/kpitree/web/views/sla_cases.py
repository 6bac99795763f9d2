"""The SLA cases behind a number of the SLA page (``/sla/cases``): the cases
of one rule started in the period, as they stood at the page's moment, for
one owner, team or department and one count (all cases, met, breached, open,
about to breach); searched, sorted and paged, downloadable whole.

The list is cut from the same :func:`kpitree.sla.report.sla_report` the page
shows, at the same moment (``at``: the page's ``now``), so its row count is
the number it was opened from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from kpitree.i18n import t
from kpitree.web.errors import WebError

if TYPE_CHECKING:
    from kpitree.compute.sla import SlaCase
    from kpitree.project import Project

__all__ = [
    "COLUMNS",
    "GROUPS",
    "STATUSES",
    "SlaCasesQuery",
    "alert_cases_url",
    "case_url",
    "sla_cases_download",
    "sla_cases_params",
    "sla_cases_view",
    "sla_node_url",
]

PAGE_SIZE = 50
# ``closed``: met or breached (the cases a compliance rate is over);
# ``responded``: the cases with a response (those response hours are over).
STATUSES = ("cases", "met", "breached", "open", "about_to_breach", "closed", "responded")
# The count behind an SLA metric's number (a compliance rate: its entrants;
# its converted are the ``met`` ones).
METRIC_STATUS = {
    "sla_compliance": "closed",
    "sla_breaches": "breached",
    "sla_open": "open",
    "sla_response_p50": "responded",
    "sla_response_p95": "responded",
}
GROUPS = ("owner", "department", "team")
COLUMNS = (
    "id",
    "owner",
    "department",
    "team",
    "start",
    "due",
    "response",
    "status",
    "elapsed_hours",
    "remaining_hours",
)
_LABELS = {
    "id": "sla.web.case",
    "owner": "sla.cli.col.owner",
    "department": "sla.cli.col.department",
    "team": "sla.web.col.team",
    "start": "sla.web.start",
    "due": "sla.web.due",
    "response": "sla.web.response",
    "status": "sla.web.status",
    "elapsed_hours": "sla.web.elapsed",
    "remaining_hours": "sla.web.remaining",
}
_TIMES = ("start", "due", "response")


def _bad(key: str, **params: Any) -> WebError:
    return WebError(400, "KT730", key, **params)


class SlaCasesQuery:
    """Which cases: the ``rule``, the count (``status``), the group (``owner``,
    ``department``, ``team``: a value, ``""`` for unassigned, ``None`` for
    any), the page's moment ``at``, and the search, sort and page."""

    def __init__(
        self,
        rule: str | None = None,
        status: str = "cases",
        group: dict[str, str | None] | None = None,
        at: str | None = None,
        search: str = "",
        sort: str | None = None,
        descending: bool = False,
        page: int = 1,
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if status not in STATUSES:
            raise _bad("sla.web.bad_status", value=status, allowed=", ".join(STATUSES))
        if sort is not None and sort not in COLUMNS:
            raise _bad("sla.web.bad_sort", sort=sort, columns=", ".join(COLUMNS))
        self.rule = rule
        self.status = status
        self.group = {k: v for k, v in (group or {}).items() if k in GROUPS and v is not None}
        # The pages' filters (``team``, ``channel``, ...): a case is kept when
        # its segment holds one of the values, as an SLA metric counts it.
        self.filters = {k: tuple(v) for k, v in (filters or {}).items() if v}
        self.at = at
        self.search = search.strip()[:200]
        self.sort = sort
        self.descending = descending
        self.page = max(1, page)

    def key(self) -> tuple[Any, ...]:
        return (
            self.rule,
            self.status,
            tuple(sorted(self.group.items())),
            tuple(sorted(self.filters.items())),
            self.at,
            self.search,
            self.sort,
            self.descending,
            self.page,
        )

    def moment(self, project: Project) -> dt.datetime | None:
        """``at`` as a moment (a time without zone is the project's)."""
        return sla_moment(self.at, project.tree.timezone)


def sla_moment(at: str | None, zone: str) -> dt.datetime | None:
    """``at`` (an ISO date-time; without a zone, the project's ``zone``) as a
    moment; ``None`` without one; a 400 (KT730) naming the value otherwise."""
    if not at:
        return None
    try:
        value = dt.datetime.fromisoformat(at.strip())
    except ValueError:
        raise _bad("sla.web.bad_at", value=at) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value


def sla_cases_params(
    period: str,
    rule: str,
    status: str,
    at: str | None,
    lang: str,
    group: dict[str, str | None] | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    **extra: Any,
) -> dict[str, str]:
    """The URL parameters of a case list (``group``: ``None`` is unassigned,
    written as an empty value; ``filters``: the pages' filters, quoted as
    :mod:`kpitree.filter_text` says)."""
    from kpitree.filter_text import filter_text

    out: dict[str, str] = {"period": period, "rule": rule, "status": status}
    for key, values in (filters or {}).items():
        out[key] = filter_text(values)
    for key, one in (group or {}).items():
        if one is None:
            out[key] = ""
        else:
            out[key] = str(one) if key == "owner" else filter_text([one])
    if at:
        out["at"] = at
    out["lang"] = lang
    out.update({k: str(v) for k, v in extra.items() if v is not None})
    return out


def case_url(view: dict[str, Any], lang: str) -> Any:
    """For the SLA page's ``view``: ``url(rule, status, row=None)``, the
    address of the cases behind a count of the rule (of ``row``'s owner,
    team or department; ``None``: the whole rule), at the page's moment."""
    from urllib.parse import urlencode

    keys = {"owner": ("owner",), "team": ("department", "team"), "department": ("department",)}
    grouped = keys.get(view["by"], ())

    def url(rule: str, status: str, row: dict[str, Any] | None = None) -> str:
        group = {k: row.get(k) for k in grouped} if row is not None else None
        params = sla_cases_params(view["period"], rule, status, view["now"], lang, group)
        return "/sla/cases?" + urlencode(params, quote_via=quote)

    return url


def alert_cases_url(event: Mapping[str, Any], lang: str) -> str | None:
    """The breaches a fired SLA breach alert counted (``event``: an alert
    event's JSON), as :func:`kpitree.alerts.messages.breaches_query` says;
    ``None`` for other alerts."""
    from urllib.parse import urlencode

    from kpitree.alerts.messages import breaches_query

    params = breaches_query(event)
    if params is None:
        return None
    return "/sla/cases?" + urlencode({**params, "lang": lang}, quote_via=quote)


def _belongs(
    case: SlaCase,
    status: str,
    group: dict[str, str],
    filters: Mapping[str, Sequence[str]] | None = None,
) -> bool:
    if status == "about_to_breach":
        if not case.about_to_breach:
            return False
    elif status == "closed":
        if case.status not in ("met", "breached"):
            return False
    elif status == "responded":
        if case.response is None:
            return False
    elif status != "cases" and case.status != status:
        return False
    for key, values in (filters or {}).items():
        if case.segment.get(key) not in values:
            return False
    for key, wanted in group.items():
        have = case.owner if key == "owner" else case.segment.get(key)
        if (have or "") != wanted:
            return False
    return True


def _row(case: SlaCase) -> dict[str, Any]:
    return {
        "id": case.id,
        "owner": case.owner,
        "department": case.segment.get("department"),
        "team": case.segment.get("team"),
        "start": case.start,
        "due": case.due,
        "response": case.response,
        "status": case.status,
        "elapsed_hours": round(case.elapsed_hours, 4),
        "remaining_hours": None if case.remaining_hours is None else round(case.remaining_hours, 4),
    }


def _matches(row: dict[str, Any], needle: str) -> bool:
    return any(needle in str(v).lower() for v in row.values() if v is not None)


def _sorted(rows: list[dict[str, Any]], sort: str | None, descending: bool) -> list[dict[str, Any]]:
    """Sorted by ``sort`` (default: the start), then the case id; cases
    without the value (no response yet) last either way."""
    column = sort or "start"
    present = [r for r in rows if r[column] is not None]
    missing = [r for r in rows if r[column] is None]
    present.sort(key=lambda r: (r[column], r["id"]), reverse=descending)
    missing.sort(key=lambda r: r["id"])
    return present + missing


def _cases(project: Project, period: str | None, rq: SlaCasesQuery) -> dict[str, Any]:
    """The report's rule and the cases of the list (searched and sorted)."""
    tree = project.tree
    if not tree.sla:
        raise WebError(404, "KT731", "sla.web.no_rules")
    rule_id = rq.rule or next(iter(tree.sla))
    if rule_id not in tree.sla:
        rules = ", ".join(tree.sla)
        raise WebError(404, "KT731", "sla.web.unknown_rule", rule=rule_id, rules=rules)
    report = project.sla_report(period, as_of=rq.moment(project), rules=[rule_id])
    rule = report.rule(rule_id)
    chosen = [_row(c) for c in rule.cases if _belongs(c, rq.status, rq.group, rq.filters)]
    counts = {
        s: sum(1 for c in rule.cases if _belongs(c, s, rq.group, rq.filters)) for s in STATUSES
    }
    needle = rq.search.lower()
    found = [r for r in chosen if _matches(r, needle)] if needle else chosen
    return {
        "report": report,
        "rule": rule,
        "count": len(chosen),
        "counts": counts,
        "rows": _sorted(found, rq.sort, rq.descending),
    }


def _local(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return value.astimezone(zone) if value.tzinfo else value


def _display(value: Any, column: str, project: Project, lang: str, zone: ZoneInfo) -> str:
    if value is None:
        return "" if column != "owner" else t("status.unassigned", lang=lang)
    if isinstance(value, dt.datetime):
        return _local(value, zone).strftime("%Y-%m-%d %H:%M")
    if column == "status":
        return t(f"sla.web.status.{value}", lang=lang)
    if column == "department":
        found = project.tree.organisation.departments.get(str(value))
        return found.label.text(lang, found.id) if found else str(value)
    if isinstance(value, float):
        return t("alerts.cli.hours", lang=lang, value=f"{value:,.1f}")
    return str(value)


def _group_label(
    project: Project,
    group: dict[str, str],
    lang: str,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> str:
    from kpitree.i18n import value_label

    parts = []
    for key, values in (filters or {}).items():
        names = []
        for value in values:
            dept = project.tree.organisation.departments.get(value)
            if key == "department" and dept:
                names.append(dept.label.text(lang, dept.id))
            else:
                names.append(value_label(key, value, lang))
        name = t(f"dimension.{key}", lang=lang)
        parts.append(f"{key if name == f'dimension.{key}' else name}: {' / '.join(names)}")
    for key, value in group.items():
        shown = value or t("status.unassigned", lang=lang)
        if key == "department" and value:
            found = project.tree.organisation.departments.get(value)
            shown = found.label.text(lang, found.id) if found else value
        parts.append(f"{t(_LABELS[key], lang=lang)}: {shown}")
    return " · ".join(parts)


def sla_cases_view(
    project: Project, period: str | None, rq: SlaCasesQuery, lang: str
) -> dict[str, Any]:
    """The view model of ``/sla/cases`` (and ``/api/sla/cases``)."""
    found = _cases(project, period, rq)
    report = found["report"]
    rule = found["rule"]
    zone = ZoneInfo(project.tree.timezone)
    link = project.tree.record_links.get(
        getattr(project.tree.sla.get(rule.rule), "entity", None) or "leads"
    )
    rows = found["rows"]
    total = len(rows)
    start = (rq.page - 1) * PAGE_SIZE
    shown = rows[start : start + PAGE_SIZE]
    return {
        "page": "sla_cases",
        "period": report.period,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "now": report.now.isoformat(),
        "now_local": _local(report.now, zone).strftime("%Y-%m-%d %H:%M"),
        "at": rq.at,
        "rule": rule.rule,
        "label": rule.label,
        "status": rq.status,
        "status_label": t(f"sla.web.count.{rq.status}", lang=lang),
        "group": {k: (v or None) for k, v in rq.group.items()},
        "group_label": _group_label(project, rq.group, lang, rq.filters),
        "filters": {k: list(v) for k, v in rq.filters.items()},
        "counts": [
            {
                "status": s,
                "label": t(f"sla.web.count.{s}", lang=lang),
                "count": found["counts"][s],
                "selected": s == rq.status,
            }
            for s in STATUSES
        ],
        "search": rq.search,
        "sort": rq.sort,
        "descending": rq.descending,
        "page_number": rq.page,
        "page_size": PAGE_SIZE,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "count": found["count"],
        "total": total,
        "columns": [{"key": c, "label": t(_LABELS[c], lang=lang)} for c in COLUMNS],
        "rows": [
            {
                "values": {c: _json(r[c]) for c in COLUMNS},
                "display": {c: _display(r[c], c, project, lang, zone) for c in COLUMNS},
                "source_url": None if not link else link.replace("{id}", quote(r["id"], safe="")),
            }
            for r in shown
        ],
    }


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def sla_cases_download(
    project: Project, period: str | None, rq: SlaCasesQuery, lang: str
) -> tuple[list[str], list[list[Any]], str]:
    """Every case of the list (searched and sorted as shown): headings, rows
    (times in the project's zone) and a file name."""
    found = _cases(project, period, rq)
    zone = ZoneInfo(project.tree.timezone)
    rows = [
        [
            _local(r[c], zone).replace(tzinfo=None) if isinstance(r[c], dt.datetime) else r[c]
            for c in COLUMNS
        ]
        for r in found["rows"]
    ]
    name = "-".join(("kpitree", "sla", found["rule"].rule, rq.status, found["report"].period))
    return [t(_LABELS[c], lang=lang) for c in COLUMNS], rows, name


def sla_node_url(
    project: Project,
    node_id: str,
    period: str,
    filters: Mapping[str, Sequence[str | None]],
    as_of: dt.date | None,
    lang: str,
    api: bool = False,
    fmt: str | None = None,
) -> str | None:
    """For a node whose metric is an SLA metric (``type: sla_*``): the address
    of the cases its number counts (a compliance rate: its closed cases, of
    which the met are its converted; response hours: the answered cases) in
    ``period`` under ``filters``, at the moment the number was measured up to
    (``as_of``: the end of that day, or now); ``None`` for any other node."""
    from urllib.parse import urlencode

    from kpitree.compute.sla import status_now

    node = project.tree.nodes.get(node_id)
    metric = project.catalogue.metrics.get(node.metric) if node and node.metric else None
    rule = getattr(metric, "sla_rule", None)
    if metric is None or rule is None or metric.type not in METRIC_STATUS:
        return None
    at = None
    if as_of is not None:
        at = status_now(as_of, project.tree.timezone).isoformat(timespec="seconds")
    kept = {k: [v for v in vals if v is not None] for k, vals in filters.items()}
    params = sla_cases_params(period, rule.id, METRIC_STATUS[metric.type], at, lang, filters=kept)
    path = "/api/sla/cases?" if api else "/sla/cases?"
    return path + urlencode(params, quote_via=quote)
