"""Definition models of account-based marketing (``abm:`` in ``kpitree.yaml``):
how accounts are scored and tiered, and the checks that locate their problems
(:func:`check_abm`).

A score is the sum of its criteria's points. A *firmographic* criterion reads
one field of the account (``bands`` of a number, or ``values`` of a text, by
list or by 日本標準産業分類 code); an *engagement* criterion adds up
``signals`` (activities of a type, stage entries of the account's leads and
deals) within a window of days, each signal capped, optionally decayed with
age. Every criterion gives at most its ``max_points``; tiers are score
thresholds. Scoring itself lives in :mod:`kpitree.abm`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from kpitree.definition import jsic
from kpitree.errors import Diagnostic, Severity, Span
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    from kpitree.definition.draft import Draft

__all__ = [
    "FIRMOGRAPHIC_FIELDS",
    "NUMERIC_FIELDS",
    "AbmSpec",
    "BandSpec",
    "CriterionSpec",
    "SignalSpec",
    "TargetListSpec",
    "check_abm",
]

# Account columns a firmographic criterion may read (or ``attributes.<key>``:
# a custom field kept from the source).
FIRMOGRAPHIC_FIELDS = ("employees", "annual_revenue", "industry", "region", "segment", "country")
NUMERIC_FIELDS = ("employees", "annual_revenue")
_CUSTOM = re.compile(r"^attributes\.[^\W\d][\w.-]*$")


def _num(value: float) -> str:
    """A number as people write it: ``45`` rather than ``45.0``."""
    return f"{value:g}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class _Text(_Strict):
    ja: str | None = None
    en: str | None = None


class BandSpec(_Strict):
    """A range of a number and the points it gives (``min`` included, ``max``
    not); the first band that holds the value counts."""

    min: float | None = Field(None, description="Lowest value of the band (included).")
    max: float | None = Field(None, description="Value the band stops below (not included).")
    points: float = Field(ge=0, description="Points an account in the band gets.")


class SignalSpec(_Strict):
    """One kind of engagement: activities of a type, or the entries of a lead
    or deal stage, on the account's records."""

    label: str | _Text | None = Field(None, description="Name shown in the breakdown.")
    activity: str | None = Field(None, description="Activity type (activities.type).")
    outcome: str | None = Field(
        None, description="activity: only activities with this outcome (e.g. held)."
    )
    lead_stage: str | None = Field(
        None, description="Entries of this stage by the account's leads (e.g. mql)."
    )
    deal_stage: str | None = Field(
        None, description="Entries of this stage by the account's deals (e.g. proposal)."
    )
    points: float = Field(gt=0, description="Points per event (before decay).")
    cap: float | None = Field(
        None, gt=0, description="Most points this signal gives (after decay)."
    )


class CriterionSpec(_Strict):
    """One criterion of the score: firmographic (``field`` with ``bands`` or
    ``values``) or engagement (``signals``)."""

    label: str | _Text | None = Field(None, description="Name shown in the breakdown.")
    max_points: float = Field(gt=0, description="Most points the criterion gives.")
    field: str | None = Field(
        None,
        description="firmographic: the account field read: employees, annual_revenue, "
        "industry, region, segment, country, or attributes.<key> (a custom field).",
    )
    bands: list[BandSpec] | None = Field(
        None, description="firmographic, a number: ranges and their points."
    )
    values: dict[str, float] | None = Field(
        None, description="firmographic, a text: value (or industry code) -> points."
    )
    match: Literal["exact", "jsic"] = Field(
        "exact",
        description="values: exact (the text, spaces trimmed) or jsic (日本標準産業分類 "
        "codes: a division letter or 2-4 digits; the most specific code that the "
        "account's code falls under counts).",
    )
    signals: list[SignalSpec] | None = Field(
        None, description="engagement: the events that count and their points."
    )
    window_days: int | None = Field(
        None, ge=1, le=3660, description="engagement: events of the last this many days count."
    )
    decay: Literal["none", "linear", "half_life"] = Field(
        "none",
        description="engagement: none, linear (to zero at the end of the window) or "
        "half_life (halved every half_life_days).",
    )
    half_life_days: float | None = Field(
        None, gt=0, description="decay half_life: days after which an event counts half."
    )

    @property
    def kind(self) -> str:
        return "engagement" if self.signals is not None else "firmographic"


class TargetListSpec(_Strict):
    """Which accounts are target accounts: those of some tiers, those of an
    imported list, or both."""

    tiers: list[str] = Field(
        default_factory=list, description="Accounts in these tiers are targets (e.g. [A, B])."
    )
    file: str | None = Field(
        None,
        description="A CSV file (relative path) of target companies, matched to accounts "
        "by corporate_number (法人番号), domain or name.",
    )
    mode: Literal["union", "intersection"] = Field(
        "union",
        description="With both: union (in a tier or on the list) or intersection (both).",
    )


