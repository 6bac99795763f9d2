"""``kpitree scorecard``: per department, team or rep, the achievement of the
KPIs their department owns (see :mod:`kpitree.review.scorecard`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kpitree.cli.application import app
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
    score under the project's ``scorecards:`` rules (weights, cap, bands)."""
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
        who = card["title"]
        score = _score_text(card["score"], found["score_unit"])
        typer.echo(
            terminal_text(t("scorecard.card", who=who, score=score, kpis=card["scored_kpis"]))
        )
        for k in card["kpis"]:
            ach = "—" if k["achievement"] is None else f"{k['achievement'] * 100:.0f}%"
            scored = _score_text(k["score"], found["score_unit"])
            typer.echo(terminal_text(t("scorecard.kpi", kpi=k["label"], achievement=ach,
                                       score=scored, weight=f"{k['weight']:g}")))  # fmt: skip


def _score_text(score: float | None, unit: str) -> str:
    if score is None:
        return "—"
    return f"{score * 100:.0f}%" if unit == "achievement" else f"{score:.4g}"


def _xlsx(found: dict[str, Any], lang: str) -> bytes:
    """One row per segment and KPI, numbers as numbers, texts as text cells."""
    import io

    from openpyxl import Workbook

    from kpitree.escaping import write_xlsx_cell
    from kpitree.review.scorecard import TABLE_COLUMNS, table_rows

    book = Workbook()
    sheet = book.active
    sheet.title = t("scorecard.sheet", lang=lang)
    for j, key in enumerate(TABLE_COLUMNS, start=1):
        write_xlsx_cell(sheet.cell(row=1, column=j), t(f"scorecard.col.{key}", lang=lang))
    for i, values in enumerate(table_rows(found), start=2):
        for j, value in enumerate(values, start=1):
            write_xlsx_cell(sheet.cell(row=i, column=j), value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
