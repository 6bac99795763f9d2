"""Alerts and SLA pages of the dashboard, their JSON twins, and the
background task that runs the alerts while the server runs.

* ``/alerts`` and ``/api/alerts``: alerts firing now and the history
  (``?since=``/``?until=`` ISO dates; default the last 30 days).
* ``/sla`` and ``/api/sla``: compliance, response times, breaches and cases
  about to breach per SLA rule and owner (``?period=``, ``?by=team``), now or
  at a given moment (``?at=``).
* :func:`background`: ``Project.alerts_run`` every
  ``notifications.schedule_minutes`` (in a worker thread), for projects with
  alert rules.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from kpitree.errors import UserError
from kpitree.web.contract import errors
from kpitree.web.deps import get_lang, get_project, render, require_viewer
from kpitree.web.downloads import api_format, page_format
from kpitree.web.routes_api import table_download

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kpitree.alerts import AlertEvent
    from kpitree.project import Project
    from kpitree.web.cache import CachedSource

__all__ = ["background", "router"]

router = APIRouter()
log = logging.getLogger("kpitree.alerts")
_HISTORY_DAYS = 30
_FIRST_RUN_DELAY = 5.0


def _when(text: str | None, project: Project, name: str) -> dt.datetime | None:
    from zoneinfo import ZoneInfo

    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError.of("KT721", "alerts.bad_now", None, value=text, option=name) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(project.tree.timezone))
    return value


def alerts_view(
    project: Project, lang: str, since: str | None, until: str | None
) -> dict[str, Any]:
    """What the alerts page shows (and ``/api/alerts`` returns)."""
    from zoneinfo import ZoneInfo

    from kpitree.alerts.run import open_alerts
    from kpitree.web.views.sla_cases import alert_cases_url

    start = _when(since, project, "since")
    end = _when(until, project, "until")
    if start is None and end is None:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=_HISTORY_DAYS)
    history = project.alert_events(start, end)
    history.reverse()  # newest first
    zone = ZoneInfo(project.tree.timezone)

    def shown(event: AlertEvent) -> dict[str, Any]:
        local = event.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        out = {**event.to_json(lang), "at_local": local}
        # A fired SLA breach alert opens the breaches it counted.
        out["cases_url"] = alert_cases_url(out, lang)
        return out

    return {
        "open": [shown(e) for e in open_alerts(project)],
        "history": [shown(e) for e in history],
        "since": None if start is None else start.isoformat(),
        "until": None if end is None else end.isoformat(),
        "rules": len(project.tree.alerts),
        "pending": sum(1 for e in history for d in e.deliveries if d.status == "pending"),
    }


def sla_view(
    project: Project,
    period: str | None,
    by: str | None,
    source: CachedSource | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """What the SLA page shows (and ``/api/sla`` returns), with the cases as
    they stand now or at the moment ``at``. With ``source``, the cases are read
    from the data once per data version and period (kept there) and only their
    status at this moment is worked out again."""
    tree = project.tree
    if source is None:
        report = project.sla_report(period, by=by, as_of=at)
    else:
        from kpitree.sla.report import check_by, read_facts, report_at, report_moment

        by = check_by(by)
        chosen, now = report_moment(project, period, as_of=at)

        def read() -> Any:
            with project.engine() as engine:
                return read_facts(tree, engine, chosen)

        facts = source.cached(("sla_facts", chosen.key, chosen.start, chosen.end), read)
        report = report_at(tree, facts, chosen, now, by=by)
    out = {**report.to_json(), "defined": bool(tree.sla)}
    # Departments by their labels (both languages: the view is cached for all).
    out["departments"] = {
        d.id: {"ja": d.label.text("ja", d.id), "en": d.label.text("en", d.id)}
        for d in tree.organisation.departments.values()
    }
    for rule in out["rules"]:
        spec = tree.sla.get(rule["rule"])
        entity = getattr(spec, "entity", None) or "leads"
        rule["case_link"] = tree.record_links.get(entity)
    return out


def sla_period_choices(request: Request, period: str, lang: str) -> list[dict[str, str]]:
    """The period selector of the other pages, for the SLA page (whose cases
    are counted per started period: no "all time")."""
    from kpitree.web.routes_api import page_source
    from kpitree.web.views.common import choices, resolve_period

    source = page_source(request, get_project(request))
    found = choices(source, resolve_period(source, period), lang)["period_choices"]
    return [c for c in found if c["key"] != "all"]


def _columns(lang: str, *keys: tuple[str, str]) -> list[dict[str, str]]:
    from kpitree.i18n import t

    return [{"key": key, "label": t(label, lang=lang)} for key, label in keys]


def alert_tables(view: dict[str, Any], lang: str) -> dict[str, Any]:
    """The alerts page's tables as downloads: ``open`` and ``history``."""
    from kpitree.i18n import t

    columns = _columns(
        lang,
        ("at", "alerts.cli.col.at"),
        ("severity", "alerts.cli.col.severity"),
        ("kind", "alerts.cli.col.kind"),
        ("rule", "alerts.cli.col.rule"),
        ("node", "alerts.web.col.node"),
        ("title", "alerts.web.col.title"),
        ("message", "alerts.cli.col.message"),
        ("delivery", "alerts.cli.col.delivery"),
    )

    def row(event: dict[str, Any]) -> list[Any]:
        deliveries = ", ".join(f"{d['channel']}: {d['status']}" for d in event["deliveries"])
        return [
            event["at_local"],
            t(f"alerts.severity.{event['severity']}", lang=lang),
            t(f"alerts.kind.{event['kind']}", lang=lang),
            event["rule"],
            event["node"],
            event["title"],
            event["message"],
            deliveries,
        ]

    return {
        "tables": {
            name: {"columns": columns, "rows": [row(e) for e in view[name]]}
            for name in ("open", "history")
        }
    }


