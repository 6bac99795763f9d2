"""kpitree: KPI trees as code for B2B revenue teams.

The public surface is :class:`Project` (load, check, plan, explain) and the
error classes; everything else is reachable through them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "DataError",
    "DefinitionError",
    "KpitreeError",
    "PlanError",
    "Project",
    "UserError",
    "__version__",
]

if TYPE_CHECKING:
    from kpitree.errors import DataError, DefinitionError, KpitreeError, PlanError, UserError
    from kpitree.project import Project


def __getattr__(name: str) -> Any:
    # Lazy, so that `kpitree --help` does not import pydantic and friends.
    if name == "Project":
        from kpitree.project import Project

        return Project
    if name in ("DataError", "DefinitionError", "KpitreeError", "PlanError", "UserError"):
        from kpitree import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'kpitree' has no attribute {name!r}")
