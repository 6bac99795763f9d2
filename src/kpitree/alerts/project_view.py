"""What alerts need of a project. The façade (``kpitree.project.Project``)
sits above this layer and satisfies the protocol; alerts never import it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kpitree.compute.metrics import Catalogue
    from kpitree.compute.status import StatusResult
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine

__all__ = ["ProjectView"]


class ProjectView(Protocol):
    tree: Tree
    path: Path

    @property
    def catalogue(self) -> Catalogue: ...

    def engine(self) -> Engine: ...

    def rep_names(self, engine: Engine | None = None) -> dict[str, str]: ...

    def status(
        self,
        period: Any = None,
        *,
        by: str | Sequence[str] | None = None,
        as_of: dt.date | None = None,
        explain: bool = True,
        compare: bool = True,
        targets: str = "then",
    ) -> StatusResult: ...
