"""``kpitree accounts``: account scores, tiers and target accounts (``abm:``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import parse_day, print_json
from kpitree.escaping import terminal_text
from kpitree.i18n import current_lang, t


@app.command("accounts")
def accounts(
    path: Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")] = Path(),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day scored, YYYY-MM-DD (default: today).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Day compared with, YYYY-MM-DD (default: the end of the previous month).",
        ),
    ] = None,
    tier: Annotated[
        str | None, typer.Option("--tier", help="Only this tier (none: accounts in no tier).")
    ] = None,
    targets: Annotated[bool, typer.Option("--targets", help="Only target accounts.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows shown (0: all).")] = 50,
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Score every account as the abm: section of kpitree.yaml says: its tier,
    score, points per criterion, change since the previous period and whether it
    is a target account, highest score first."""
    from kpitree.project import Project

    project = Project.load(path)
    lang = current_lang()
    overview = project.accounts(as_of=parse_day(as_of), compared_with=parse_day(since), lang=lang)
    overview = overview.filtered(tier=tier, target=True if targets else None)
    if json:
        print_json(overview.to_json())
        return
    _print(overview, limit)


def _print(overview: object, limit: int) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from kpitree.abm.overview import AccountsOverview

    assert isinstance(overview, AccountsOverview)
    console = Console(highlight=False)
    console.print(
        escape(
            t(
                "abm.cli.title",
                as_of=overview.as_of.isoformat(),
                compared_with=overview.compared_with.isoformat(),
            )
        )
    )
    tiers = ", ".join(f"{k} {v}" for k, v in overview.tier_counts().items())
    moves = overview.moves()
    targets = sum(1 for r in overview.rows if r.target)
    console.print(
        escape(
            t("abm.cli.summary", tiers=tiers, targets=targets, up=moves["up"], down=moves["down"])
        )
    )
    table = Table()
    for key in ("account", "tier", "score", "change", "target"):
        table.add_column(t(f"abm.cli.col.{key}"))
    for label in overview.criteria.values():
        table.add_column(escape(terminal_text(label)), justify="right")
    rows = overview.rows if limit == 0 else overview.rows[:limit]
    for r in rows:
        s = r.score
        change = "" if r.change is None else f"{r.change:+.1f}"
        tier = s.tier or "-"
        if r.tier_before != s.tier:
            tier = f"{r.tier_before or '-'} → {tier}"
        table.add_row(
            escape(terminal_text(f"{s.name or ''} ({s.account_id})")),
            escape(tier),
            f"{s.score:.1f}",
            change,
            "●" if r.target else "",
            *["—" if cid in s.missing else f"{s.points[cid]:.1f}" for cid in overview.criteria],
        )
    console.print(table)
    if overview.unmatched:
        rows_text = ", ".join(f"{e.row}: {terminal_text(e.label)}" for e in overview.unmatched)
        console.print(escape(t("abm.cli.unmatched", rows=rows_text)))


@app.command("import-master")
def import_master(
    file: Annotated[Path, typer.Argument(help="Company master CSV (法人番号, 従業員数, ...).")],
    project_path: Annotated[
        Path, typer.Option("--project", "-p", help="Project folder or its kpitree.yaml.")
    ] = Path(),
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="Encoding (default: UTF-8 or Shift_JIS detected)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Import a company master keyed by 法人番号 (employees, industry, annual
    revenue): accounts lacking them take the master's, matched by 法人番号,
    domain or company name. Replaces the previous master; a file with any
    problem writes nothing."""
    from kpitree.project import Project

    project = Project.load(project_path)
    count = project.import_company_master(file, encoding)
    from kpitree.cli.commands_data import _refresh_scores

    _refresh_scores(project.path)
    with project.engine() as engine:
        from kpitree.abm.master import master_matches

        matched = master_matches(engine)
    methods = {m: sum(1 for x in matched.values() if x.method == m)
               for m in ("corporate_number", "domain", "name")}  # fmt: skip
    if json:
        print_json({"companies": count, "accounts_matched": len(matched), "by": methods})
        return
    typer.echo(
        t(
            "abm.master.imported",
            companies=count,
            accounts=len(matched),
            by_number=methods["corporate_number"],
            by_domain=methods["domain"],
            by_name=methods["name"],
        )
    )
