"""``kpitree data``: checks over the data in the warehouse (``data check``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import parse_day, print_json
from kpitree.errors import UserError
from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.compute.quality import QualityReport

data_app = typer.Typer(
    help="Checks over the imported data: what to fix before trusting the numbers.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

_FAIL_ON = ("error", "warning")


@data_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")] = Path(),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Day the data should reach, YYYY-MM-DD (default: today)."),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit with 1 when a finding is at this level or worse: error or warning.",
        ),
    ] = "error",
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Check the data behind the numbers: stage histories that go backwards or
    skip a stage, facts before their creation or in the future, negative
    durations, deals without amount or owner, owners without a team, stale
    tables, text that lost characters in a Shift_JIS export. Exit status 1 when
    a finding is at error level (or at the --fail-on level)."""
    from kpitree.cli.commands_links import links_up_to_date
    from kpitree.compute.quality import check_quality
    from kpitree.project import Project

    if fail_on not in _FAIL_ON:
        raise UserError.of("KT851", "quality.bad_fail_on", None, value=fail_on)
    project = Project.load(path)
    links_up_to_date(project)
    day = parse_day(as_of) or project.today()
    catalogue = project.catalogue
    with project.engine() as engine:
        report = check_quality(engine, catalogue, project.tree, day)
    if json:
        print_json(report.to_json())
    else:
        _print(report)
    if report.fails(fail_on):
        raise typer.Exit(1)


def _print(report: QualityReport) -> None:
    from kpitree.compute.quality_freshness import rule_key

    typer.echo(
        t(
            "quality.summary",
            as_of=report.as_of.isoformat(),
            errors=report.count("error"),
            warnings=report.count("warning"),
        )
    )
    for f in report.findings:
        about = t(rule_key(f.rule, f.detail), **f.detail)
        typer.echo(
            f"{t('quality.level.' + f.level)} {f.code} {f.table}: "
            + t("quality.records", count=f.count, about=about)
        )
        if f.examples:
            typer.echo("  " + t("quality.examples", ids=", ".join(f.examples)))
        if f.nodes:
            typer.echo("  " + t("quality.nodes", nodes=", ".join(f.nodes)))
        elif f.metrics:
            typer.echo("  " + t("quality.metrics", metrics=", ".join(f.metrics)))
    if report.freshness:
        typer.echo(t("quality.freshness"))
        width = max(len(f.table) for f in report.freshness)
        named = max((len(f.source or "") for f in report.freshness), default=0)
        for fr in report.freshness:
            head = f"  {fr.table.ljust(width)}  "
            if named:  # a warehouse that records where its rows came from
                head += f"{(fr.source or '-').ljust(named)}  "
            if fr.days is None:
                typer.echo(head + t("quality.fresh.undated"))
                continue
            key = "quality.fresh.stale" if fr.stale else "quality.fresh.ok"
            newest = "-" if fr.newest is None else fr.newest.isoformat()
            if fr.delivered is not None:
                key += "_delivered"
            delivered = None if fr.delivered is None else fr.delivered.isoformat()
            typer.echo(
                head
                + t(key, newest=newest, delivered=delivered, days=fr.days, limit=fr.stale_after)
            )
