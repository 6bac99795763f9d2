"""``kpitree data links``: how the sources are linked into one funnel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kpitree.cli.commands_quality import data_app
from kpitree.cli.output import print_json
from kpitree.errors import UserError
from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.compute.links_report import LinksReport
    from kpitree.project import Project


@data_app.command("links")
def links(
    path: Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")] = Path(),
    limit: Annotated[
        int,
        typer.Option("--limit", help="Unmatched and ambiguous records listed per relation."),
    ] = 20,
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """How leads, deals and accounts from different sources are linked into one
    funnel: per relation (a deal's lead, a deal's account, a lead's account) and
    source, the share of records linked and by which method (id, e-mail, a key
    of your own named under data.links in kpitree.yaml, 法人番号, e-mail domain,
    company name), then the records left unmatched (with the e-mail or company
    name that names each) and those refused as ambiguous (several candidates),
    with what to do. Links are rebuilt first when data.links changed."""
    from kpitree.compute.links_report import links_report
    from kpitree.project import Project

    if limit < 0:
        raise UserError.of("KT330", "links.bad_limit", None, value=limit)
    project = Project.load(path)
    links_up_to_date(project)
    with project.engine() as engine:
        report = links_report(engine, limit)
    if json:
        print_json(report.to_json())
    else:
        _print(report)


def links_up_to_date(project: Project) -> None:
    """Build the links of the project's DuckDB warehouse when it has none (a
    warehouse written before links existed) or they were built with other keys
    than ``data.links`` now names (every write builds them too)."""
    from kpitree.data.links import settings_changed
    from kpitree.data.linksettings import configured_link_keys
    from kpitree.data.warehouse import Warehouse

    target = project.warehouse_target
    if "://" in target or not Path(target).is_file():
        return
    wh = Warehouse(target)
    wh.link_keys = configured_link_keys(project.path)
    with wh.connect() as con:
        stale = settings_changed(con, wh.link_keys)
        if not stale:
            found = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'kpitree_links'"
            ).fetchall()
            stale = not found[0][0]
    if stale:
        wh.rebuild_links()


def _print(report: LinksReport) -> None:
    from kpitree.compute.links_report import method_label, records_shown

    if not report.relations:
        typer.echo(t("links.none"))
        return
    for rel in report.relations:
        typer.echo(t(f"links.relation.{rel.relation}"))
        for p in rel.pairs:
            rate = "-" if p.rate is None else f"{p.rate:.1%}"
            typer.echo(
                "  "
                + t(
                    "links.pair",
                    source=p.from_source,
                    linked=p.linked,
                    records=p.records,
                    rate=rate,
                    ambiguous=p.ambiguous,
                    unmatched=p.unmatched,
                )
            )
            for (to_source, method), n in sorted(p.by_method.items()):
                typer.echo(
                    "    " + t("links.by", source=to_source, method=method_label(method), count=n)
                )
        if rel.unmatched:
            ids = records_shown(rel.unmatched)
            typer.echo("  " + t("links.unmatched", ids=ids, limit=report.limit))
        for a in rel.ambiguous:
            typer.echo(
                "  "
                + t(
                    "links.ambiguous",
                    id=a["id"],
                    method=method_label(a["method"]),
                    key=a["key"],
                    candidates=a["candidates"],
                    examples=", ".join(a["examples"]),
                )
            )
        if any(p.unmatched or p.ambiguous for p in rel.pairs):
            typer.echo("  " + t(f"links.hint.{rel.relation}"))
