"""``kpitree sources verify``: the source's own numbers beside kpitree's, per month.

The connector reports what the vendor counts (e.g. HubSpot: contacts whose
``createdate`` falls in the month, from search's ``total``); kpitree counts the
rows it holds for records of the same source and object, by the canonical
column the mapping fills from that field, over the same month boundaries in the
same time zone. Each difference comes with the explanations that can apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kpitree.connectors.sync import (
    object_mapping,
    open_source,
    project_settings,
    selected_objects,
)
from kpitree.data.schema import table
from kpitree.i18n import t

__all__ = ["VerifyLine", "verify_source"]


@dataclass(frozen=True)
class VerifyLine:
    """One month of one object: the vendor's count and kpitree's."""

    object: str
    field: str
    column: str | None
    """``table.column`` kpitree counts by (``None``: the mapping does not read the field)."""
    month: str
    source_count: int
    kpitree_count: int | None

    @property
    def matches(self) -> bool:
        """Equal, or not compared (the mapping does not read the field)."""
        return self.kpitree_count is None or self.source_count == self.kpitree_count

    @property
    def explanation(self) -> str | None:
        """Message key of what explains the difference (``None``: none)."""
        if self.kpitree_count is None:
            return "sources.verify.not_mapped"
        if self.kpitree_count < self.source_count:
            return "sources.verify.fewer"
        if self.kpitree_count > self.source_count:
            return "sources.verify.more"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "field": self.field,
            "column": self.column,
            "month": self.month,
            "source": self.source_count,
            "kpitree": self.kpitree_count,
            "matches": self.matches,
            "explanation": None if self.explanation is None else t(self.explanation),
        }


def _column_for(mapping: Any, field: str) -> tuple[str, str, str | None] | None:
    """Where kpitree holds what the vendor counts by ``field``: (table, column,
    stage) of the first instant column filled from it, or of the stage entries
    it gives (``hs_v2_date_entered_marketingqualifiedlead`` -> the ``mql``
    entries of ``lead_stage_history``)."""
    for tm in mapping.tables:
        for column, rule in tm.columns.items():
            if field in rule.headers and table(tm.table).column(column).type == "TIMESTAMPTZ":
                return tm.table, column, None
        for stage, rule in tm.stages.items():
            if field in rule.headers:
                return tm.table, "entered_at", stage
    return None


def _month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """The first instant of ``month`` (``YYYY-MM``) in ``tz`` and of the next month."""
    year, number = (int(part) for part in month.split("-"))
    zone = ZoneInfo(tz)
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def verify_source(
    project_dir: Path,
    name: str,
    spec: Any,
    months: Sequence[date],
    environ: Mapping[str, str] | None = None,
) -> list[VerifyLine]:
    """Compare the vendor's monthly counts with the warehouse's for one source."""
    from kpitree.data.pgwarehouse import warehouse_for

    configured, tz = project_settings(project_dir)
    tz = spec.timezone or tz
    connector = open_source(project_dir, name, spec, environ)
    try:
        infos = {o.name: o for o in selected_objects(connector, spec, name)}
        counts = connector.verify(months)
    finally:
        connector.close()
    wh = warehouse_for(project_dir, configured)
    present = wh.exists()
    lines = []
    for vc in counts:
        info = infos.get(vc.object)
        target = (
            None if info is None else _column_for(object_mapping(project_dir, spec, info), vc.field)
        )
        ours = None
        if target is not None and present:
            tbl, column, stage = target
            key = table(tbl).primary_key[0]
            start, end = _month_bounds(vc.month, tz)
            # A half-open range of instants, the same SQL on every warehouse engine.
            with wh.connect() as con:
                row = con.execute(
                    f"SELECT count(*) FROM {tbl} t JOIN kpitree_sync_records r "
                    f'ON r.record_id = t."{key}" AND r.source = ? AND r.object = ? '
                    f'WHERE t."{column}" >= ? AND t."{column}" < ?'
                    + ("" if stage is None else " AND t.stage = ?"),
                    [name, vc.object, start, end, *([] if stage is None else [stage])],
                ).fetchall()
            ours = int(row[0][0])
        lines.append(
            VerifyLine(
                vc.object,
                vc.field,
                None
                if target is None
                else f"{target[0]}.{target[1]}" + (f" ({target[2]})" if target[2] else ""),
                vc.month,
                vc.count,
                ours,
            )
        )
    return lines
