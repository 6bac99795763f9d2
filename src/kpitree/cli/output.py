"""Printing results and errors, and the single place where errors meet the user."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.cli import state
from kpitree.errors import Diagnostic, KpitreeError, UserError
from kpitree.i18n import t

if TYPE_CHECKING:
    import typer

# Typer is imported where it is used: `kpitree status` prints its results
# without building the command line (kpitree.cli.direct).


def parse_day(text: str | None) -> dt.date | None:
    """``--as-of``: a day as ``2026-10-15`` (or ``2026/10/15``); KT531 otherwise."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise UserError.of("KT531", "cli.bad_as_of", None, value=text) from None


def print_json(payload: Any) -> None:
    """Machine-readable output: UTF-8 JSON on stdout, Japanese kept readable."""
    from kpitree.cli import json_text

    # The characters of json.dumps(payload, ensure_ascii=False, indent=2, default=str).
    sys.stdout.write(json_text.dumps(payload) + "\n")


def _source_line(
    path: str | None, line: int, files: dict[str, list[str] | None] | None = None
) -> str | None:
    if not path:
        return None
    files = {} if files is None else files
    if path not in files:  # each file read once per batch of messages
        try:
            files[path] = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            files[path] = None
    lines = files[path]
    return lines[line - 1] if lines is not None and 0 < line <= len(lines) else None


def format_diagnostic(
    diag: Diagnostic, *, caret: bool = True, files: dict[str, list[str] | None] | None = None
) -> str:
    """``file:line:col: severity: message``, with the source line and a caret
    under the offending columns when the span is precise."""
    severity = t(f"severity.{diag.severity.value}")
    span = diag.span
    where = f"{span}: " if span else ""
    text = f"{where}{severity}: {diag.message()}"
    if caret and span and span.end_column is not None:
        source = _source_line(span.file, span.line, files)
        if source is not None:
            width = max(1, span.end_column - span.column)
            pad = "".join(ch if ch == "\t" else " " for ch in source[: span.column - 1])
            text += f"\n    {source}\n    {pad}{'^' * width}"
    return text


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    import typer

    files: dict[str, list[str] | None] = {}
    for diag in diagnostics:
        typer.echo(format_diagnostic(diag, files=files), err=True)


def run_app(app: typer.Typer, argv: Sequence[str] | None) -> int:
    """Run the Typer app and turn kpitree errors into located messages."""
    import typer

    state.finished_reading = False
    try:
        # A fixed program name keeps usage lines (and the generated docs) the same
        # whether run as `kpitree` or `python -m kpitree`.
        returned = app(
            args=list(argv) if argv is not None else None,
            prog_name="kpitree",
            standalone_mode=False,
        )
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        typer.echo(t("cli.aborted"), err=True)
        return 1
    except typer.TyperException as exc:
        # Usage errors (bad option, --lang xx). Typer vendors its own click, so
        # these are not `click.ClickException`s and `click` may not be installed.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"{t('severity.error')}: {exc.format_message()}", err=True)
        return exc.exit_code
    except Exception as exc:
        if state.debug:
            raise
        return report_failure(exc)
    # Outside standalone mode click does not raise `typer.Exit(n)` from a command:
    # it returns n (commands themselves return None).
    if isinstance(returned, int) and not isinstance(returned, bool):
        return returned
    return 0


def report_failure(exc: Exception) -> int:
    """Print what a command that raised ``exc`` tells the user; its exit status:
    1 for kpitree's errors (located messages for a :class:`UserError`), 2 for
    anything else (an internal error)."""
    import typer

    if isinstance(exc, UserError):
        print_diagnostics(exc.diagnostics)
        return 1
    if isinstance(exc, KpitreeError):
        typer.echo(f"{t('severity.error')}: {exc}", err=True)
        return 1
    typer.echo(t("cli.internal_error", error=f"{type(exc).__name__}: {exc}"), err=True)
    return 2
