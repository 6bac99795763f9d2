"""The Typer application and its global options. Command modules register
themselves on :data:`app` when imported at the bottom of this module."""

from __future__ import annotations

from typing import Annotated

import typer

from kpitree.cli import state
from kpitree.i18n import t

app = typer.Typer(
    name="kpitree",
    help="KPI trees as code: design, check, plan and explain. "
    "/ KPIツリーをコードで設計・検証・逆算・分析。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from kpitree import __version__

        typer.echo(f"kpitree {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Message language: ja or en (default: from the locale)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    from kpitree.i18n import LANGUAGES, set_lang

    if lang is not None and lang not in LANGUAGES:
        raise typer.BadParameter(t("cli.bad_lang", value=lang), param_hint="--lang")
    set_lang(lang)
    state.debug = debug


# Command modules register their commands on `app` when imported.
from kpitree.cli import commands_accounts as commands_accounts  # noqa: E402
from kpitree.cli import commands_actions as commands_actions  # noqa: E402
from kpitree.cli import commands_alerts as commands_alerts  # noqa: E402
from kpitree.cli import commands_book as commands_book  # noqa: E402
from kpitree.cli import commands_core  # noqa: E402,F401
from kpitree.cli import commands_data as commands_data  # noqa: E402
from kpitree.cli import commands_engine as commands_engine  # noqa: E402
from kpitree.cli import commands_links as commands_links  # noqa: E402
from kpitree.cli import commands_mappings as commands_mappings  # noqa: E402
from kpitree.cli import commands_quality as commands_quality  # noqa: E402
from kpitree.cli import commands_reports as commands_reports  # noqa: E402
from kpitree.cli import commands_revisions as commands_revisions  # noqa: E402
from kpitree.cli import commands_scorecard as commands_scorecard  # noqa: E402
from kpitree.cli import commands_sync as commands_sync  # noqa: E402
from kpitree.cli import commands_validity as commands_validity  # noqa: E402
from kpitree.cli import commands_web as commands_web  # noqa: E402
