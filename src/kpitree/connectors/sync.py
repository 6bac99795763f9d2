"""The sync engine: a source's records -> the file mapping layer -> the warehouse.

For each source (``sources:`` in ``kpitree.yaml``) and each of its objects:
fetch the pages changed since the stored cursor (everything with ``full`` or
when there is none), keep the last row of each record id, map the rows with
the object's mapping (the user's file under ``mappings:``, else the
connector's default) through :func:`kpitree.data.records.map_records`, then
store every object, its deletions and its new cursor in one transaction
(:func:`kpitree.data.syncstore.apply_sync`). A failed sync stores nothing but
its error (shown by ``kpitree sources``); the next run starts from the old
cursors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.connectors.base import (
    Connector,
    ConnectorContext,
    ObjectInfo,
    Page,
    open_connector,
)
from kpitree.connectors.fields import fetch_fields, with_source_stages
from kpitree.connectors.secrets import redact
from kpitree.data.schema import table
from kpitree.data.syncstore import ObjectWrite, SyncCounts, apply_sync, record_sync_error
from kpitree.definition.spec_sources import read_sources
from kpitree.errors import DataError, KpitreeError, UserError
from kpitree.source import did_you_mean, load_yaml

if TYPE_CHECKING:
    import pyarrow as pa

    from kpitree.data.batch import MappedBatch
    from kpitree.data.importing import ImportWriter as Warehouse
    from kpitree.data.mapping import Mapping as DataMapping

__all__ = [
    "ObjectSync",
    "SourceSync",
    "fetch_fields",
    "object_mapping",
    "open_source",
    "project_settings",
    "selected_sources",
    "sync_project",
    "with_source_stages",
]

SyncProgress = Callable[[str, str, int], None]
"""``progress(source, object, records_read_so_far)``."""
_REJECTS_SHOWN = 20


@dataclass
class ObjectSync:
    """What a sync did for one object of a source."""

    object: str
    read: int
    deleted_in_source: int
    removed: int
    cursor: str | None
    tables: list[SyncCounts] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "read": self.read,
            "deleted_in_source": self.deleted_in_source,
            "records_removed": self.removed,
            "cursor": self.cursor,
            "tables": [c.to_json() for c in self.tables],
        }


@dataclass
class SourceSync:
    """What a sync did for one source (or the error that stopped it)."""

    source: str
    type: str
    import_id: int | None = None
    objects: list[ObjectSync] = field(default_factory=list)
    full: bool = False
    dry_run: bool = False
    error: KpitreeError | None = None

    def to_json(self) -> dict[str, Any]:
        error = None
        if isinstance(self.error, UserError):
            error = [d.to_json() for d in self.error.diagnostics]
            for d in error:
                d["message"] = redact(str(d["message"]))
        elif self.error is not None:
            error = [{"message": redact(str(self.error))}]
        return {
            "source": self.source,
            "type": self.type,
            "import_id": self.import_id,
            "full": self.full,
            "dry_run": self.dry_run,
            "objects": [o.to_json() for o in self.objects],
            "errors": error,
        }


def project_settings(project_dir: Path) -> tuple[str | None, str]:
    """``data.warehouse`` and ``timezone`` of the project's ``kpitree.yaml``,
    read leniently (only those keys), like imports do."""
    definition = project_dir / "kpitree.yaml"
    if not definition.is_file():
        return None, "Asia/Tokyo"
    data = load_yaml(definition).data
    data = data if isinstance(data, dict) else {}
    section = data.get("data")
    warehouse = section.get("warehouse") if isinstance(section, dict) else None
    tz = data.get("timezone")
    return (
        None if warehouse is None else str(warehouse),
        tz if isinstance(tz, str) and tz else "Asia/Tokyo",
    )


def selected_sources(project_dir: Path, name: str | None) -> dict[str, Any]:
    """The project's sources, or only ``name``: KT911 when there are none,
    KT912 when ``name`` is not one of them."""
    specs = read_sources(project_dir)
    if not specs:
        raise DataError.of("KT911", "sources.none", path=str(project_dir / "kpitree.yaml"))
    if name is None:
        return specs
    if name not in specs:
        raise DataError.of(
            "KT912",
            "sources.unknown",
            name=name,
            names=", ".join(specs),
            hint=did_you_mean(name, list(specs)),
        )
    return {name: specs[name]}


def open_source(
    project_dir: Path, name: str, spec: Any, environ: Mapping[str, str] | None = None
) -> Connector:
    """The connector of one source."""
    _, tz = project_settings(project_dir)
    context = ConnectorContext(
        name=name,
        project_dir=project_dir,
        timezone=spec.timezone or tz,
        environ=os.environ if environ is None else environ,
    )
    return open_connector(spec, context)


def object_mapping(project_dir: Path, spec: Any, info: ObjectInfo) -> DataMapping:
    """The mapping of one object: the user's (``mappings:``) or the default."""
    from kpitree.data.mapping import load_mapping

    override = spec.mappings.get(info.name)
    if override is not None:
        path = Path(override)
        return load_mapping(path if path.is_absolute() else project_dir / path)
    return load_mapping(info.mapping)


