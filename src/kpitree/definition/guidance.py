"""Design guidance: the warning rules that carry the SMART and sizing advice
(a unit, a period, an owner for every KPI; KSFs 3-5; KPIs per department; a
leading indicator; drivers that exist). They never stop a definition; ``kpitree
check`` and the validity review show them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from kpitree.definition.draft import Draft, NodeDraft
from kpitree.definition.formula import refs
from kpitree.definition.rules import STANDARD_DEPARTMENTS, Rule
from kpitree.errors import Diagnostic, Severity
from kpitree.source import did_you_mean


class _Warning(Rule):
    severity = Severity.WARNING


def _kpis(draft: Draft) -> list[NodeDraft]:
    return [nd for nd in draft.valid_nodes.values() if nd.spec and nd.spec.kind == "kpi"]


class MissingUnitRule(_Warning):
    code = "KT102"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in draft.valid_nodes.values():
            if nd.spec and nd.spec.unit is None:
                yield self.emit("def.no_unit", nd.key_span(), node=nd.id)


class MissingPeriodRule(_Warning):
    code = "KT103"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        if draft.head is None or draft.head.period is not None:
            return  # an invalid head may well set the period: do not guess
        kpis = _kpis(draft)
        missing = [nd for nd in kpis if nd.spec and nd.spec.period is None]
        if kpis and len(missing) == len(kpis):
            # Nobody set one: one message at the top beats one per node.
            yield self.emit("def.no_period_anywhere", draft.main.key_span(("nodes",)))
            return
        for nd in missing:
            yield self.emit("def.no_period", nd.key_span(), node=nd.id)


class MissingOwnerRule(_Warning):
    code = "KT104"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in _kpis(draft):
            if nd.spec and nd.spec.owner is None:
                yield self.emit("def.no_owner", nd.key_span(), node=nd.id)


class UnknownOwnerRule(_Warning):
    code = "KT112"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        declared = list(draft.head.organisation) if draft.head else []
        known = [*STANDARD_DEPARTMENTS, *declared]
        for nd in draft.valid_nodes.values():
            owner = nd.spec.owner if nd.spec else None
            if owner and owner not in known:
                yield self.emit(
                    "def.unknown_owner",
                    nd.span("owner"),
                    node=nd.id,
                    owner=owner,
                    hint=did_you_mean(owner, known),
                )


class DisconnectedRule(_Warning):
    code = "KT105"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        valid = draft.valid_nodes
        kgis = [nd.id for nd in valid.values() if nd.spec and nd.spec.kind == "kgi"]
        if len(kgis) != 1:
            return
        seen: set[str] = set()
        stack = [kgis[0]]
        while stack:
            current = stack.pop()
            if current in seen or current not in draft.nodes:
                continue
            seen.add(current)
            nd = draft.nodes[current]
            if nd.formula is not None:
                stack.extend(r.name for r in refs(nd.formula))
            if nd.spec is not None:
                stack.extend(nd.spec.drivers)
        for nd in valid.values():
            if nd.id not in seen:
                yield self.emit("def.disconnected", nd.key_span(), node=nd.id, kgi=kgis[0])


class KsfCountRule(_Warning):
    code = "KT106"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        count = sum(1 for nd in draft.valid_nodes.values() if nd.spec and nd.spec.kind == "ksf")
        if draft.valid_nodes and not 3 <= count <= 5:
            yield self.emit("def.ksf_count", draft.main.key_span(("nodes",)), count=count)


class OrganisationKpiRule(_Warning):
    code = "KT107"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        tops = [
            nd
            for nd in draft.valid_nodes.values()
            if nd.spec and nd.spec.kind in ("kgi", "ksf") and nd.formula is not None
        ]
        org_level: dict[str, NodeDraft] = {}
        for top in tops:
            assert top.formula is not None
            for ref in refs(top.formula):
                child = draft.nodes.get(ref.name)
                if child and child.spec and child.spec.kind == "kpi":
                    org_level[child.id] = child
        if len(org_level) > 5:
            yield self.emit(
                "def.org_kpis",
                draft.main.key_span(("nodes",)),
                count=len(org_level),
                nodes=", ".join(org_level),
            )


class DepartmentKpiRule(_Warning):
    code = "KT108"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        per_owner = Counter(nd.spec.owner for nd in _kpis(draft) if nd.spec and nd.spec.owner)
        for owner, count in per_owner.items():
            if count > 3:
                first = next(nd for nd in _kpis(draft) if nd.spec and nd.spec.owner == owner)
                yield self.emit("def.dept_kpis", first.span("owner"), owner=owner, count=count)


class LeadingIndicatorRule(_Warning):
    code = "KT109"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        valid = draft.valid_nodes
        if valid and not any(nd.spec and nd.spec.indicator == "leading" for nd in valid.values()):
            yield self.emit("def.no_leading", draft.main.key_span(("nodes",)))


class DriverRule(_Warning):
    code = "KT110"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in draft.valid_nodes.values():
            assert nd.spec is not None
            for i, driver in enumerate(nd.spec.drivers):
                if driver not in draft.nodes:
                    yield self.emit(
                        "def.driver_unknown",
                        nd.span("drivers", i),
                        node=nd.id,
                        driver=driver,
                        hint=did_you_mean(driver, list(draft.nodes)),
                    )


class TargetAndAssumeRule(_Warning):
    code = "KT111"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in draft.valid_nodes.values():
            if nd.spec and nd.spec.target is not None and nd.spec.assume is not None:
                yield self.emit("def.target_and_assume", nd.span("assume"), node=nd.id)