def sla_tables(view: dict[str, Any], lang: str) -> dict[str, Any]:
    """The SLA page's tables as downloads: ``rows`` (per rule and owner, team
    or department), ``breaches`` and ``about_to_breach`` (the cases)."""
    by = view["by"]
    keys = {"owner": ("owner",), "team": ("department", "team"), "department": ("department",)}
    group = keys.get(by, (by,))
    group_labels = {
        "owner": "sla.cli.col.owner",
        "department": "sla.cli.col.department",
        "team": "sla.web.col.team",
    }
    rows_columns = _columns(
        lang,
        ("rule", "alerts.cli.col.rule"),
        *[(k, group_labels.get(k, "sla.cli.col.owner")) for k in group],
        ("cases", "sla.cli.col.cases"),
        ("met", "sla.cli.col.met"),
        ("breached", "sla.cli.col.breached"),
        ("open", "sla.cli.col.open"),
        ("compliance", "sla.cli.col.compliance"),
        ("p50_hours", "sla.cli.col.p50"),
        ("p95_hours", "sla.cli.col.p95"),
    )
    numbers = ("cases", "met", "breached", "open", "compliance", "p50_hours", "p95_hours")
    case_columns = _columns(
        lang,
        ("rule", "alerts.cli.col.rule"),
        ("case", "sla.web.case"),
        ("owner", "sla.cli.col.owner"),
        ("start", "sla.web.start"),
        ("due", "sla.web.due"),
        ("elapsed_hours", "sla.web.elapsed"),
        ("remaining_hours", "sla.web.remaining"),
    )
    case_keys = ("id", "owner", "start", "due", "elapsed_hours", "remaining_hours")
    rules = view["rules"]
    return {
        "tables": {
            "rows": {
                "columns": rows_columns,
                "rows": [
                    [rule["rule"], *[r.get(k) for k in group], *[r.get(k) for k in numbers]]
                    for rule in rules
                    for r in rule["rows"]
                ],
            },
            "breaches": {
                "columns": case_columns,
                "rows": [
                    [rule["rule"], *[c.get(k) for k in case_keys]]
                    for rule in rules
                    for c in rule["breaches"]
                ],
            },
            "about_to_breach": {
                "columns": case_columns,
                "rows": [
                    [rule["rule"], *[c.get(k) for k in case_keys]]
                    for rule in rules
                    for c in rule["about_to_breach_cases"]
                ],
            },
        }
    }


def _sla_page(
    request: Request, period: str | None, by: str | None, at: str | None = None
) -> dict[str, Any]:
    """:func:`sla_view` kept in the page cache for the data version and the
    minute: open cases and cases about to breach follow the clock, a minute
    at a time, and every viewer in that minute gets the same computation.
    While a new minute's (or new data's) is computed, the page shows the
    previous one, marked as updating with the time it is of
    (:mod:`kpitree.web.updating`). At a given moment (``at``) the view is
    the same whenever it is asked for: kept for the data version and that
    moment."""
    import time

    from kpitree.web.routes_api import page_source
    from kpitree.web.updating import accepts_previous, mark
    from kpitree.web.views.sla_cases import sla_moment

    project = get_project(request)
    source = page_source(request, project)
    moment = sla_moment(at, project.tree.timezone)
    if moment is not None:
        fixed = moment.astimezone(dt.UTC)
        return source.cached(
            ("sla", period, by, "at", fixed.isoformat()),
            lambda: sla_view(project, period, by, source, at=fixed),
        )
    now = dt.datetime.now(dt.UTC)
    minute = now.strftime("%Y-%m-%dT%H:%M")
    key = ("sla", period, by, minute)
    if not accepts_previous(request, since=now.replace(second=0, microsecond=0).timestamp()):
        return source.cached(key, lambda: sla_view(project, period, by, source))
    view, previous = source.current_or_previous(
        key, lambda: sla_view(project, period, by, source), ("sla", period, by), time.time
    )
    if previous is not None:
        mark(request, previous, project.tree.timezone)
    return view


