"""Commands over data: status, query, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import print_json
from kpitree.i18n import t

PathArg = Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
PeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period",
        "-p",
        help="Period: 2026-10, 2026-Q3 (fiscal), FY2026, 2026-W41, 2026-10-05, this-month, "
        "last-month ... (default: the current month).",
    ),
]
ByOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        "-b",
        help="Segment by a dimension (repeatable): department, team, rep, region, channel, "
        "segment, product, industry ... team and rep drill down from the department.",
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Day to measure up to, YYYY-MM-DD (default: today)."),
]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--where", "-w", help="Segment filter dim=value (repeatable), e.g. team=東日本営業部."
    ),
]


@app.command()
def status(
    path: PathArg = Path(),
    period: PeriodOpt = None,
    by: ByOpt = None,
    as_of: AsOfOpt = None,
    where: WhereOpt = None,
    targets: Annotated[
        str,
        typer.Option(
            "--targets",
            help="then: each month's targets as the definition's revision in force then "
            "(kpitree revisions); current: today's definition.",
        ),
    ] = "then",
    compare: Annotated[
        bool,
        typer.Option(
            "--compare/--no-compare",
            help="Also the previous period and the same period last year "
            "(--no-compare: this period only, faster).",
        ),
    ] = True,
    json: JsonOpt = False,
) -> None:
    """The tree with actual, target, achievement, expected-to-date, forecast and status."""
    # A plain status line runs show_status without building this command
    # (kpitree.cli.direct); any other line comes here.
    from kpitree.cli.direct import show_status

    show_status(path, period, by, as_of, where, targets, compare, json)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A read-only SQL query over the canonical tables.")],
    path: Annotated[
        Path, typer.Option("--project", "-p", help="Project folder or its kpitree.yaml.")
    ] = Path(),
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many rows.")] = 1000,
    json: JsonOpt = False,
) -> None:
    """Run read-only SQL on the canonical tables (leads, deals, activities, ...)."""
    from kpitree.cli import render_status
    from kpitree.project import Project

    project = Project.load(path)
    with project.engine() as engine:
        table = engine.query(sql, limit=limit)
    if json:
        print_json(table.to_pylist())
    else:
        render_status.arrow_table(table)


@app.command()
def metrics(path: PathArg = Path(), json: JsonOpt = False) -> None:
    """List the metrics a node can measure: built-in and the project's own."""
    from kpitree.cli import render_status
    from kpitree.project import Project

    project = Project.load(path)
    catalogue = project.catalogue
    if json:
        print_json(
            {
                mid: {
                    "label": m.display("en"),
                    "builtin": m.builtin,
                    **m.spec.model_dump(by_alias=True, exclude_defaults=True, mode="json"),
                }
                for mid, m in catalogue.metrics.items()
            }
        )
    else:
        render_status.metric_list(catalogue)
        typer.echo(t("cli.metrics_count", count=len(catalogue.metrics)))
