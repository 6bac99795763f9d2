"""Commands over the warehouse: import, imports, imports undo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import print_json
from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.compute.owners import OwnerMatching
    from kpitree.data.batch import MappedBatch
    from kpitree.data.importing import ImportWriter
    from kpitree.data.importlog import ImportRecord, ImportResult
    from kpitree.data.mapping import Mapping
    from kpitree.data.readers import Progress

ProjectOpt = Annotated[
    Path,
    typer.Option(
        "--project",
        "-p",
        help="Project folder; its warehouse is data.warehouse in kpitree.yaml "
        "(default <project>/.kpitree/warehouse.duckdb).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

# Files smaller than this read in a blink; a progress bar would only flicker.
_PROGRESS_MIN_ROWS = 50_000


def configured_warehouse(project: Path) -> str | None:
    """``data.warehouse`` of the project's ``kpitree.yaml``, if it has one.

    Only that key is read, so that a tree still being fixed does not stop imports.
    """
    from kpitree.source import load_yaml

    definition = project / "kpitree.yaml"
    if not definition.is_file():
        return None
    data = load_yaml(definition).data
    section = data.get("data") if isinstance(data, dict) else None
    value = section.get("warehouse") if isinstance(section, dict) else None
    return None if value is None else str(value)


def configured_roster(project: Path) -> tuple[tuple[str, str, str], ...]:
    """(rep, department, team) of the reps under ``organisation`` in the
    project's ``kpitree.yaml``, read leniently (only that key, like
    :func:`configured_warehouse`)."""
    from kpitree.source import load_yaml

    definition = project / "kpitree.yaml"
    if not definition.is_file():
        return ()
    data = load_yaml(definition).data
    org = data.get("organisation") if isinstance(data, dict) else None
    out: list[tuple[str, str, str]] = []
    for dept, spec in (org or {}).items() if isinstance(org, dict) else ():
        teams = spec.get("teams") if isinstance(spec, dict) else None
        for team, team_spec in (teams or {}).items() if isinstance(teams, dict) else ():
            reps = team_spec.get("reps") if isinstance(team_spec, dict) else None
            if isinstance(reps, dict):
                out += [(str(rep), str(dept), str(team)) for rep in reps]
    return tuple(out)


def _owners(project: Path, batches: list[MappedBatch]) -> list[OwnerMatching | None]:
    """Per file, how its owners match the organisation (``None``: the
    organisation names nobody, so there is nothing to match)."""
    roster = configured_roster(project)
    if not roster and not _has_assignments(_warehouse(project)):
        return [None] * len(batches)  # the organisation names nobody
    from kpitree.compute.owners import batch_owners, owner_matching
    from kpitree.engines import open_engine

    with open_engine(project_data_target(project)) as engine:
        engine.roster = roster
        found = [owner_matching(engine, batch_owners(b.tables, b.owner_counts)) for b in batches]
    return [m if m.known else None for m in found]


def _has_assignments(warehouse: ImportWriter) -> bool:
    """Whether the warehouse just written places any rep in a team (asked
    without opening an engine, which would load Ibis for nothing)."""
    with warehouse.connect() as con:
        rows = con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM rep_assignments LIMIT 1) AS assigned"
        )
        return bool(rows.fetchall()[0][0])


def _owner_lines(matching: OwnerMatching | None) -> list[str]:
    if matching is None:
        return []
    lines = []
    if matching.unmatched:
        facts = sum(u.facts for u in matching.unmatched)
        lines.append(t("people.import.unmatched", owners=len(matching.unmatched), facts=facts))
    lines += [f"    {d.message()}" for d in matching.diagnostics(limit=20)]
    return lines


def project_warehouse_path(project: Path, configured: str | None = None) -> Path:
    """The project's warehouse file, for every command (see
    :func:`kpitree.data.warehouse.warehouse_path`); ``configured`` defaults to
    what ``kpitree.yaml`` says."""
    from kpitree.data.warehouse import warehouse_path

    if configured is None:
        configured = configured_warehouse(project)
    return warehouse_path(project, configured)


def project_data_target(project: Path) -> str:
    """What engines open for the project's data: the DuckDB file, or the
    PostgreSQL database ``data.warehouse`` names (imports write there too)."""
    from kpitree.data.pgwarehouse import is_postgres_url

    configured = configured_warehouse(project)
    if is_postgres_url(configured):
        assert configured is not None
        return configured.strip()
    return str(project_warehouse_path(project, configured))


def _warehouse(project: Path) -> ImportWriter:
    """Where imports, syncs and undo write (:func:`kpitree.data.pgwarehouse.warehouse_for`)."""
    from kpitree.data.pgwarehouse import warehouse_for

    return warehouse_for(project, configured_warehouse(project))


def _refresh_scores(project: Path) -> None:
    """After a successful write: the account scores the dashboard reads first
    (see :mod:`kpitree.abm.refresh`). A convenience: when the project cannot
    be read now, the first page computes them (and says why); the write has
    succeeded either way and the command reports it so."""
    import logging

    from kpitree.abm.refresh import may_declare_abm, refresh_daily_scores

    if not may_declare_abm(project):
        return  # nothing to compute: spare loading the project
    from kpitree.errors import KpitreeError
    from kpitree.project import Project

    log = logging.getLogger("kpitree.abm")
    try:
        refresh_daily_scores(Project.load(project))
    except KpitreeError as err:
        log.info("account scores not computed after the write: %s", err)
    except Exception:  # never turn a committed write into a failed command
        log.info("account scores not computed after the write", exc_info=True)


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Progress | None]:
    """A ``progress(rows_done, rows_total)`` callback drawing a bar on stderr once
    the file turns out to be large; a no-op when disabled."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task(label, total=None)
    started = False

    def update(done: int, total: int | None) -> None:
        nonlocal started
        if not started and (total or done) >= _PROGRESS_MIN_ROWS:
            bar.start()
            started = True
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if started:
            bar.stop()