@router.get("/api/alerts", tags=["alerts"], response_model=None, responses=errors(404))
def api_alerts(
    request: Request,
    since: str | None = Query(None, description="From this ISO date or date-time."),
    until: str | None = Query(None, description="Before this ISO date or date-time."),
    format: str = Depends(api_format),
    table: str | None = Query(None, description="open (default) or history."),
    _user: Any = Depends(require_viewer),
) -> Response:
    """Alerts firing now, and the events of the history (newest first);
    ``?format=csv|xlsx`` downloads one of its tables (``open``, ``history``)."""
    project = get_project(request)
    lang = get_lang(request)
    view = alerts_view(project, lang, since, until)
    if format != "json":
        return table_download({**view, **alert_tables(view, lang)}, format, table, "alerts")
    return JSONResponse(view)


@router.get("/alerts", include_in_schema=False)
def alerts_page(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    format: str | None = Depends(page_format),
    table: str | None = None,
    _user: Any = Depends(require_viewer),
) -> Response:
    project = get_project(request)
    lang = get_lang(request)
    view = alerts_view(project, lang, since, until)
    if format is not None:
        return table_download({**view, **alert_tables(view, lang)}, format, table, "alerts")
    return render(request, "alerts.html", {"view": view, "active": "alerts"})


@router.get("/api/sla", tags=["alerts"], response_model=None, responses=errors(404))
def api_sla(
    request: Request,
    period: str | None = Query(None, description="2026-10, 2026-Q3, this-month ..."),
    by: str | None = Query(None, description="owner (default), team or department"),
    format: str = Depends(api_format),
    table: str | None = Query(None, description="rows (default), breaches or about_to_breach."),
    at: str | None = Query(
        None,
        description="The moment the cases stand at (ISO date-time, without a zone the "
        "project's; the page's `now`). Default: now.",
    ),
    _user: Any = Depends(require_viewer),
) -> Response:
    """SLA compliance, P50/P95 response hours, breaches and cases about to breach,
    now or at the moment ``?at=``; ``?format=csv|xlsx`` downloads one of its tables
    (``rows``, ``breaches``, ``about_to_breach``)."""
    view = _sla_page(request, period, by, at)
    if format != "json":
        tables = sla_tables(view, get_lang(request))
        return table_download({**view, **tables}, format, table, "sla")
    from kpitree.web.rendered import kept_json

    return kept_json(request, view, view)


@router.get("/sla", include_in_schema=False)
def sla_page(
    request: Request,
    period: str | None = None,
    by: str | None = None,
    format: str | None = Depends(page_format),
    table: str | None = None,
    at: str | None = None,
    _user: Any = Depends(require_viewer),
) -> Response:
    view = _sla_page(request, period, by, at)
    if format is not None:
        tables = sla_tables(view, get_lang(request))
        return table_download({**view, **tables}, format, table, "sla")
    from kpitree.web.rendered import kept_page
    from kpitree.web.routes_api import page_source
    from kpitree.web.updating import banner
    from kpitree.web.views.sla_cases import case_url

    lang = get_lang(request)
    # The selector reads the data's first and last days: the previous data's
    # while new data's compute, as the view.
    asked = ("sla_periods", view["period"], lang)
    periods, _ = page_source(request, get_project(request)).current_or_previous(
        asked, lambda: sla_period_choices(request, view["period"], lang), asked
    )
    updating = banner(request, lang)
    context = {
        "view": view,
        "active": "sla",
        "periods": periods,
        "case_url": case_url(view, lang),
        "updating": updating,
        "self_url": request.url.path + ("?" + request.url.query if request.url.query else ""),
    }
    shown = None if updating is None else (updating["at"], updating["iso"])
    # Rendered once per kept view (data version and minute), address and user.
    return kept_page(request, view, (repr(periods), shown), "sla.html", context)


def _run_once(app: FastAPI) -> float:
    """One scheduled run; returns the minutes until the next one."""
    from kpitree.project import Project

    # A project of its own: the pages compute status on theirs in other threads.
    project = Project.load(app.state.project_path)
    minutes = float(project.tree.notifications.schedule_minutes)
    if project.tree.alerts:
        result = project.alerts_run()
        log.info(
            "alerts: %d evaluated, %d events, %d sent, %d failed, %d pending",
            result.evaluated,
            len(result.events),
            result.sent,
            result.failed,
            len(result.pending),
        )
    return minutes


async def background(app: FastAPI) -> None:
    """Run the alerts every ``notifications.schedule_minutes`` while the
    server runs. A failing run is logged and tried again next time; it never
    stops the server."""
    await asyncio.sleep(_FIRST_RUN_DELAY)
    while True:
        minutes = 15.0
        try:
            minutes = await asyncio.to_thread(_run_once, app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("alerts: the scheduled run failed")
        await asyncio.sleep(minutes * 60)
