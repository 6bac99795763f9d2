"""What the Accounts page, the Account page, ``kpitree accounts`` and the
review pack show: every scored account with its tier, score and change since
the end of the previous period, whether it is a target account, and for one
account its breakdown, timeline, deals and contacts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kpitree.abm.changes import compare_scores
from kpitree.abm.daily import daily_store
from kpitree.abm.scoring import AccountScore
from kpitree.abm.targets import ListEntry, target_membership
from kpitree.definition.spec_abm import AbmSpec
from kpitree.errors import UserError

if TYPE_CHECKING:
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine

__all__ = [
    "AccountDetail",
    "AccountRow",
    "AccountsOverview",
    "account_detail",
    "accounts_overview",
    "scoring_days",
]


def _label(label: Any, fallback: str, lang: str) -> str:
    if label is None:
        return fallback
    if isinstance(label, str):
        return label
    first, second = (label.ja, label.en) if lang == "ja" else (label.en, label.ja)
    return str(first or second or fallback)


def criteria_labels(abm: AbmSpec, lang: str) -> dict[str, str]:
    return {cid: _label(c.label, cid, lang) for cid, c in abm.criteria.items()}


@dataclass(frozen=True, slots=True)
class AccountRow:
    score: AccountScore
    target: bool
    reasons: tuple[str, ...]
    tier_before: str | None
    score_before: float | None
    engagement: float
    engagement_before: float | None

    @property
    def change(self) -> float | None:
        return None if self.score_before is None else self.score.score - self.score_before

    def to_json(self) -> dict[str, Any]:
        s = self.score
        return {
            "account_id": s.account_id,
            "name": s.name,
            "tier": s.tier,
            "score": s.score,
            "tier_before": self.tier_before,
            "score_before": self.score_before,
            "change": self.change,
            "engagement": self.engagement,
            "engagement_before": self.engagement_before,
            "target": self.target,
            "target_reasons": list(self.reasons),
            "points": dict(s.points),
            "missing": sorted(s.missing),
            "industry": s.fields.get("industry"),
            "region": s.fields.get("region"),
            "segment": s.fields.get("segment"),
            "employees": s.fields.get("employees"),
            "owner_id": s.fields.get("owner_id"),
        }


@dataclass(frozen=True, slots=True)
class AccountsOverview:
    as_of: dt.date
    compared_with: dt.date
    criteria: Mapping[str, str]  # id -> label
    tiers: tuple[str, ...]
    rows: tuple[AccountRow, ...]
    unmatched: tuple[ListEntry, ...] = ()

    def filtered(
        self, *, tier: str | None = None, target: bool | None = None, query: str | None = None
    ) -> AccountsOverview:
        """Only the rows of a tier (``none``: no tier), target or not, and whose
        id or name contains ``query``."""
        rows = list(self.rows)
        if tier is not None:
            rows = [r for r in rows if (r.score.tier or "none") == tier]
        if target is not None:
            rows = [r for r in rows if r.target == target]
        if query:
            q = query.casefold()
            rows = [
                r
                for r in rows
                if q in r.score.account_id.casefold() or q in (r.score.name or "").casefold()
            ]
        return AccountsOverview(
            self.as_of, self.compared_with, self.criteria, self.tiers, tuple(rows), self.unmatched
        )

    def tier_counts(self) -> dict[str, int]:
        counts = dict.fromkeys((*self.tiers, "none"), 0)
        for r in self.rows:
            counts[r.score.tier or "none"] += 1
        return counts

    def moves(self) -> dict[str, int]:
        """Accounts whose tier rose or fell since the comparison day."""
        order = [*self.tiers, None]
        up = down = 0
        for r in self.rows:
            before = order.index(r.tier_before) if r.tier_before in order else len(order) - 1
            after = order.index(r.score.tier)
            up += after < before
            down += after > before
        return {"up": up, "down": down}

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "compared_with": self.compared_with.isoformat(),
            "criteria": dict(self.criteria),
            "tiers": self.tier_counts(),
            "moves": self.moves(),
            "targets": sum(1 for r in self.rows if r.target),
            "accounts": [r.to_json() for r in self.rows],
            "unmatched_list_rows": [{"line": e.row, "company": e.label} for e in self.unmatched],
        }


def accounts_overview(
    engine: Engine,
    abm: AbmSpec,
    root: Path,
    as_of: dt.date,
    compared_with: dt.date,
    lang: str = "ja",
) -> AccountsOverview:
    """Every account scored on ``as_of``, compared with ``compared_with``."""
    store = daily_store(engine, abm, root)
    store.rows([as_of, compared_with])  # both days by one query
    now = store.scores(as_of)
    before = store.scores(compared_with)
    members = target_membership(engine, abm, root, [as_of], store)[as_of]
    changes = {c.account_id: c for c in compare_scores(abm, before, now)}
    rows = []
    for a in now.accounts:
        c = changes[a.account_id]
        rows.append(
            AccountRow(
                a,
                a.account_id in members,
                tuple(sorted(members.accounts.get(a.account_id, ()))),
                c.tier_before,
                c.score_before,
                c.engagement_after,
                c.engagement_before,
            )
        )
    tiers = tuple(name for name, _ in sorted(abm.tiers.items(), key=lambda kv: -kv[1]))
    return AccountsOverview(
        as_of, compared_with, criteria_labels(abm, lang), tiers, tuple(rows), members.unmatched
    )


@dataclass(frozen=True, slots=True)
class AccountDetail:
    row: AccountRow
    criteria: Mapping[str, str]
    max_points: Mapping[str, float]
    signals: Mapping[str, Sequence[str]]  # engagement criterion -> signal labels
    timeline: Sequence[Mapping[str, Any]]  # newest first
    deals: Sequence[Mapping[str, Any]]
    contacts: Sequence[Mapping[str, Any]]
    kpis: Mapping[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.row.to_json(),
            "breakdown": [
                {
                    "criterion": cid,
                    "label": label,
                    "points": self.row.score.points[cid],
                    "max_points": self.max_points[cid],
                    "missing": cid in self.row.score.missing,
                    "signals": [
                        {"label": s, "points": p}
                        for s, p in zip(
                            self.signals.get(cid, ()),
                            self.row.score.signals.get(cid, ()),
                            strict=False,
                        )
                    ],
                }
                for cid, label in self.criteria.items()
            ],
            "timeline": [_plain(e) for e in self.timeline],
            "deals": [_plain(d) for d in self.deals],
            "contacts": [_plain(c) for c in self.contacts],
            "kpis": dict(self.kpis),
        }


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}


def _signal_label(s: Any, lang: str) -> str:
    named = s.activity or s.lead_stage or s.deal_stage or ""
    kind = "activity" if s.activity else "lead_stage" if s.lead_stage else "deal_stage"
    return _label(s.label, f"{kind}: {named}", lang)


def account_detail(
    engine: Engine,
    abm: AbmSpec,
    root: Path,
    account_id: str,
    as_of: dt.date,
    compared_with: dt.date,
    lang: str = "ja",
) -> AccountDetail | None:
    """One account's page (``None`` when it is not scored on ``as_of``)."""
    from kpitree.abm.account_records import account_kpis, account_records

    overview = accounts_overview(engine, abm, root, as_of, compared_with, lang)
    row = next((r for r in overview.rows if r.score.account_id == account_id), None)
    if row is None:
        return None
    timeline, deals, contacts = account_records(engine, account_id, as_of)
    return AccountDetail(
        row,
        overview.criteria,
        {cid: c.max_points for cid, c in abm.criteria.items()},
        {
            cid: [_signal_label(s, lang) for s in c.signals]
            for cid, c in abm.criteria.items()
            if c.signals is not None
        },
        timeline,
        deals,
        contacts,
        account_kpis(engine, account_id, as_of),
    )


class _Scored(Protocol):
    """What :func:`scoring_days` reads of a project."""

    @property
    def tree(self) -> Tree: ...

    def today(self) -> dt.date: ...


def scoring_days(
    project: _Scored, as_of: dt.date | None, compared_with: dt.date | None
) -> tuple[AbmSpec, dt.date, dt.date]:
    """The project's ``abm:`` model, the day scored (default today) and the day
    compared with (default the end of the previous month)."""
    from kpitree.compute.periods import period_of

    if project.tree.abm is None:
        raise UserError.of("KT264", "abm.not_defined", None)
    day = as_of or project.today()
    before = compared_with or period_of(
        day, "month", project.tree.fiscal_year_start
    ).start - dt.timedelta(days=1)
    return project.tree.abm, day, before
