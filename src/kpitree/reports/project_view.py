"""What the reports need from a project, as a protocol: the façade
(:class:`kpitree.project.Project`) satisfies it, and the reports layer stays
below the façade (it never imports it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kpitree.alerts import AlertEvent, Channel
    from kpitree.compute.metrics import Catalogue
    from kpitree.compute.periods import Period
    from kpitree.compute.status import StatusResult
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine
    from kpitree.sla import SlaReport

__all__ = ["ProjectView"]


class ProjectView(Protocol):
    tree: Tree
    path: Path

    @property
    def catalogue(self) -> Catalogue: ...

    def today(self) -> dt.date: ...

    def period(self, text: str | None = None, *, as_of: dt.date | None = None) -> Period: ...

    def engine(self) -> Engine: ...

    def rep_names(self, engine: Engine | None = None) -> dict[str, str]: ...

    def status(
        self,
        period: str | Period | Sequence[str | Period] | None = None,
        *,
        by: str | Sequence[str] | None = None,
        as_of: dt.date | None = None,
        filters: Any = None,
        explain: bool = True,
        compare: bool = True,
        engine: Engine | None = None,
        targets: str = "then",
    ) -> StatusResult: ...

    def monthly_plan(
        self, node_id: str, months: Sequence[Period], *, as_of: dt.date, targets: str = "then"
    ) -> dict[str, float]: ...

    def sla_report(
        self,
        period: str | Period | None = None,
        *,
        by: str | None = None,
        as_of: dt.date | dt.datetime | None = None,
        rules: Sequence[str] | None = None,
    ) -> SlaReport: ...

    def alert_events(
        self, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> list[AlertEvent]: ...

    def notification_channel(self, name: str) -> Channel: ...
