"""The ``kpitree`` command line: thin shims over :class:`kpitree.project.Project`.

Errors reach the user in one place (:func:`main`): a :class:`~kpitree.errors.UserError`
prints ``file:line:col: error: message`` lines and exits 1, without a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

from kpitree.cli import state
from kpitree.cli.app import app

__all__ = ["app", "console", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the command line in this process: raises :class:`SystemExit` with the
    exit status (for callers in the same process, such as tests)."""
    from kpitree.cli.output import run_app

    sys.exit(run_app(app, argv))


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
    from kpitree.cli.output import run_app

    code = run_app(app, None)
    if state.finished_reading:
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
        except (OSError, ValueError):
            sys.exit(code)  # Python reports the broken pipe at exit, as always
        os._exit(code)
    sys.exit(code)
