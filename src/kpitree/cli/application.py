"""The Typer application and its global options. Command modules register
themselves on :data:`app` when imported at the bottom of this module."""

from __future__ import annotations

from typing import Annotated

import typer

from kpitree.cli import state
from kpitree.cli.lazy import LazyGroup
from kpitree.i18n import t

app = typer.Typer(
    name="kpitree",
    cls=LazyGroup,
    # Plain help (no rich panels): `kpitree --help` stays fast (about a tenth of a
    # second) because neither rich nor any command module is imported for it.
    rich_markup_mode=None,
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


# Command modules register their commands on `app` when imported; a command
# line imports only the module of the command it runs (kpitree.cli.lazy), and
# `kpitree --help` lists them from kpitree.cli.command_index without importing any.
COMMAND_MODULES = (
    "commands_accounts",
    "commands_actions",
    "commands_alerts",
    "commands_book",
    "commands_core",
    "commands_data",
    "commands_engine",
    "commands_links",
    "commands_mappings",
    "commands_quality",
    "commands_reports",
    "commands_revisions",
    "commands_scorecard",
    "commands_sync",
    "commands_validity",
    "commands_web",
)
"""Every command module, in the order that gives the commands' order in help."""


def load_all_commands() -> None:
    """Import every command module (documentation, tests that walk the commands)."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"kpitree.cli.{name}")
