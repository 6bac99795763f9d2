"""Where a project's definition is: ``kpitree.yaml`` in its folder. A leaf
(no YAML, no models), so that finding the file costs nothing."""

from __future__ import annotations

from pathlib import Path

from kpitree.errors import Span, UserError

__all__ = ["DEFINITION_FILE", "find_definition"]

DEFINITION_FILE = "kpitree.yaml"


def find_definition(path: str | Path) -> Path:
    """``kpitree.yaml`` in ``path`` when it is a folder, else ``path`` itself."""
    p = Path(path)
    try:
        folder = p.is_dir()
    except OSError:
        # A path the system cannot look up (a name too long for the file
        # system, a folder on the way that cannot be searched): reading it as
        # the file says why (KT002).
        folder = False
    if folder:
        candidate = p / DEFINITION_FILE
        if not candidate.exists():
            raise UserError.of(
                "KT002",
                "def.no_definition",
                Span(str(p), 1, 1),
                folder=str(p),
                file=DEFINITION_FILE,
            )
        return candidate
    return p