class AbmSpec(_Strict):
    """Account scoring (ICP fit and engagement), tiers and target accounts."""

    criteria: dict[str, CriterionSpec] = Field(
        description="Criterion id -> criterion; the score is the sum of their points."
    )
    tiers: dict[str, float] = Field(
        default_factory=dict,
        description="Tier name -> lowest score of the tier (e.g. {A: 70, B: 50, C: 30}); "
        "an account is in the highest tier it reaches.",
    )
    targets: TargetListSpec | None = Field(None, description="Target account list.")
    surge_points: float = Field(
        10.0,
        gt=0,
        description="An engagement rise of at least this many points since the previous "
        "period is an engagement surge.",
    )


# --- located checks ----------------------------------------------------------------


class _Checks:
    def __init__(self, draft: Draft, spec: AbmSpec) -> None:
        self.doc = draft.main
        self.spec = spec
        self.found: list[Diagnostic] = []

    def error(self, code: str, key: str, path: tuple[str | int, ...], /, **params: object) -> None:
        self.found.append(Diagnostic(Severity.ERROR, code, key, params, self.span(path)))

    def key_error(
        self, code: str, key: str, path: tuple[str | int, ...], /, **params: object
    ) -> None:
        span = self.doc.key_span(("abm", *path))
        self.found.append(Diagnostic(Severity.ERROR, code, key, params, span))

    def span(self, path: tuple[str | int, ...]) -> Span:
        return self.doc.span(("abm", *path))

    def criteria(self) -> None:
        if not self.spec.criteria:
            self.error("KT250", "abm.def.no_criteria", ("criteria",))
        for cid, c in self.spec.criteria.items():
            path = ("criteria", cid)
            kinds = [k for k in ("bands", "values", "signals") if getattr(c, k) is not None]
            if len(kinds) != 1:
                self.error("KT250", "abm.def.criterion_kind", path, criterion=cid)
                continue
            if c.signals is not None:
                self.engagement(cid, c, path)
            else:
                self.firmographic(cid, c, path)

    def firmographic(self, cid: str, c: CriterionSpec, path: tuple[str | int, ...]) -> None:
        for key in ("window_days", "half_life_days"):
            if getattr(c, key) is not None:
                self.error("KT255", "abm.def.engagement_key", (*path, key), criterion=cid, key=key)
        if c.decay != "none":
            self.error(
                "KT255", "abm.def.engagement_key", (*path, "decay"), criterion=cid, key="decay"
            )
        if c.field is None:
            self.error("KT251", "abm.def.no_field", path, criterion=cid)
            return
        if c.field not in FIRMOGRAPHIC_FIELDS and not _CUSTOM.match(c.field):
            self.error(
                "KT251",
                "abm.def.unknown_field",
                (*path, "field"),
                criterion=cid,
                field=c.field,
                fields=", ".join(FIRMOGRAPHIC_FIELDS),
                hint=did_you_mean(c.field, FIRMOGRAPHIC_FIELDS),
            )
            return
        if c.bands is not None:
            if c.field in FIRMOGRAPHIC_FIELDS and c.field not in NUMERIC_FIELDS:
                self.error(
                    "KT251", "abm.def.bands_on_text", (*path, "field"), criterion=cid, field=c.field
                )
            for i, band in enumerate(c.bands):
                if band.min is not None and band.max is not None and band.min >= band.max:
                    self.error("KT253", "abm.def.empty_band", (*path, "bands", i), criterion=cid)
                self.points(cid, c, band.points, (*path, "bands", i, "points"))
            if not c.bands:
                self.error("KT253", "abm.def.no_bands", (*path, "bands"), criterion=cid)
        if c.values is not None:
            if c.match == "jsic" and c.field in NUMERIC_FIELDS:
                self.error(
                    "KT251", "abm.def.bands_on_text", (*path, "field"), criterion=cid, field=c.field
                )
            for value, points in c.values.items():
                if c.match == "jsic" and not jsic.is_code(value):
                    self.key_error(
                        "KT256",
                        "abm.def.bad_jsic",
                        (*path, "values", value),
                        criterion=cid,
                        code=value,
                    )
                self.points(cid, c, points, (*path, "values", value))
        elif c.match != "exact":
            self.error("KT255", "abm.def.match_without_values", (*path, "match"), criterion=cid)

    def engagement(self, cid: str, c: CriterionSpec, path: tuple[str | int, ...]) -> None:
        for key in ("field",):
            if getattr(c, key) is not None:
                self.error(
                    "KT255", "abm.def.firmographic_key", (*path, key), criterion=cid, key=key
                )
        if c.match != "exact":
            self.error(
                "KT255", "abm.def.firmographic_key", (*path, "match"), criterion=cid, key="match"
            )
        if c.window_days is None:
            self.error("KT255", "abm.def.no_window", path, criterion=cid)
        if c.decay == "half_life" and c.half_life_days is None:
            self.error("KT255", "abm.def.no_half_life", (*path, "decay"), criterion=cid)
        if c.decay != "half_life" and c.half_life_days is not None:
            self.error(
                "KT255", "abm.def.half_life_unused", (*path, "half_life_days"), criterion=cid
            )
        assert c.signals is not None
        if not c.signals:
            self.error("KT254", "abm.def.no_signals", (*path, "signals"), criterion=cid)
        for i, s in enumerate(c.signals):
            spath = (*path, "signals", i)
            named = [k for k in ("activity", "lead_stage", "deal_stage") if getattr(s, k)]
            if len(named) != 1:
                self.error("KT254", "abm.def.signal_kind", spath, criterion=cid, index=i + 1)
            if s.outcome is not None and s.activity is None:
                self.error("KT254", "abm.def.outcome_without_activity", (*spath, "outcome"))
            if s.cap is not None:
                self.points(cid, c, s.cap, (*spath, "cap"))

    def points(
        self, cid: str, c: CriterionSpec, points: float, path: tuple[str | int, ...]
    ) -> None:
        if points > c.max_points:
            self.error(
                "KT252",
                "abm.def.over_max",
                path,
                criterion=cid,
                points=_num(points),
                max_points=_num(c.max_points),
            )

    def tiers(self) -> None:
        total = sum(c.max_points for c in self.spec.criteria.values())
        seen: dict[float, str] = {}
        for name, threshold in self.spec.tiers.items():
            path = ("tiers", name)
            if threshold < 0 or threshold > total:
                self.error(
                    "KT257",
                    "abm.def.tier_range",
                    path,
                    tier=name,
                    value=_num(threshold),
                    total=_num(total),
                )
            if threshold in seen:
                self.error(
                    "KT257",
                    "abm.def.tier_same",
                    path,
                    tier=name,
                    other=seen[threshold],
                    value=_num(threshold),
                )
            seen.setdefault(threshold, name)

    def targets(self) -> None:
        t = self.spec.targets
        if t is None:
            return
        for i, tier in enumerate(t.tiers):
            if tier not in self.spec.tiers:
                self.error(
                    "KT258",
                    "abm.def.unknown_tier",
                    ("targets", "tiers", i),
                    tier=tier,
                    tiers=", ".join(self.spec.tiers) or "-",
                    hint=did_you_mean(tier, list(self.spec.tiers)),
                )
        if not t.tiers and t.file is None:
            self.error("KT258", "abm.def.empty_targets", ("targets",))


