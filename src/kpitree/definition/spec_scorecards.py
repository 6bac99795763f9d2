"""Definition models of scorecards for evaluation (``scorecards:`` in
``kpitree.yaml``): how each KPI's achievement becomes a score (weights, a cap,
optional bands of points) and who may read whose card on the dashboard
(``access``), with the checks that locate their problems
(:func:`check_scorecards`). Scoring itself lives in
:mod:`kpitree.review.scorecard`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat

from kpitree.errors import Diagnostic, Severity
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    from kpitree.definition.draft import Draft

__all__ = ["ScoreAccessSpec", "ScoreBandSpec", "ScorecardsSpec", "check_scorecards"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class ScoreBandSpec(_Strict):
    """An achievement band: from ``at_least`` (1.0 = 100% of target) up to the
    next band, a KPI scores ``points``."""

    at_least: float = Field(description="Lowest achievement of the band (1.0 = 100%).")
    points: float = Field(description="Points a KPI in this band scores.")


class ScoreAccessSpec(_Strict):
    """Whose cards one user of the dashboard may read (besides admins, who read all)."""

    rep: str | None = Field(None, description="The rep this user is: their own card.")
    teams: list[str] = Field(
        default_factory=list,
        description="Teams this user manages, as department/team: the team's card and its reps'.",
    )
    departments: list[str] = Field(
        default_factory=list,
        description="Departments this user manages: their cards, their teams' and reps'.",
    )


class ScorecardsSpec(_Strict):
    """``scorecards:``: the rules of the scorecards and who reads them."""

    weights: dict[str, NonNegativeFloat] = Field(
        default_factory=dict,
        description="KPI id -> weight in the score (default 1; 0 shows the KPI unscored).",
    )
    cap: float = Field(1.5, gt=0, description="Achievement above this counts as this (1.5 = 150%).")
    bands: list[ScoreBandSpec] | None = Field(
        None,
        description="Achievement bands -> points; without them a KPI scores its "
        "(capped) achievement.",
    )
    access: dict[str, ScoreAccessSpec] = Field(
        default_factory=dict,
        description="Dashboard user name -> whose cards they may read (admins read all).",
    )


def check_scorecards(draft: Draft) -> Iterator[Diagnostic]:
    """Problems of ``scorecards:``, located: weights of nodes that are not
    KPIs, bands that overlap, access to an organisation that does not exist."""
    if draft.head is None or draft.head.scorecards is None:
        return
    spec = draft.head.scorecards
    doc = draft.main
    kpis = [k for k, n in draft.valid_nodes.items() if n.spec is not None and n.spec.kind == "kpi"]
    for node in spec.weights:
        if node not in kpis:
            yield Diagnostic(
                Severity.ERROR,
                "KT244",
                "scorecard.def.not_kpi",
                {"node": node, "hint": did_you_mean(node, kpis)},
                doc.key_span(("scorecards", "weights", node)),
            )
    if spec.bands is not None:
        seen: set[float] = set()
        if not spec.bands:
            yield Diagnostic(
                Severity.ERROR,
                "KT245",
                "scorecard.def.no_bands",
                {},
                doc.span(("scorecards", "bands")),
            )
        for i, band in enumerate(spec.bands):
            if band.at_least in seen or band.at_least < 0:
                yield Diagnostic(
                    Severity.ERROR,
                    "KT245",
                    "scorecard.def.bad_band",
                    {"index": i + 1, "value": band.at_least},
                    doc.span(("scorecards", "bands", i, "at_least")),
                )
            seen.add(band.at_least)
    yield from _access(draft, spec)


def _access(draft: Draft, spec: ScorecardsSpec) -> Iterator[Diagnostic]:
    assert draft.head is not None
    org = draft.head.organisation
    departments = list(org)
    teams = [f"{d}/{t}" for d, dept in org.items() for t in dept.teams]
    reps = sorted({r for dept in org.values() for team in dept.teams.values() for r in team.reps})
    doc = draft.main
    for user, who in spec.access.items():
        path = ("scorecards", "access", user)
        if who.rep is None and not who.teams and not who.departments:
            yield Diagnostic(
                Severity.ERROR, "KT246", "scorecard.def.empty_access", {"user": user},
                doc.key_span(path),
            )  # fmt: skip
        if who.rep is not None and who.rep not in reps:
            yield Diagnostic(
                Severity.ERROR,
                "KT246",
                "scorecard.def.unknown_rep",
                {"user": user, "rep": who.rep, "hint": did_you_mean(who.rep, reps)},
                doc.span((*path, "rep")),
            )
        for key, names, known in (("teams", who.teams, teams), ("departments", who.departments,
                                  departments)):  # fmt: skip
            for i, name in enumerate(names):
                if name not in known:
                    yield Diagnostic(
                        Severity.ERROR,
                        "KT246",
                        f"scorecard.def.unknown_{key}",
                        {"user": user, "name": name, "hint": did_you_mean(name, known)},
                        doc.span((*path, key, i)),
                    )
