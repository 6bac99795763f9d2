"""``kpitree validity``: does each KPI and influence link earn its place in
the tree (see :mod:`kpitree.review.validity`)?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kpitree.cli.application import app
from kpitree.cli.output import parse_day, print_json
from kpitree.escaping import terminal_text
from kpitree.i18n import current_lang, t


@app.command()
def validity(
    path: Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")] = Path(),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Judge the complete months before this day (default: today)."),
    ] = None,
    months: Annotated[
        int, typer.Option("--months", min=2, max=120, help="How many months of history.")
    ] = 24,
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Judge every KPI and influence link from the project's history: keep,
    re-target, replace, drop, or not enough history, with the evidence
    (variation, lead on the KGI with its p-value and pairs, green/red shares)."""
    from rich.console import Console
    from rich.table import Table

    from kpitree.project import Project
    from kpitree.review.validity_view import validity_view

    project = Project.load(path)
    lang = current_lang()
    view = validity_view(project, lang, parse_day(as_of), months)
    if json:
        print_json(view)
        return
    typer.echo(view["intro"])
    if not view["rows"]:
        typer.echo(t("validity.cli.none"))
        _print_checks(view.get("checks"))
        return
    table = Table(show_lines=False)
    for key in ("kpi", "verdict", "why", "evidence"):
        table.add_column(t(f"validity.col.{key}"))
    for row in view["rows"]:
        table.add_row(
            terminal_text(row["label"]),
            row["verdict_text"],
            terminal_text(row["why"]),
            terminal_text(row["evidence"]),
        )
    Console(highlight=False, width=200).print(table)
    _print_checks(view.get("checks"))


def _print_checks(checks: list[dict[str, Any]] | None) -> None:
    """The SMART and count checks of ``kpitree check``, re-run now."""
    if not checks:
        return
    typer.echo(t("validity.checks_title"))
    for c in checks:
        typer.echo(f"  {c['code']} {c['check']}: {c['state_text']}")
        for f in c["findings"]:
            typer.echo(terminal_text(f"    - {f['message']}"))
