"""The ABM section of a monthly review pack (projects with ``abm:``): accounts
per tier and target accounts at the pack's day, the tier moves since the end
of the month before, and the accounts that moved, highest score first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.engines import Engine
    from kpitree.reports.layout import Section, _Cells
    from kpitree.reports.project_view import ProjectView as Project

__all__ = ["MAX_MOVES", "AccountMove", "AccountsSection", "accounts_layout", "accounts_section"]

MAX_MOVES = 20  # accounts listed; the summary counts every one


@dataclass(frozen=True)
class AccountMove:
    account: str
    tier_before: str
    tier_after: str
    score: float
    change: float | None
    target: bool


@dataclass(frozen=True)
class AccountsSection:
    included: bool = False
    compared_with: dt.date | None = None
    tiers: str = ""
    targets: int = 0
    up: int = 0
    down: int = 0
    moves: list[AccountMove] = field(default_factory=list)


def accounts_section(
    project: Project, engine: Engine, start: dt.date, as_of: dt.date, lang: str
) -> AccountsSection:
    """Scores on ``as_of`` compared with the day before ``start`` (the period's)."""
    from kpitree.abm.overview import accounts_overview

    abm = project.tree.abm
    if abm is None:
        return AccountsSection()
    before = start - dt.timedelta(days=1)
    overview = accounts_overview(engine, abm, project.path, as_of, before, lang)
    none = t("abm.no_tier", lang=lang)
    counts = overview.tier_counts()
    tiers = ", ".join(f"{k if k != 'none' else none} {v}" for k, v in counts.items())
    moved = [r for r in overview.rows if r.tier_before != r.score.tier]
    moves = overview.moves()
    return AccountsSection(
        True,
        before,
        tiers,
        sum(1 for r in overview.rows if r.target),
        moves["up"],
        moves["down"],
        [
            AccountMove(
                f"{r.score.name or r.score.account_id} ({r.score.account_id})",
                r.tier_before or none,
                r.score.tier or none,
                r.score.score,
                r.change,
                r.target,
            )
            for r in moved[:MAX_MOVES]
        ],
    )


def accounts_layout(section: AccountsSection, c: _Cells, lang: str) -> Section:
    """The section as every format lays it out."""
    from kpitree.reports.layout import Section, Table

    title = t("reports.section.accounts", lang=lang)
    summary = t(
        "reports.accounts.summary",
        lang=lang,
        tiers=section.tiers,
        targets=section.targets,
        up=section.up,
        down=section.down,
        since=section.compared_with.isoformat() if section.compared_with else "",
    )
    columns = [
        t(f"reports.accounts.col.{k}", lang=lang)
        for k in ("account", "before", "after", "score", "change", "target")
    ]
    yes = t("abm.web.target_yes", lang=lang)
    rows = [
        [
            c.text(m.account),
            c.text(m.tier_before),
            c.text(m.tier_after),
            c.num(m.score, "score"),
            c.num(m.change, "score"),
            c.text(yes if m.target else ""),
        ]
        for m in section.moves
    ]
    empty = t("reports.accounts.none", lang=lang)
    return Section("accounts", title, [summary], [Table("accounts", title, columns, rows, empty)])
