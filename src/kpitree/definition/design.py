"""Every design check of a definition, in the order they run: the error rules
(:mod:`kpitree.definition.rules`) that guard what the rest of kpitree relies on,
then the warnings of :mod:`kpitree.definition.guidance`."""

from __future__ import annotations

from kpitree.definition.draft import Draft
from kpitree.definition.guidance import (
    DepartmentKpiRule,
    DisconnectedRule,
    DriverRule,
    KsfCountRule,
    LeadingIndicatorRule,
    MissingOwnerRule,
    MissingPeriodRule,
    MissingUnitRule,
    OrganisationKpiRule,
    TargetAndAssumeRule,
    UnknownOwnerRule,
)
from kpitree.definition.rules import (
    CapacityRule,
    CycleRule,
    DepthRule,
    FunnelRule,
    MinVolumeRule,
    NodeIdRule,
    RatioRangeRule,
    ReferenceRangeRule,
    Rule,
    ScenarioRule,
    SharesRule,
    SingleKgiRule,
    TargetPeriodRule,
    UnitRule,
    UnknownReferenceRule,
)
from kpitree.errors import Diagnostic

__all__ = ["RULES", "run_rules"]

RULES: tuple[Rule, ...] = (
    NodeIdRule(),
    UnknownReferenceRule(),
    CycleRule(),
    DepthRule(),
    SingleKgiRule(),
    UnitRule(),
    RatioRangeRule(),
    MinVolumeRule(),
    ReferenceRangeRule(),
    TargetPeriodRule(),
    ScenarioRule(),
    SharesRule(),
    CapacityRule(),
    MissingUnitRule(),
    MissingPeriodRule(),
    MissingOwnerRule(),
    UnknownOwnerRule(),
    DisconnectedRule(),
    KsfCountRule(),
    OrganisationKpiRule(),
    DepartmentKpiRule(),
    LeadingIndicatorRule(),
    DriverRule(),
    TargetAndAssumeRule(),
    FunnelRule(),
)


def run_rules(draft: Draft) -> list[Diagnostic]:
    """Every rule's findings, errors first, in file order."""
    found: list[Diagnostic] = []
    for rule in RULES:
        found.extend(rule.check(draft))
    return found
