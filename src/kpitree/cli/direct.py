"""``kpitree status`` without building the Typer application.

Building the command line costs a short status about a tenth of its time:
importing Typer and its Click, then a pydantic validator per parameter to
convert the values given. A plain status line is read here instead, and runs
the very function the Typer command runs (:func:`show_status`). Plain means:
the global options ``--lang`` (a known language) and ``--debug``, then
``status``, at most one project path and the command's options, each given once,
as ``--option value``, ``--option=value`` or ``-o value``, no value given as a
word of its own starting with ``-`` (``--period=-1`` is plain: Typer reads it the
same way). Any other line (``--help``, a mistyped or repeated option, a
missing value, an unreadable path, shell completion…) goes to Typer, which
reads it as always and gives its own help and messages.

``tests/cli/test_direct.py`` checks that :data:`STATUS_OPTIONS` is the command's
set of options and that both ways read lines into the same values.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

from kpitree.cli import state

__all__ = ["STATUS_OPTIONS", "parse_status_line", "run_direct", "show_status"]

STATUS_OPTIONS: dict[str, tuple[str, str | bool]] = {
    "--period": ("period", "value"),
    "-p": ("period", "value"),
    "--by": ("by", "values"),
    "-b": ("by", "values"),
    "--as-of": ("as_of", "value"),
    "--where": ("where", "values"),
    "-w": ("where", "values"),
    "--targets": ("targets", "value"),
    "--compare": ("compare", True),
    "--no-compare": ("compare", False),
    "--json": ("json", True),
}
"""``kpitree status``'s options: option -> (parameter, what it takes): ``value``
the next word, ``values`` the next word and may be given again, or the value a
flag sets."""

STATUS_DEFAULTS: dict[str, Any] = {
    "path": Path(),
    "period": None,
    "by": None,
    "as_of": None,
    "where": None,
    "targets": "then",
    "compare": True,
    "json": False,
}
"""The parameters of ``kpitree status`` when not given."""


def _split(word: str) -> tuple[str, str | None]:
    """``--option=value`` as (option, value); any other word with ``None``."""
    if word.startswith("--") and "=" in word:
        option, _, value = word.partition("=")
        return option, value
    return word, None


def parse_status_line(argv: list[str]) -> tuple[str | None, bool, dict[str, Any]] | None:
    """The language, ``--debug`` and the status parameters of a plain status
    line (see the module), or ``None`` for any other line."""
    lang: str | None = None
    debug = False
    seen: set[str] = set()
    words = iter(argv)
    for word in words:  # the global options, up to the command
        option, value = _split(word)
        if option in seen:
            return None
        seen.add(option)
        if option == "--debug" and value is None:
            debug = True
        elif option == "--lang":
            lang = value if value is not None else next(words, None)
            from kpitree.i18n import LANGUAGES

            if lang not in LANGUAGES:
                return None  # Typer's message, or its missing value
        elif word == "status":
            break
        else:
            return None
    else:
        return None
    values = dict(STATUS_DEFAULTS)
    given: set[str] = set()
    path: str | None = None
    for word in words:
        option, value = _split(word)
        if not option.startswith("-"):
            if path is not None or not word:
                return None  # a second argument, or an empty path: Typer's message
            path = word
            continue
        known = STATUS_OPTIONS.get(option)
        if known is None:
            return None
        name, takes = known
        if name in given and takes != "values":
            return None
        given.add(name)
        if isinstance(takes, bool):
            if value is not None:
                return None
            values[name] = takes
            continue
        if value is None:
            value = next(words, None)
            if value is None or value.startswith("-"):
                return None
        if takes == "values":
            values[name] = [*(values[name] or []), value]
        else:
            values[name] = value
    # As Typer checks the path argument, given or not (the current folder): one
    # that exists must be readable. A path that cannot be looked up for another
    # reason than its absence (a name too long for the file system, a folder on
    # the way that cannot be searched) is left to Typer too.
    target = STATUS_DEFAULTS["path"] if path is None else Path(path)
    try:
        target.stat()
    except FileNotFoundError:
        pass
    except OSError:
        return None
    else:
        if not os.access(target, os.R_OK):
            return None
    values["path"] = target
    return lang, debug, values


def run_direct(argv: list[str]) -> int | None:
    """Run a plain status line (see the module): its exit status, or ``None``
    when ``argv`` is any other line, for the Typer application to run."""
    if "_KPITREE_COMPLETE" in os.environ:  # shell completion: Typer's
        return None
    parsed = parse_status_line(argv)
    if parsed is None:
        return None
    lang, debug, values = parsed
    from kpitree.i18n import set_lang

    state.finished_reading = False
    set_lang(lang)
    state.debug = debug
    # What Typer's command line does with these exceptions, for the same messages
    # and exit statuses (kpitree.cli.output.run_app).
    try:
        show_status(**values)
    except KeyboardInterrupt:
        return 130
    except EOFError:
        import typer

        from kpitree.i18n import t

        typer.echo(err=True)
        typer.echo(t("cli.aborted"), err=True)
        return 1
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
            from typer._click.utils import PacifyFlushWrapper

            sys.stdout = PacifyFlushWrapper(sys.stdout)
            sys.stderr = PacifyFlushWrapper(sys.stderr)
            sys.exit(1)
        if state.debug:
            raise
        from kpitree.cli.output import report_failure

        return report_failure(exc)
    return 0


def show_status(
    path: Path,
    period: str | None,
    by: list[str] | None,
    as_of: str | None,
    where: list[str] | None,
    targets: str,
    compare: bool,
    json: bool,
) -> None:
    """``kpitree status``: print the tree's status (a table, or JSON)."""
    from kpitree.cli import render_status
    from kpitree.cli.output import parse_day, print_json
    from kpitree.project import Project

    project = Project.load(path)
    # One engine for the status and the reps' names: opening the warehouse
    # again would cost as much as a small project's whole status.
    with project.engine() as engine:
        result = project.status(
            period,
            by=by,
            as_of=parse_day(as_of),
            filters=_filters(where) or None,
            targets=targets,
            compare=compare,
            engine=engine,
        )
        names = render_status.rep_names_of(project, result, engine)
    if json:
        print_json(render_status.status_json(project, result, names))
    else:
        render_status.status_view(project, result, names)
    # Only read: the kept results and compiled SQL it wrote are closed files,
    # the warehouse is closed.
    state.finished_reading = True


def _filters(items: list[str] | None) -> dict[str, list[str | None]]:
    from kpitree.errors import UserError

    out: dict[str, list[str | None]] = {}
    for item in items or []:
        dim, sep, value = item.partition("=")
        if not sep or not dim.strip():
            raise UserError.of("KT532", "cli.bad_where", None, value=item)
        out.setdefault(dim.strip(), []).append(value.strip() or None)
    return out