def selected_objects(connector: Connector, spec: Any, name: str) -> list[ObjectInfo]:
    """The objects to sync: ``objects:`` of the spec, else all; KT914 for a
    name the connector does not offer (also under ``mappings:``)."""
    offered = {o.name: o for o in connector.objects()}
    wanted = spec.objects if spec.objects is not None else list(offered)
    for obj in [*wanted, *spec.mappings]:
        if obj not in offered:
            raise DataError.of(
                "KT914",
                "sources.unknown_object",
                source=name,
                object=obj,
                objects=", ".join(offered),
                hint=did_you_mean(obj, list(offered)),
            )
    return [offered[o] for o in offered if o in wanted]


def sync_project(
    project_dir: Path,
    *,
    source: str | None = None,
    full: bool = False,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    progress: SyncProgress | None = None,
    changed: Mapping[str, Sequence[str]] | None = None,
) -> list[SourceSync]:
    """Sync the project's sources (or one) into its warehouse; one result per
    source, with the error that stopped it if any (the others still run).

    ``changed`` (object -> record ids, what a webhook reported) syncs only those
    objects: what changed since their cursors, plus the named records read
    directly where the connector can (its optional ``fetch_records``), since a
    search may show a write only moments later."""
    from kpitree.connectors.lock import sync_lock
    from kpitree.data.pgwarehouse import warehouse_for

    specs = selected_sources(project_dir, source)
    configured, _ = project_settings(project_dir)
    wh = warehouse_for(project_dir, configured)
    with sync_lock(project_dir):
        return _sync_all(project_dir, wh, specs, full, dry_run, environ, progress, changed)


def _sync_all(
    project_dir: Path,
    wh: Warehouse,
    specs: Mapping[str, Any],
    full: bool,
    dry_run: bool,
    environ: Mapping[str, str] | None,
    progress: SyncProgress | None,
    changed: Mapping[str, Sequence[str]] | None = None,
) -> list[SourceSync]:
    results = []
    for name, spec in specs.items():
        result = SourceSync(name, str(spec.type), full=full, dry_run=dry_run)
        try:
            _sync_source(project_dir, wh, name, spec, result, environ, progress, changed)
        except KpitreeError as exc:
            result.error = exc
            if not dry_run:
                code = exc.diagnostics[0].code if isinstance(exc, UserError) else "error"
                message = (
                    exc.diagnostics[0].message("en") if isinstance(exc, UserError) else str(exc)
                )
                record_sync_error(wh, name, result.type, code, redact(message))
        results.append(result)
    return results


def _sync_source(
    project_dir: Path,
    wh: Warehouse,
    name: str,
    spec: Any,
    result: SourceSync,
    environ: Mapping[str, str] | None,
    progress: SyncProgress | None,
    changed: Mapping[str, Sequence[str]] | None = None,
) -> None:
    from kpitree.data.syncstore import sync_cursors

    _, tz = project_settings(project_dir)
    tz = spec.timezone or tz
    connector = open_source(project_dir, name, spec, environ)
    try:
        objects = selected_objects(connector, spec, name)
        if changed is not None:
            # A name the source does not offer is KT914, as under objects:.
            selected_objects(connector, spec.model_copy(update={"objects": list(changed)}), name)
            objects = [o for o in objects if o.name in changed]
        cursors = {} if result.full else sync_cursors(wh, name)
        writes = []
        mapping_names = []
        for info in objects:
            mapping = object_mapping(project_dir, spec, info)
            if spec.mappings.get(info.name) is None:
                mapping = with_source_stages(connector, info, mapping)
            mapping_names.append(f"{info.name}={mapping.name}")
            ids = () if changed is None else changed.get(info.name, ())
            write = _read_object(
                connector, name, info, mapping, cursors.get(info.name), tz, progress, ids
            )
            writes.append(write)
            result.objects.append(
                ObjectSync(
                    info.name, write.batch.rows_read, len(write.deleted_ids), 0, write.cursor
                )
            )
    finally:
        connector.close()
    outcome = apply_sync(
        wh,
        name,
        result.type,
        writes,
        mapping_names=", ".join(mapping_names),
        dry_run=result.dry_run,
    )
    result.import_id = outcome.import_id
    for summary, write in zip(result.objects, outcome.objects, strict=True):
        summary.tables = list(write.counts)
        summary.removed = write.deleted