def _read(
    path: str, mapping: Mapping, sheet: str | None, encoding: str | None, show_progress: bool
) -> MappedBatch:
    from kpitree.cli.output import print_diagnostics
    from kpitree.data.readers import read_and_map

    with _progress(t("warehouse.cli.reading", file=path), show_progress) as progress:
        batch = read_and_map(path, mapping, sheet=sheet, progress=progress, encoding=encoding)
    print_diagnostics(batch.warnings)
    return batch


def _in_place(warehouse: ImportWriter, files: list[str]) -> bool:
    """Whether the files are read inside the warehouse's connection (an embedded
    DuckDB warehouse, CSV files: :mod:`kpitree.data.inplace`)."""
    from kpitree.data.inplace import reads_in_place
    from kpitree.data.warehouse import Warehouse

    return isinstance(warehouse, Warehouse) and all(reads_in_place(f) for f in files)


def _import_in_place(
    warehouse: ImportWriter,
    files: list[str],
    mapping: Mapping,
    sheet: str | None,
    encoding: str | None,
    skip_invalid: bool,
    show_progress: bool,
) -> tuple[list[MappedBatch], list[ImportResult]]:
    from kpitree.cli.output import print_diagnostics
    from kpitree.data.warehouse import Warehouse

    assert isinstance(warehouse, Warehouse)
    batches, results = warehouse.import_files(
        files,
        mapping,
        sheet=sheet,
        encoding=encoding,
        skip_invalid=skip_invalid,
        reading=lambda f: _progress(t("warehouse.cli.reading", file=f), show_progress),
        read=lambda batch: print_diagnostics(batch.warnings),
    )
    return batches, results


def _unchanged(
    project: Path,
    files: list[str],
    mapping: Mapping,
    sheet: str | None,
    encoding: str | None,
    json: bool,
) -> bool:
    """Say so and return ``True`` when every file was the last thing imported,
    with the same mapping, and nothing was written since: importing it again
    would change nothing, so nothing is read or written."""
    from kpitree.data.readers import file_sha256, reading_fingerprint

    paths = [Path(f) for f in files]
    if not all(p.is_file() for p in paths):
        return False  # the reader says what is wrong
    warehouse = _warehouse(project)
    if not warehouse.exists():
        return False
    fingerprint = reading_fingerprint(mapping, sheet=sheet, encoding=encoding)
    hashes = [(f, file_sha256(p)) for f, p in zip(files, paths, strict=True)]
    records = warehouse.already_imported(hashes, fingerprint)
    if records is None:
        return False
    by_hash = {r.file_hash: r for r in records}
    if json:
        print_json(
            {
                "imports": [],
                "unchanged": [
                    {"file": f, "sha256": h, "import_id": by_hash[h].import_id} for f, h in hashes
                ],
            }
        )
        return True
    for f, h in hashes:
        typer.echo(t("warehouse.cli.unchanged_file", id=by_hash[h].import_id, file=f))
    return True


def _summary(result: ImportResult) -> str:
    lines = [
        t(
            "warehouse.cli.imported",
            id=result.import_id,
            file=result.source_file,
            read=result.rows_read,
            rejected=result.rejected,
        )
    ]
    lines += [
        t(
            "warehouse.cli.table_counts",
            table=c.table,
            inserted=c.inserted,
            updated=c.updated,
            unchanged=c.unchanged,
        )
        for c in result.tables
    ]
    return "\n".join(lines)


