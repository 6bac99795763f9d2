"""Freshness per table and per source (the ``stale_source`` rule, KT849).

A table is often fed by several sources (a HubSpot contacts export and a
Salesforce sync both write ``leads``): the newest fact of the whole table says
nothing about a source that stopped while another one goes on. So freshness is
measured for every (table, source) pair with rows:

- ``newest``: the newest day of the source's facts in the table, up to the
  as-of day (leads, deals and accounts by creation, the stage histories by
  entry, activities, NPS answers and spend by their day, contracts by start);
- ``delivered``: the last day, up to the as-of day, the source delivered data:
  an applied import of it, or a sync of it that succeeded (a scheduled sync
  that found nothing new still delivered: the source had nothing to say).

Its age is the days from the later of the two to the as-of day; it is stale
when the age is more than its threshold: ``data.quality.stale_after`` for the
source, else for the table, else ``stale_after_days``.

A record's source is the one :mod:`kpitree.data.links` uses: the sync's source
name, else the mapping (preset) of the import that wrote it. A database without
kpitree's import log (tables an ELT tool landed) keeps no source: its tables
are measured as a whole (``source`` is ``None``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.compute.events import local_day
from kpitree.data.sourcedays import DAYS_TABLE, DELIVERIES_TABLE, FACT_DAYS

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.metrics import Catalogue
    from kpitree.compute.quality import Finding
    from kpitree.definition.spec import QualitySpec
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine

__all__ = [
    "FACT_DAYS",
    "STALE",
    "Freshness",
    "check_thresholds",
    "known_sources",
    "measure_freshness",
    "rule_key",
    "stale_findings",
]

STALE = ("stale_source", "KT849", "warning")

_IMPORTS = "kpitree_imports"
_SOURCES = "kpitree_sources"
_IMPORT_COLUMN = "_import_id"
# Engines a kpitree warehouse lives on (a DuckDB file, a PostgreSQL database
# that imports write): the others only ever read landed or copied tables.
_WAREHOUSE_ENGINES = ("duckdb", "postgres")


@dataclass(frozen=True)
class Freshness:
    table: str
    source: str | None  # None: the database records no source (landed tables)
    rows: int
    newest: dt.date | None  # newest fact day up to the as-of day
    delivered: dt.date | None  # last import or successful sync up to the as-of day
    days: int | None  # days from the later of the two to the as-of day
    stale_after: int
    stale: bool

    def to_json(self) -> dict[str, Any]:
        def day(value: dt.date | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "table": self.table,
            "source": self.source,
            "rows": self.rows,
            "newest": day(self.newest),
            "delivered": day(self.delivered),
            "days": self.days,
            "stale_after": self.stale_after,
            "stale": self.stale,
        }


def rule_key(rule: str, detail: Mapping[str, Any] | None) -> str:
    """The message-catalog key that says what a finding of ``rule`` found:
    a stale source has its own (it names the source and the day since)."""
    if rule == STALE[0] and detail and detail.get("source") is not None:
        return f"quality.rule.{rule}_by_source"
    return f"quality.rule.{rule}"


def _imports_kept(engine: Engine) -> bool:
    """Whether the database is a kpitree warehouse with its import log."""
    return engine.name in _WAREHOUSE_ENGINES and engine.has_table(_IMPORTS)


def _record_sources(engine: Engine) -> ir.Table:
    """``import_id -> source`` of every import (kpitree.data.links' rule)."""
    import ibis

    imports = engine.backend.table(_IMPORTS)
    named = ibis.coalesce(imports.mapping_name.nullif(""), imports.source_file)
    return imports.select(
        import_id=imports.import_id,
        source=ibis.cases((imports.kind == "sync", imports.source_file), else_=named),
    )


def _newest(t: ir.Table, table: str) -> ir.DateValue:
    import ibis

    dates = [local_day(t[c]) for c in FACT_DAYS[table]]
    return dates[0] if len(dates) == 1 else ibis.greatest(*dates)


def _per_source(engine: Engine, as_of: dt.date, sourced: bool) -> list[dict[str, Any]]:
    """Rows ``table, source, rows, newest`` for every table and source, in one query."""
    import ibis

    cutoff = ibis.literal(as_of)
    sources = _record_sources(engine) if sourced else None
    parts = []
    for table in FACT_DAYS:
        raw = None
        if sourced and table not in engine.views:
            raw = engine.backend.table(table)
            if _IMPORT_COLUMN not in raw.columns:
                raw = None
        if raw is None or sources is None:
            t = engine.table(table)
            newest = _newest(t, table)
            parts.append(
                t.aggregate(
                    table=ibis.literal(table),
                    source=ibis.null("string"),
                    rows=t.count(),
                    newest=newest.max(where=newest <= cutoff).cast("date"),
                )
            )
            continue
        joined = raw.left_join(sources, raw[_IMPORT_COLUMN] == sources.import_id)
        newest = _newest(joined, table)
        parts.append(
            joined.group_by(source=joined.source.cast("string")).aggregate(
                table=ibis.literal(table),
                rows=joined.count(),
                newest=newest.max(where=newest <= cutoff).cast("date"),
            )
        )
    union = ibis.union(*[p.select("table", "source", "rows", "newest") for p in parts])
    return list(engine.execute(union).to_pylist())


def _copied(engine: Engine) -> bool:
    """Whether the database is a copy of a warehouse that brought where its
    facts came from (:mod:`kpitree.data.sourcedays`)."""
    return not _imports_kept(engine) and engine.has_table(DAYS_TABLE)


def _per_source_copied(engine: Engine, as_of: dt.date) -> list[dict[str, Any]]:
    import ibis

    d = engine.backend.table(DAYS_TABLE)
    cutoff = ibis.literal(as_of.isoformat())
    agg = d.group_by(["table_name", "source"]).aggregate(
        rows=d.rows.sum(), newest=d.day.max(where=d.day <= cutoff)
    )
    out = []
    for row in engine.execute(agg).to_pylist():
        newest = row["newest"]
        out.append(
            {
                "table": row["table_name"],
                "source": row["source"],
                "rows": row["rows"],
                "newest": None if newest is None else dt.date.fromisoformat(newest),
            }
        )
    return out


def _deliveries_copied(engine: Engine, as_of: dt.date) -> dict[str, dt.date]:
    import ibis

    d = engine.backend.table(DELIVERIES_TABLE)
    d = d.filter(d.day <= ibis.literal(as_of.isoformat()))
    last = d.group_by("source").aggregate(day=d.day.max())
    return {
        str(r["source"]): dt.date.fromisoformat(r["day"])
        for r in engine.execute(last).to_pylist()
        if r["source"] is not None
    }


def _deliveries(engine: Engine, as_of: dt.date) -> dict[str, dt.date]:
    """Source -> the last day up to ``as_of`` it delivered: an applied import of
    it, or its last successful sync (which logs no import when nothing changed)."""
    import ibis

    cutoff = ibis.literal(as_of)
    imports = engine.backend.table(_IMPORTS)
    named = _record_sources(engine)
    applied = imports.filter(imports.status == "applied").select(
        import_id=imports.import_id, day=local_day(imports.started_at)
    )
    logged = applied.join(named, applied.import_id == named.import_id)
    parts = [logged.select(source=logged.source.cast("string"), day=logged.day.cast("date"))]
    if engine.has_table(_SOURCES):
        synced = engine.backend.table(_SOURCES)
        synced = synced.filter(synced.last_success_at.notnull())
        parts.append(
            synced.select(
                source=synced.source.cast("string"),
                day=local_day(synced.last_success_at).cast("date"),
            )
        )
    union = ibis.union(*parts) if len(parts) > 1 else parts[0]
    union = union.filter(union.day <= cutoff)
    last = union.group_by("source").aggregate(day=union.day.max())
    return {str(r["source"]): r["day"] for r in engine.execute(last).to_pylist()}


def known_sources(engine: Engine) -> set[str]:
    """Every source the warehouse has an import or a sync of."""
    if _imports_kept(engine):
        found = _deliveries(engine, dt.date.max)
    elif _copied(engine):
        found = _deliveries_copied(engine, dt.date.max)
    else:
        return set()
    return {source_label(s) or s for s in found}


def check_thresholds(engine: Engine, spec: QualitySpec, mappings: Iterable[str] = ()) -> None:
    """Refuse (KT122) a ``data.quality.stale_after`` key that names no table and
    no source: not one the warehouse has an import or a sync of, nor a mapping
    of ``data.sources`` or a preset (sources still to come)."""
    from pathlib import PurePath

    unknown = [k for k in spec.stale_after if k not in FACT_DAYS]
    if not unknown:
        return
    from kpitree.data.mapping import preset_names

    sources = known_sources(engine)
    expected = sources | set(preset_names())
    for mapping in mappings:
        expected |= {mapping, PurePath(mapping).name}
    for key in unknown:
        if key in expected:
            continue
        from kpitree.errors import UserError
        from kpitree.source import did_you_mean

        raise UserError.of(
            "KT122",
            "quality.stale_after_unknown",
            name=key,
            hint=did_you_mean(key, [*FACT_DAYS, *sorted(expected)]),
            tables=", ".join(FACT_DAYS),
            sources=", ".join(sorted(sources)) or "-",
        )


def source_label(source: str | None) -> str | None:
    """A source as people name it: a sync source's or a preset's name; a mapping
    file by its file name (``mappings/hubspot.yaml`` -> ``hubspot.yaml``)."""
    if source is None:
        return None
    from pathlib import PurePath

    return PurePath(source).name if "/" in source or "\\" in source else source


def measure_freshness(engine: Engine, as_of: dt.date, spec: QualitySpec) -> list[Freshness]:
    """The freshness of every (table, source) with rows, in table then source order."""
    sourced = _imports_kept(engine)
    copied = not sourced and _copied(engine)
    found = _per_source_copied(engine, as_of) if copied else _per_source(engine, as_of, sourced)
    merged: dict[tuple[str, str | None], tuple[int, dt.date | None]] = {}
    for row in found:
        key = (row["table"], source_label(row["source"]))
        rows, newest = merged.get(key, (0, None))
        seen = [d for d in (newest, row["newest"]) if d is not None]
        merged[key] = (rows + int(row["rows"] or 0), max(seen, default=None))
    delivered: dict[str, dt.date] = {}
    deliveries = (
        _deliveries(engine, as_of)
        if sourced
        else _deliveries_copied(engine, as_of)
        if copied
        else {}
    )
    for name, day in deliveries.items():
        label = source_label(name) or name
        delivered[label] = max(day, delivered.get(label, day))
    order = list(FACT_DAYS)
    out = []
    for (table, source), (rows, newest) in sorted(
        merged.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1] or "")
    ):
        if not rows:
            continue
        limit = spec.stale_after.get(table, spec.stale_after_days)
        if source is not None:
            limit = spec.stale_after.get(source, limit)
        last = delivered.get(source) if source is not None else None
        latest = max((d for d in (newest, last) if d is not None), default=None)
        days = None if latest is None else (as_of - latest).days
        # A table without a dated fact up to the as-of day (accounts from a report
        # that has no date column), from a source with no delivery up to it,
        # cannot be called stale: nothing says how old it is.
        stale = days is not None and days > limit
        out.append(Freshness(table, source, rows, newest, last, days, limit, stale))
    return out


def stale_findings(
    freshness: Iterable[Freshness], level: str, catalogue: Catalogue, tree: Tree
) -> list[Finding]:
    """A ``stale_source`` finding per stale (table, source): its rows, and the
    metrics and nodes that read the table."""
    from kpitree.compute.quality import Finding, touched

    out = []
    for f in freshness:
        if not f.stale:
            continue
        metrics, nodes = touched(catalogue, tree, f.table, STALE[0])
        detail: dict[str, Any] = {
            "newest": None if f.newest is None else f.newest.isoformat(),
            "days": f.days,
            "stale_after": f.stale_after,
        }
        if f.source is not None:
            since = max(d for d in (f.newest, f.delivered) if d is not None)
            detail["source"] = f.source
            detail["delivered"] = None if f.delivered is None else f.delivered.isoformat()
            detail["since"] = since.isoformat()
        out.append(
            Finding(
                STALE[0], STALE[1], level, f.table, f.rows, (), tuple(metrics), tuple(nodes), detail
            )
        )
    return out