def _read_object(
    connector: Connector,
    source: str,
    info: ObjectInfo,
    mapping: DataMapping,
    cursor: str | None,
    tz: str,
    progress: SyncProgress | None,
    ids: Sequence[str] = (),
) -> ObjectWrite:
    import itertools

    import pyarrow as pa

    from kpitree.data.arrays import string_array
    from kpitree.data.records import map_records

    fields = fetch_fields(connector, info, mapping)
    schema = pa.schema([(f, pa.string()) for f in fields])
    batches: list[pa.RecordBatch] = []
    deleted: list[str] = []
    present: list[str] | None = None
    new_cursor = cursor
    snapshot = False
    read = 0
    pages: Iterable[Page] = connector.fetch(info.name, fields, cursor)
    direct = getattr(connector, "fetch_records", None)
    if ids and direct is not None:
        # Read last, so that a record read both ways keeps its newest version.
        pages = itertools.chain(pages, direct(info.name, fields, ids))
    for page in pages:
        if page.rows:
            batches.append(
                pa.RecordBatch.from_arrays(
                    [string_array([row.get(f) for row in page.rows]) for f in fields],
                    schema=schema,
                )
            )
            read += len(page.rows)
        deleted += page.deleted
        if page.present is not None:
            present = [*(present or []), *page.present]
        snapshot = snapshot or page.snapshot
        if page.cursor is not None:
            new_cursor = page.cursor
        if progress is not None:
            progress(source, info.name, read)
    records = _last_per_id(pa.Table.from_batches(batches, schema=schema), info.id_field)
    label = f"{source}/{info.name}"
    if records.num_rows:
        batch = map_records(records, mapping, label, tz)
    else:  # nothing read (the usual incremental sync): no mapping to run
        batch = _mapped_nothing(records, mapping, label)
    if batch.rejects:
        raise _rejected(label, records, info.id_field, batch.rejects)
    owned = _owned(mapping, info.id_field)
    # Arrow built from buffers, never from Python lists: pa.array(list) and
    # combining no chunks import pandas (a fixed cost of every sync).
    column = records.column(info.id_field)
    ids = pa.concat_arrays(column.chunks) if column.num_chunks else string_array([])
    return ObjectWrite(
        object=info.name,
        batch=batch,
        record_ids=pa.table({"id": ids}),
        deleted_ids=deleted,
        snapshot=snapshot,
        present_ids=None if present is None else pa.table({"id": string_array(present)}),
        cursor=new_cursor,
        owned=owned,
    )


def _mapped_nothing(records: pa.Table, mapping: DataMapping, label: str) -> MappedBatch:
    """What mapping no records gives, without running the mapping: each of its
    tables empty, its dimensions declared (a KT371 for a field it lacks)."""
    from kpitree.data.batch import MappedBatch
    from kpitree.data.dimensions import declared_dimensions
    from kpitree.data.header_match import resolve_headers
    from kpitree.data.schema import arrow_schema

    headers = tuple(records.column_names)
    found = resolve_headers(mapping, headers, label)
    return MappedBatch(
        source_file=label,
        file_hash="",
        mapping_name=mapping.name,
        rows_read=0,
        tables={tm.table: _empty(arrow_schema(tm.table)) for tm in mapping.tables},
        rejects=[],
        rejected_rows=[],
        validated=True,
        dimensions=declared_dimensions(mapping, headers, found),
    )


def _empty(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` without rows (``schema.empty_table()`` imports pandas)."""
    import pyarrow as pa

    return pa.table([pa.nulls(0, f.type) for f in schema], schema=schema)


def _last_per_id(records: pa.Table, id_field: str) -> pa.Table:
    """One row per record id: its last (the boundary of an incremental read
    repeats records, and a record may change while being read); rows without an
    id cannot be stored and are a connector bug."""
    ids = records.column(id_field).to_pylist()
    if None in ids:
        raise DataError.of(
            "KT910",
            "sources.unexpected",
            source=id_field,
            url="",
            problem="a record without an id",
            body="",
        )
    last = {record_id: i for i, record_id in enumerate(ids)}
    if len(last) == len(ids):
        return records
    import numpy as np
    import pyarrow as pa

    from kpitree.data.arrays import int_array

    rows = np.fromiter(sorted(last.values()), np.int64, len(last))
    return records.take(int_array(rows, pa.int64()))


def _owned(mapping: DataMapping, id_field: str) -> tuple[tuple[str, str], ...]:
    """(table, key column) of the mapping's tables keyed by the record id."""
    owned = []
    for tm in mapping.tables:
        key = table(tm.table).primary_key[0]
        rule = tm.columns.get(key)
        if rule is not None and id_field in rule.headers:
            owned.append((tm.table, key))
    return tuple(owned)


def _rejected(label: str, records: pa.Table, id_field: str, rejects: Sequence[Any]) -> DataError:
    """KT913: records with values the mapping cannot read; nothing is stored."""
    from kpitree.errors import Diagnostic, Severity

    ids = records.column(id_field).to_pylist()
    diags = []
    for reject in rejects[:_REJECTS_SHOWN]:
        record = ids[reject.row - 1] if 0 < reject.row <= len(ids) else "?"
        diags.append(
            Diagnostic(
                Severity.ERROR,
                "KT913",
                "sources.rejected_value",
                {
                    "label": label,
                    "record": record,
                    "field": reject.column or "-",
                    "value": reject.value,
                    "reason": reject.text(),
                },
                None,
            )
        )
    if len(rejects) > _REJECTS_SHOWN:
        diags.append(
            Diagnostic(
                Severity.ERROR,
                "KT913",
                "sources.rejected_more",
                {"label": label, "more": len(rejects) - _REJECTS_SHOWN},
                None,
            )
        )
    return DataError(diags)
