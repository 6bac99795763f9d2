"""``kpitree scorecard``: per department, team or rep, the achievement of the
KPIs their department owns (see :mod:`kpitree.review.scorecard`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kpitree.cli.app import app
from kpitree.cli.output import parse_day, print_json
from kpitree.errors import UserError
from kpitree.escaping import terminal_text
from kpitree.i18n import current_lang, t


@app.command()
def scorecard(
    path: Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")] = Path(),
    period: Annotated[
        str | None, typer.Option("--period", "-p", help="e.g. 2026-10, 2026-Q3, FY2026.")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="department, team or rep.")] = "rep",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day to measure up to (default: today).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--xlsx", help="Also write the cards to this XLSX file.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Scorecards for evaluation: each department, team or rep with the
    KPIs its department owns (actual, target, achievement, volume) and a
    score (the average achievement, each capped at 150%)."""
    from kpitree.project import Project
    from kpitree.review.scorecard import scorecards

    project = Project.load(path)
    lang = current_lang()
    found = scorecards(project, period or "this-month", by, lang, parse_day(as_of))
    if out is not None:
        try:
            out.write_bytes(_xlsx(found, lang))
        except OSError as exc:
            raise UserError.of(
                "KT243", "scorecard.cannot_write", None, path=str(out), reason=exc.strerror or ""
            ) from None
    if json:
        print_json(found)
        return
    for card in found["cards"]:
        who = " / ".join(str(v) for v in card["segment"].values())
        score = "—" if card["score"] is None else f"{card['score'] * 100:.0f}%"
        typer.echo(
            terminal_text(t("scorecard.card", who=who, score=score, kpis=card["scored_kpis"]))
        )
        for k in card["kpis"]:
            ach = "—" if k["achievement"] is None else f"{k['achievement'] * 100:.0f}%"
            typer.echo(terminal_text(f"  {k['label']}: {ach}"))


def _xlsx(found: dict[str, object], lang: str) -> bytes:
    """One row per segment and KPI, numbers as numbers, texts as text cells."""
    import io

    from openpyxl import Workbook

    from kpitree.escaping import write_xlsx_cell

    book = Workbook()
    sheet = book.active
    sheet.title = t("scorecard.sheet", lang=lang)
    keys = (
        "department",
        "team",
        "rep",
        "kpi",
        "actual",
        "target",
        "achievement",
        "volume",
        "score",
    )
    for j, key in enumerate(keys, start=1):
        write_xlsx_cell(sheet.cell(row=1, column=j), t(f"scorecard.col.{key}", lang=lang))
    row = 2
    cards = found["cards"]
    assert isinstance(cards, list)
    for card in cards:
        for k in card["kpis"]:
            values = [
                card["segment"].get("department"),
                card["segment"].get("team"),
                card["segment"].get("rep"),
                k["label"],
                k["actual"],
                k["target"],
                k["achievement"],
                k["volume"],
                card["score"],
            ]
            for j, value in enumerate(values, start=1):
                write_xlsx_cell(sheet.cell(row=row, column=j), value)
            row += 1
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