@app.command("import")
def import_(
    files: Annotated[list[str], typer.Argument(help="CSV or XLSX exports to import.")],
    mapping: Annotated[
        str, typer.Option("--mapping", "-m", help="Mapping file (.yaml) or preset name.")
    ],
    project: ProjectOpt = Path(),
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="XLSX sheet to read (default: the mapping's).")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="Encoding of the CSV files (e.g. cp932, latin-1); default: the mapping's, "
            "else UTF-8 or Shift_JIS detected.",
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Import the valid rows; write rejected rows to .kpitree/rejects/.",
        ),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Import MA/SFA exports into the project's warehouse, all files in one transaction.

    The same file twice changes nothing; a newer export updates changed rows and
    adds new stage entries. Every file becomes one import in `kpitree imports`.
    """
    from rich.console import Console

    from kpitree.data.mapping import load_mapping

    loaded = load_mapping(mapping)
    if _unchanged(project, files, loaded, sheet, encoding, json):
        return
    stderr = Console(stderr=True)
    # Bars and spinners are for people watching a terminal, never for pipes or JSON.
    show_progress = not json and stderr.is_terminal
    warehouse = _warehouse(project)
    if _in_place(warehouse, files):
        batches, results = _import_in_place(
            warehouse, files, loaded, sheet, encoding, skip_invalid, show_progress
        )
    else:
        batches = [_read(f, loaded, sheet, encoding, show_progress) for f in files]
        if show_progress:
            with stderr.status(t("warehouse.cli.writing")):
                results = warehouse.apply_many(batches, skip_invalid=skip_invalid)
        else:
            results = warehouse.apply_many(batches, skip_invalid=skip_invalid)
    _refresh_scores(project)
    owners = _owners(project, batches)
    if json:
        print_json(
            {
                "imports": [
                    {**r.to_json(), "owners": None if m is None else m.to_json()}
                    for r, m in zip(results, owners, strict=True)
                ]
            }
        )
        return
    for result, matching in zip(results, owners, strict=True):
        typer.echo(_summary(result))
        for line in _owner_lines(matching):
            typer.echo(line)
        if result.rejects_csv is not None:
            typer.echo(
                t(
                    "warehouse.cli.rejects_written",
                    rows=result.rejected,
                    csv=str(result.rejects_csv),
                    report=str(result.rejects_report),
                )
            )


imports_app = typer.Typer(
    help="List the imports of the warehouse, or undo one.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(imports_app, name="imports")


def _record_line(r: ImportRecord) -> str:
    when = r.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
    return t(
        "warehouse.cli.record",
        id=r.import_id,
        when=when,
        status=t(f"warehouse.status.{r.status}"),
        file=r.source_file or "-",
        mapping=r.mapping_name or "-",
        read=r.rows_read,
        inserted=r.inserted,
        updated=r.updated,
        unchanged=r.unchanged,
        rejected=r.rejected,
    )


@imports_app.callback()
def imports(ctx: typer.Context, project: ProjectOpt = Path(), json: JsonOpt = False) -> None:
    """List every import (newest last): file, hash, mapping, counts, status."""
    if ctx.invoked_subcommand is not None:
        # `kpitree imports --project X undo 3` means the same as `... undo 3 --project X`.
        ctx.obj = project
        return
    # Listing must not create a warehouse in a folder that has none.
    warehouse = _warehouse(project)
    records = warehouse.imports() if warehouse.exists() else []
    if json:
        print_json({"imports": [r.to_json() for r in records]})
        return
    if not records:
        typer.echo(t("warehouse.cli.no_imports"))
        return
    for r in records:
        typer.echo(_record_line(r))


@imports_app.command("undo")
def undo(
    ctx: typer.Context,
    import_id: Annotated[int, typer.Argument(help="Import id, as listed by `kpitree imports`.")],
    project: Annotated[
        Path | None,
        typer.Option("--project", "-p", help="Project folder (default: the current folder)."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Undo one import: delete the rows it added, restore the rows it changed.

    Refused when a later import changed the same rows; undo that one first.
    """
    folder = project or (ctx.obj if isinstance(ctx.obj, Path) else Path())
    result = _warehouse(folder).undo(import_id)
    _refresh_scores(folder)
    if json:
        print_json(result.to_json())
        return
    typer.echo(
        t(
            "warehouse.cli.undone",
            id=result.import_id,
            deleted=result.deleted,
            restored=result.restored,
        )
    )
