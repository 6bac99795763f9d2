"""Commands over MA/SFA sources: sync, sources, sources test/verify/mapping."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer import _click  # the click Typer vendors
from typer.core import TyperGroup

from kpitree.cli.application import app
from kpitree.cli.output import print_diagnostics, print_json
from kpitree.errors import UserError
from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.compute.owners import OwnerMatching
    from kpitree.connectors.sync import SourceSync

PathArg = Annotated[Path, typer.Argument(help="Project folder (default: the current folder).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M")


def _cursor_text(cursor: str | None) -> str:
    """Epoch milliseconds (HubSpot's cursors) as an instant; anything else as is."""
    if cursor is None:
        return "-"
    if cursor.isdigit() and len(cursor) == 13:
        return datetime.fromtimestamp(int(cursor) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return cursor


def _print_result(result: SourceSync) -> None:
    if result.error is not None:
        typer.echo(t("sources.cli.failed", source=result.source), err=True)
        if isinstance(result.error, UserError):
            print_diagnostics(result.error.diagnostics)
        return
    key = "sources.cli.synced" if result.import_id else "sources.cli.unchanged"
    if result.dry_run:
        key = "sources.cli.dry_run"
    typer.echo(t(key, source=result.source, id=result.import_id or "-"))
    for obj in result.objects:
        typer.echo(
            t(
                "sources.cli.object",
                object=obj.object,
                read=obj.read,
                deleted=obj.deleted_in_source,
                cursor=_cursor_text(obj.cursor),
            )
        )
        for c in obj.tables:
            typer.echo(
                t(
                    "sources.cli.table",
                    table=c.table,
                    inserted=c.inserted,
                    updated=c.updated,
                    unchanged=c.unchanged,
                    deleted=c.deleted,
                )
            )


def _owners(project: Path) -> OwnerMatching | None:
    """How the owners of the synced facts match the organisation of
    ``kpitree.yaml`` (the same rule as imports and the computation; ``None``:
    the organisation names nobody)."""
    from kpitree.cli.commands_data import configured_roster, project_data_target
    from kpitree.compute.owners import owner_matching
    from kpitree.engines import open_engine

    with open_engine(project_data_target(project)) as engine:
        engine.roster = configured_roster(project)
        matching = owner_matching(engine)
    return matching if matching.known else None


@app.command("sync")
def sync(
    path: PathArg = Path(),
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Sync only this source (by name).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Read everything again, not only what changed.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and count, but write nothing.")
    ] = False,
    records: Annotated[
        list[str] | None,
        typer.Option(
            "--records",
            help="Sync only this object, what changed in it and these records of it "
            "(OBJECT=ID,ID,...; repeatable): what a webhook reported.",
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Pull what changed in each source (sources: in kpitree.yaml) since its last sync.

    Everything a source brings, its deletions and its new cursor are stored in
    one transaction, as one import (see `kpitree imports`); an interrupted sync
    changes nothing and the next one resumes. Exit status 1 if a source failed.
    """
    project = path
    from rich.console import Console

    from kpitree.connectors.sync import sync_project

    changed = None if records is None else _changed(records)

    stderr = Console(stderr=True)
    status = stderr.status(t("sources.cli.reading", source="", object="", read=0))
    live = not json and stderr.is_terminal

    def progress(name: str, obj: str, read: int) -> None:
        status.update(t("sources.cli.reading", source=name, object=obj, read=read))

    if live:
        with status:
            results = sync_project(
                project,
                source=source,
                full=full,
                dry_run=dry_run,
                progress=progress,
                changed=changed,
            )
    else:
        results = sync_project(project, source=source, full=full, dry_run=dry_run, changed=changed)
    if not dry_run and any(r.error is None for r in results):  # a sync writes its cursors
        from kpitree.cli.commands_data import _refresh_scores

        _refresh_scores(project)
    owners = _owners(project) if any(r.import_id for r in results) else None
    if json:
        print_json(
            {
                "sources": [r.to_json() for r in results],
                "owners": None if owners is None else owners.to_json(),
            }
        )
    else:
        from kpitree.cli.commands_data import _owner_lines

        for result in results:
            _print_result(result)
        for line in _owner_lines(owners):
            typer.echo(line)
    if any(r.error is not None for r in results):
        raise typer.Exit(1)


def _changed(records: list[str]) -> dict[str, list[str]]:
    """``--records OBJECT=ID,ID`` options as object -> ids."""
    out: dict[str, list[str]] = {}
    for item in records:
        obj, sep, ids = item.partition("=")
        if not sep or not obj.strip():
            raise typer.BadParameter(t("sources.cli.bad_records", value=item))
        out.setdefault(obj.strip(), []).extend(i.strip() for i in ids.split(",") if i.strip())
    return out


class _SourcesGroup(TyperGroup):
    """``kpitree sources [PATH] [--json]`` lists; ``kpitree sources test ...`` etc.
    run a subcommand. Anything that is not a subcommand (or help) goes to the
    listing, so a folder name is never mistaken for a command."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


sources_app = typer.Typer(
    cls=_SourcesGroup,
    help="List the project's sources (kpitree sources [PATH] [--json]): type, objects, "
    "last successful sync, cursors, records held, last error; or test, verify or show "
    "a mapping.",
)
app.add_typer(sources_app, name="sources")


@sources_app.command("list")
def sources(path: PathArg = Path(), json: JsonOpt = False) -> None:
    """Each source: type, objects, last successful sync, cursors, records held, last error
    (also `kpitree sources [PATH]`)."""
    project = path
    from kpitree.connectors.sync import open_source, project_settings, selected_sources
    from kpitree.data.pgwarehouse import warehouse_for
    from kpitree.data.syncstore import source_states

    specs = selected_sources(project, None)
    configured, _ = project_settings(project)
    states = source_states(warehouse_for(project, configured))
    out = []
    for name, spec in specs.items():
        connector = open_source(project, name, spec)
        try:
            objects = [o.name for o in connector.objects()]
        finally:
            connector.close()
        state = states.get(name)
        entry = {
            "source": name,
            "type": spec.type,
            "objects": objects if spec.objects is None else list(spec.objects),
            "schedule": spec.schedule.every if spec.schedule else None,
            "state": None if state is None else state.to_json(),
        }
        out.append(entry)
        if json:
            continue
        typer.echo(
            t(
                "sources.cli.source",
                source=name,
                type=spec.type,
                objects=", ".join(entry["objects"]),
                schedule=entry["schedule"] or "-",
            )
        )
        if state is None:
            typer.echo(t("sources.cli.never"))
            continue
        typer.echo(
            t(
                "sources.cli.state",
                success=_when(state.last_success_at),
                attempt=_when(state.last_attempt_at),
                id=state.last_import_id or "-",
            )
        )
        for obj in sorted(set(state.cursors) | set(state.records)):
            typer.echo(
                t(
                    "sources.cli.state_object",
                    object=obj,
                    records=state.records.get(obj, 0),
                    cursor=_cursor_text(state.cursors.get(obj)),
                )
            )
        if state.last_error:
            typer.echo(
                t("sources.cli.last_error", code=state.last_error_code, error=state.last_error)
            )
    if json:
        print_json({"sources": out})


@sources_app.command("test")
def test(
    path: PathArg = Path(),
    name: Annotated[str | None, typer.Argument(help="Source to test (default: all).")] = None,
    json: JsonOpt = False,
) -> None:
    """Check each source before a sync: connection, credentials, scopes, and every
    object and field the mappings read; says what to grant or rename."""
    project = path
    from kpitree.connectors.sync import (
        fetch_fields,
        object_mapping,
        open_source,
        selected_objects,
        selected_sources,
    )
    from kpitree.data.records import mapping_headers
    from kpitree.errors import KpitreeError

    failed = False
    out = []
    for source, spec in selected_sources(project, name).items():
        connector = open_source(project, source, spec)
        try:
            fields = {}
            for info in selected_objects(connector, spec, source):
                mapping = object_mapping(project, spec, info)
                try:
                    fields[info.name] = fetch_fields(connector, info, mapping, checking=True)
                except KpitreeError:  # unreachable, no credentials: the test says so
                    fields[info.name] = list(
                        dict.fromkeys([info.id_field, *mapping_headers(mapping), *info.requires])
                    )
            checks = connector.test(fields)
        finally:
            connector.close()
        failed = failed or not all(c.ok for c in checks)
        out.append({"source": source, "checks": [c.to_json() for c in checks]})
        if not json:
            typer.echo(t("sources.cli.testing", source=source))
            for c in checks:
                mark = "✓" if c.ok else "✗"
                typer.echo(f"  {mark} {c.what}" + (f": {c.detail}" if c.detail else ""))
    if json:
        print_json({"sources": out})
    if failed:
        raise typer.Exit(1)


_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _months(period: str | None) -> list[date]:
    """``2026-10`` or ``2026-04..2026-09``; default: the last 12 months."""
    if period is None:
        today = date.today()
        first = date(today.year - 1, today.month, 1)
        last = date(today.year, today.month, 1)
    else:
        parts = period.split("..")
        found = [_MONTH.fullmatch(p.strip()) for p in parts]
        if len(parts) > 2 or not all(found) or any(not 1 <= int(m[2]) <= 12 for m in found if m):
            raise UserError.of("KT920", "sources.bad_period", None, value=period)
        first = date(int(found[0][1]), int(found[0][2]), 1)  # type: ignore[index]
        last = date(int(found[-1][1]), int(found[-1][2]), 1)  # type: ignore[index]
        if last < first:
            raise UserError.of("KT920", "sources.bad_period", None, value=period)
    months = []
    while first <= last:
        months.append(first)
        first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return months


@sources_app.command("verify")
def verify(
    path: PathArg = Path(),
    name: Annotated[str | None, typer.Argument(help="Source to verify (default: all).")] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period", help="A month (2026-10) or months (2026-04..2026-09); default: the last 12."
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Cross-check kpitree's counts against the source's own numbers, per month.
    Exit status 1 when a month differs."""
    project = path
    from kpitree.connectors.sync import selected_sources
    from kpitree.connectors.verify import verify_source

    months = _months(period)
    out = []
    differs = False
    for source, spec in selected_sources(project, name).items():
        lines = verify_source(project, source, spec, months)
        differs = differs or not all(line.matches for line in lines)
        out.append({"source": source, "months": [line.to_json() for line in lines]})
        if json:
            continue
        typer.echo(t("sources.cli.verifying", source=source))
        for line in lines:
            key = "sources.cli.verify_same" if line.matches else "sources.cli.verify_differs"
            typer.echo(
                t(
                    key,
                    object=line.object,
                    field=line.field,
                    month=line.month,
                    source=line.source_count,
                    kpitree="-" if line.kpitree_count is None else line.kpitree_count,
                )
                + ("" if line.explanation is None else f" — {t(line.explanation)}")
            )
        if not all(line.matches for line in lines):
            typer.echo(t("sources.cli.verify_explain"))
    if json:
        print_json({"sources": out})
    if differs:
        raise typer.Exit(1)


@sources_app.command("mapping")
def mapping(
    name: Annotated[str, typer.Argument(help="Source name (under sources:).")],
    obj: Annotated[str, typer.Argument(metavar="OBJECT", help="Object, e.g. contacts.")],
    project: Annotated[Path, typer.Option("--project", "-p", help="Project folder.")] = Path(),
) -> None:
    """Print the mapping an object of a source uses (YAML, comments included), to
    copy into the project, edit, and name under the source's `mappings:`."""
    from kpitree.connectors.sync import open_source, selected_objects, selected_sources

    spec = selected_sources(project, name)[name]
    connector = open_source(project, name, spec)
    try:
        infos = {
            o.name: o
            for o in selected_objects(connector, spec.model_copy(update={"objects": [obj]}), name)
        }
    finally:
        connector.close()
    override = spec.mappings.get(obj)
    path = Path(override) if override else Path(infos[obj].mapping)
    if override and not path.is_absolute():
        path = project / path
    typer.echo(path.read_text(encoding="utf-8"), nl=False)
