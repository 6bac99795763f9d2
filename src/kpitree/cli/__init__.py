"""The ``kpitree`` command line: thin shims over :class:`kpitree.project.Project`.

Errors reach the user in one place (:func:`main`): a :class:`~kpitree.errors.UserError`
prints ``file:line:col: error: message`` lines and exits 1, without a traceback
unless ``--debug`` is given.

The Typer application (:data:`app`) is built on first use: a plain ``kpitree
status`` line runs without it (:mod:`kpitree.cli.direct`).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from kpitree.cli import state

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["app", "console", "main"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from kpitree.cli.application import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _run(argv: Sequence[str] | None) -> int:
    """The exit status of the command line ``argv`` (default: the program's)."""
    from kpitree.cli.direct import run_direct

    code = run_direct(sys.argv[1:] if argv is None else list(argv))
    if code is None:  # anything but a plain status line: the Typer application
        from kpitree.cli.application import app
        from kpitree.cli.output import run_app

        code = run_app(app, argv)
    return code


def main(argv: list[str] | None = None) -> None:
    """Run the command line in this process: raises :class:`SystemExit` with the
    exit status (for callers in the same process, such as tests)."""
    sys.exit(_run(argv))


def console() -> NoReturn:
    """The ``kpitree`` program (and ``python -m kpitree``): :func:`main` in a
    process of its own.

    After a command that only read (it sets ``state.finished_reading``: every file
    it wrote is written and closed, every connection closed), the process ends
    as soon as its output is flushed, without the interpreter's teardown (freeing
    every module and object one by one, which costs a large part of a short
    command's time). Any other command, or an output that cannot be flushed (a
    closed pipe), ends as :func:`main` does.

    NumPy's OpenBLAS starts a thread per core when NumPy is imported; kpitree
    does no linear algebra, so the program asks for one (unless the user set
    ``OPENBLAS_NUM_THREADS``): starting them costs a short command about a tenth
    of its CPU time.

    The cyclic garbage collector runs rarely: with Python's thresholds,
    importing a command's libraries triggers full collections over every object
    made so far (about 0.04 s CPU of a status on a small project); a
    long-running command (the dashboard) sets them back (``state.long_running``)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.set_threshold(200_000, 30, 30)
    code = _run(None)
    if state.finished_reading:
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
        except (OSError, ValueError):
            sys.exit(code)  # Python reports the broken pipe at exit, as always
        os._exit(code)
    sys.exit(code)
