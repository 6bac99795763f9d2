"""Which fields a sync asks a source for, and the stages only the source knows.

A mapping names source fields (a rule may give several spellings, the first
the source has is used, as for a file's headers); a connector may say which
fields an object has (``present_fields``) and offer stages its default mapping
cannot list (``history_stages``, e.g. each open stage of a HubSpot portal's
deal pipelines by its label).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpitree.connectors.base import Connector, ObjectInfo

if TYPE_CHECKING:
    from kpitree.data.mapping import Mapping as DataMapping

__all__ = ["fetch_fields", "with_source_stages"]


def with_source_stages(connector: Connector, info: ObjectInfo, mapping: DataMapping) -> DataMapping:
    """The default mapping plus the stages only the source knows (a connector's
    optional ``history_stages(object)``: stage name -> field, e.g. each open
    stage of a HubSpot portal's pipelines by its label), added to the mapping's
    stage-history tables where it does not name that stage itself."""
    from dataclasses import replace

    from kpitree.data.mapping import HISTORY_TABLES, ColumnRule

    offered = getattr(connector, "history_stages", None)
    extra: dict[str, str] = offered(info.name) if offered is not None else {}
    if not extra:
        return mapping
    tables = []
    for tm in mapping.tables:
        if tm.table in HISTORY_TABLES and tm.stages:
            added = {s: ColumnRule(headers=(f,)) for s, f in extra.items() if s not in tm.stages}
            tm = replace(tm, stages={**tm.stages, **added})
        tables.append(tm)
    return replace(mapping, tables=tuple(tables))


def fetch_fields(
    connector: Connector, info: ObjectInfo, mapping: DataMapping, *, checking: bool = False
) -> list[str]:
    """The fields to ask the source for: the record id, for each rule the
    first of its spellings the source has (as a file's first present header
    is used), and what the connector itself needs.

    Only a mapping with alternatives or optional rules makes the engine ask the
    connector which fields exist (its optional ``present_fields(object,
    fields)``); a rule none of whose spellings exists asks for its first one,
    so that the connector names it as unknown, unless it is optional."""
    from kpitree.data.records import field_groups

    groups = field_groups(mapping)
    present = getattr(connector, "present_fields", None)
    asked: set[str] = set()
    unsure = [f for s, optional in groups if len(s) > 1 or optional for f in s]
    if present is not None and unsure:
        asked = set(present(info.name, unsure))
    chosen: list[str] = []
    for spellings, optional in groups:
        if present is None:
            chosen += spellings  # the connector sorts them out
            continue
        if len(spellings) == 1 and not optional:
            chosen.append(spellings[0])
            continue
        hit = next((f for f in spellings if f in asked), None)
        if hit is not None:
            chosen.append(hit)
        elif not optional or checking:  # ``sources test`` notes a missing optional one
            chosen.append(spellings[0])
    return list(dict.fromkeys([info.id_field, *chosen, *info.requires]))
