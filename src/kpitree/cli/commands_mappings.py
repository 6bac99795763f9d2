"""``kpitree mappings``: list, show and detect the built-in mapping presets, and
draft a new mapping from a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import print_json
from kpitree.i18n import t

mappings_app = typer.Typer(
    help=(
        "The built-in mapping presets: list them, print one, find the one that fits a file,"
        " or draft a mapping for a file none fits."
    ),
    no_args_is_help=True,
)
app.add_typer(mappings_app, name="mappings")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

# Presets that do not fit, listed by `detect` after those that do (--all: every one).
CLOSEST_SHOWN = 3


def _about(name: str, fallback: str | None) -> str:
    """The preset's one-line description in the current language."""
    key = f"data.presets.about.{name}"
    text = t(key)
    return fallback or "" if text == key else text


@mappings_app.command("list")
def list_(json: JsonOpt = False) -> None:
    """Name every preset with a one-line description."""
    from kpitree.data.mapping import load_mapping, preset_names

    presets = [(n, _about(n, load_mapping(n).description)) for n in preset_names()]
    if json:
        print_json({"presets": [{"name": n, "description": d} for n, d in presets]})
        return
    width = max(len(n) for n, _ in presets)
    for name, about in presets:
        typer.echo(f"{name.ljust(width)}  {about}")


@mappings_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Preset name, as listed by `kpitree mappings list`.")],
    json: JsonOpt = False,
) -> None:
    """Print a preset's YAML, to copy into a project and edit:
    `kpitree mappings show hubspot-contacts > my-contacts.yaml`."""
    from kpitree.data.mapping import load_mapping, preset_text

    loaded = load_mapping(name)  # refuses unknown names, with "did you mean"
    text = preset_text(loaded.name)
    if json:
        print_json({"name": loaded.name, "description": loaded.description, "yaml": text})
        return
    typer.echo(text, nl=not text.endswith("\n"))


@mappings_app.command("detect")
def detect(
    file: Annotated[str, typer.Argument(help="A CSV or XLSX export.")],
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="XLSX sheet to read (default: the first).")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding", help="Encoding of a CSV (default: UTF-8 or Shift_JIS, detected)."
        ),
    ] = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="List every preset (default: those that fit, and the 3 closest)."
        ),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Rank the presets by how well a file's headers fit them.

    For each preset: whether it fits, how many required columns it found, and for
    each missing one the closest header in the file. Without `--all`, only the
    presets that fit and the 3 closest others are listed.
    """
    from kpitree.data.fit import rank_presets
    from kpitree.data.headers import read_headers

    headers = read_headers(file, sheet=sheet, encoding=encoding)
    ranked = rank_presets(headers)
    if json:
        print_json(
            {
                "file": file,
                "headers": list(headers),
                "presets": [f.to_json(headers) for f in ranked],
            }
        )
        return
    best = ranked[0] if ranked and ranked[0].fits else None
    if best is not None:
        typer.echo(t("data.presets.detected", file=file, name=best.name))
    else:
        typer.echo(t("data.presets.none_fits", file=file))
    shown = ranked if all_ else [f for f in ranked if f.fits]
    if not all_:
        shown += [f for f in ranked if not f.fits][:CLOSEST_SHOWN]
    for f in shown:
        found = f.required - len(f.missing)
        mark = t("data.presets.fits") if f.fits else t("data.presets.does_not_fit")
        typer.echo(
            t(
                "data.presets.rank_line",
                name=f.name,
                mark=mark,
                found=found,
                required=f.required,
                read=len(f.read),
            )
        )
        for m in f.missing:
            closest = (
                t("data.presets.closest", header=m.closest)
                if m.closest
                else t("data.presets.no_closest")
            )
            typer.echo(
                t(
                    "data.presets.missing_line",
                    target=m.target,
                    headers=" / ".join(m.headers),
                    closest=closest,
                )
            )
    if len(shown) < len(ranked):
        typer.echo(t("data.presets.more", count=len(ranked) - len(shown)))
    if best is None:
        typer.echo(t("data.presets.try_new", file=file))


@mappings_app.command("new")
def new(
    file: Annotated[str, typer.Argument(help="A CSV or XLSX export no preset fits.")],
    out: Annotated[
        str | None,
        typer.Option("-o", "--output", help="Write the draft to this file (default: print it)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file.")] = False,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="XLSX sheet to read (default: the first).")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding", help="Encoding of a CSV (default: UTF-8 or Shift_JIS, detected)."
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Draft a mapping from a file's headers and first rows, to review and edit.

    Guesses the table (leads, deals or accounts), the id (or the columns to make
    one from), the dates, the amount, the stage column and its values, the owner
    and the account; comments say what to check. The draft is checked like any
    mapping before it is written: `kpitree mappings new export.csv -o export.yaml`,
    then `kpitree import export.csv --mapping export.yaml`.
    """
    from kpitree.data.drafting import check_draft, draft_mapping
    from kpitree.data.profile import Sample

    target = Path(out) if out else None
    if target is not None and target.exists() and not force:
        from kpitree.errors import DataError, Span

        raise DataError.of("KT322", "data.draft.exists", Span(out or "", 1, 1), path=out)
    with Sample(file, sheet=sheet, encoding=encoding) as sample:
        name = Path(target.stem if target else Path(file).stem).name
        draft = draft_mapping(sample, name)
    check_draft(draft, target)
    if json:
        print_json(
            {
                "file": file,
                "output": out,
                "table": draft.table,
                "columns": draft.guesses,
                "synthetic_id": list(draft.synthetic_id),
                "review": draft.review,
                "yaml": draft.yaml,
            }
        )
        return
    if target is None:
        typer.echo(draft.yaml, nl=False)
        return
    typer.echo(t("data.draft.wrote", out=out, table=draft.table, columns=len(draft.guesses)))
    for column, header in draft.guesses.items():
        typer.echo(t("data.draft.guess_line", column=column, header=header))
    for text in draft.review:
        typer.echo(t("data.draft.review_line", text=text))
    typer.echo(t("data.draft.next", file=file, out=out))
