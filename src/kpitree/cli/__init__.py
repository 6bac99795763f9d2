"""The ``kpitree`` command line: thin shims over :class:`kpitree.project.Project`.

Errors reach the user in one place (:func:`main`): a :class:`~kpitree.errors.UserError`
prints ``file:line:col: error: message`` lines and exits 1, without a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import sys

from kpitree.cli.app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    from kpitree.cli.output import run_app

    sys.exit(run_app(app, argv))