def _account_alerts(draft: Draft) -> Iterator[Diagnostic]:
    """Alert rules on accounts (``tier_change``, ``engagement_surge``) need
    ``abm:``, fire per account (no ``by``), and take a threshold only as
    engagement points."""
    from kpitree.definition.spec_alerts import ACCOUNT_CONDITIONS

    assert draft.head is not None
    doc = draft.main
    for rid, rule in draft.head.alerts.items():
        if rule.condition not in ACCOUNT_CONDITIONS:
            continue
        path = ("alerts", rid)
        if draft.head.abm is None:
            yield Diagnostic(
                Severity.ERROR,
                "KT259",
                "abm.def.alert_without_abm",
                {"rule": rid, "condition": rule.condition},
                doc.span((*path, "condition")),
            )
        for key in ("by", "segment", "node"):
            if getattr(rule, key) is not None:
                yield Diagnostic(
                    Severity.ERROR,
                    "KT259",
                    "abm.def.alert_key",
                    {"rule": rid, "condition": rule.condition, "key": key},
                    doc.key_span((*path, key)),
                )
        t = rule.threshold
        if t is not None and (rule.condition == "tier_change" or t <= 0):
            yield Diagnostic(
                Severity.ERROR,
                "KT259",
                f"abm.def.alert_threshold.{rule.condition}",
                {"rule": rid, "value": _num(t)},
                doc.span((*path, "threshold")),
            )


def check_abm(draft: Draft) -> Iterator[Diagnostic]:
    """Problems of ``abm:`` and of the alert rules on accounts, located."""
    if draft.head is None:
        return
    yield from _account_alerts(draft)
    if draft.head.abm is None:
        return
    checks = _Checks(draft, draft.head.abm)
    checks.criteria()
    checks.tiers()
    checks.targets()
    yield from checks.found
