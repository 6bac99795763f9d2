"""Accounts under ``abm:``: the Accounts page (``/accounts``: tiers, scores,
change since the end of last month, target accounts, filters, CSV/XLSX) and
the Account page (``/accounts/{account_id}``: score breakdown, timeline,
deals, contacts, KPIs), each with its JSON twin under ``/api``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from kpitree.project import Project
from kpitree.web.contract import errors
from kpitree.web.deps import get_lang, get_project, render, require_viewer
from kpitree.web.downloads import api_format, page_format, table_response
from kpitree.web.users import User

__all__ = ["router"]

router = APIRouter(tags=["accounts"])

_COLUMNS = ("account_id", "name", "tier", "score", "tier_before", "score_before", "change",
            "engagement", "target", "target_reasons", "industry", "region", "segment",
            "employees")  # fmt: skip


class AccountFilters:
    def __init__(
        self,
        tier: str | None = Query(None, max_length=50, description="Only this tier (none: none)."),
        target: str | None = Query(
            None,
            description="yes: only target accounts; no: only the others; empty: all.",
            json_schema_extra={"enum": ["yes", "no", ""]},
        ),
        q: str = Query("", max_length=200, description="Id or name containing this."),
    ) -> None:
        from kpitree.web.errors import WebError

        if target not in (None, "", "yes", "no"):
            raise WebError(400, "KT266", "abm.web.bad_target", value=target)
        self.tier = tier or None
        self.target = {"yes": True, "no": False}.get(target or "")
        self.q = q


def _stamp(project: Project) -> tuple[str, int] | None:
    """The target list file as it is now (its changes are no data import)."""
    abm = project.tree.abm
    if abm is None or abm.targets is None or abm.targets.file is None:
        return None
    path = project.path / abm.targets.file
    try:
        return str(path), path.stat().st_mtime_ns
    except OSError:
        return str(path), -1


def _overview(request: Request, project: Project, lang: str, f: AccountFilters) -> Any:
    from kpitree.web.routes_api import page_source

    # Kept per data version and day, like the other pages: scoring reads every account.
    source = page_source(request, project)
    full = source.cached(
        ("accounts", lang, _stamp(project)),
        lambda: project.accounts(as_of=source.today(), lang=lang),
    )
    return full, full.filtered(tier=f.tier, target=f.target, query=f.q)


def _download(overview: Any, fmt: str) -> Response:
    criteria = list(overview.criteria)
    columns = [*_COLUMNS, *(f"points.{c}" for c in criteria)]
    rows = []
    for r in overview.rows:
        data = r.to_json()
        data["target_reasons"] = ", ".join(data["target_reasons"])
        rows.append([*(data[c] for c in _COLUMNS), *(data["points"][c] for c in criteria)])
    return table_response(columns, rows, fmt, f"accounts-{overview.as_of.isoformat()}")


@router.get("/accounts", response_class=HTMLResponse, include_in_schema=False)
def accounts_page(
    request: Request,
    format: str | None = Depends(page_format),
    f: AccountFilters = Depends(),
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
) -> Response:
    lang = get_lang(request)
    full, shown = _overview(request, project, lang, f)
    if format in ("csv", "xlsx"):
        return _download(shown, format)
    from kpitree.web.routes_api import no_data

    context = {"view": shown, "full": full, "filters": f, "active": "accounts",
               "query": request.url.query, "no_data": no_data(request, project)}  # fmt: skip
    return render(request, "accounts.html", context)


@router.get("/api/accounts", summary="Account scores and tiers", responses=errors(400))
def api_accounts(
    request: Request,
    format: str = Depends(api_format),
    f: AccountFilters = Depends(),
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
    lang: str = Depends(get_lang),
) -> Any:
    """Every account scored under ``abm:`` today (project time zone): tier,
    score, points per criterion (missing firmographics listed), change since
    the end of last month, engagement and whether it is a target account (and
    why), highest score first; with ``format=csv|xlsx`` the same rows as a file."""
    _, shown = _overview(request, project, lang, f)
    if format in ("csv", "xlsx"):
        return _download(shown, format)
    return shown.to_json()


def _detail(project: Project, account_id: str, lang: str) -> Any:
    from kpitree.errors import UserError
    from kpitree.web.errors import WebError

    try:
        return project.account(account_id, lang=lang)
    except UserError as exc:
        if exc.diagnostics[0].code == "KT265":
            raise WebError(404, "KT265", "abm.unknown_account", account=account_id) from None
        raise


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse, include_in_schema=False)
def account_page(
    request: Request,
    account_id: str,
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
) -> Response:
    detail = _detail(project, account_id, get_lang(request))
    return render(request, "account.html", {"view": detail.to_json(), "active": "accounts"})


@router.get("/api/accounts/{account_id:path}", summary="One account", responses=errors(400, 404))
def api_account(
    account_id: str,
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
    lang: str = Depends(get_lang),
) -> Any:
    """One account today: its score breakdown per criterion and signal, tier and
    change, target status, timeline (activities and stage entries, newest
    first, at most 200), deals, contacts (leads) and KPIs (open pipeline, won
    revenue of the last 365 days, renewal rate, NRR)."""
    return _detail(project, account_id, lang).to_json()
