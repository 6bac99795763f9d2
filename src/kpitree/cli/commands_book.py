"""``kpitree book``: the KPI definitions book (KPI定義書), generated from the
definition as it is now (see :mod:`kpitree.review.book`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import print_json
from kpitree.errors import UserError
from kpitree.i18n import current_lang, t


@app.command()
def book(
    path: Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")] = Path(),
    fmt: Annotated[str, typer.Option("--format", "-f", help="html, md, xlsx or pdf.")] = "html",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File to write (default: kpitree-book.<format>)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON.")] = False,
) -> None:
    """Write the KPI definitions book: every node's name, meaning, formula in
    symbols and words, unit, owner, data source and metric definition,
    targets, reference range, leading/lagging and the alerts and SLAs that
    watch it."""
    from kpitree.project import Project
    from kpitree.review.book import book_entries
    from kpitree.review.book_render import FORMATS, render_book

    project = Project.load(path)
    lang = current_lang()
    entries = book_entries(project.tree, project.catalogue, lang)
    if json:
        print_json(entries)
        return
    if fmt not in FORMATS:
        raise UserError.of("KT240", "book.bad_format", None, value=fmt, formats=", ".join(FORMATS))
    if fmt == "pdf":
        from kpitree.reports.charts import require_cjk_font

        require_cjk_font()
    title = t("book.title", lang=lang, project=project.tree.name)
    target = out or Path(f"kpitree-book.{fmt}")
    try:
        target.write_bytes(render_book(title, entries, fmt, lang))
    except OSError as exc:
        raise UserError.of(
            "KT241", "book.cannot_write", None, path=str(target), reason=exc.strerror or ""
        ) from None
    typer.echo(t("book.written", path=str(target), nodes=len(entries)))
