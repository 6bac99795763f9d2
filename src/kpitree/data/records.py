"""Mapping records read from an API onto the canonical model, as files are.

A connector hands over its records as rows of text (field name -> text, in an
Arrow table of strings); they go through exactly the mapping layer of file
imports (:mod:`kpitree.data.transform`): the same value parsing, value maps,
defaults, stage columns and reject reporting. The table plays the part of the
file's ``raw`` table; a "row number" is the record's position in the table
(1-based), and :func:`map_records` also returns which record id each row holds,
so that rejects can name the record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpitree.data.batch import MappedBatch
from kpitree.data.mapping import Mapping

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["field_groups", "map_records", "mapping_headers"]


def mapping_headers(mapping: Mapping) -> list[str]:
    """Every source field the mapping reads (the first spelling of each rule),
    in the order of the mapping, without repeats: what a connector must fetch."""
    seen: dict[str, None] = {}
    for _table, _column, rule in mapping.rules():
        for header in rule.headers[:1]:
            seen.setdefault(header, None)
        for part in rule.id_from:
            for header in part[:1]:
                seen.setdefault(header, None)
    for tm in mapping.tables:
        if isinstance(tm.attributes, tuple):
            for header in tm.attributes:
                seen.setdefault(header, None)
    return list(seen)


def field_groups(mapping: Mapping) -> list[tuple[tuple[str, ...], bool]]:
    """What the mapping reads, as (spellings, optional) groups in the order of
    the mapping: a rule's alternative headers (the first the source has is
    used, as for a file's headers), each part of an ``id_from``, each
    attribute header and each dimension's headers."""
    groups: dict[tuple[str, ...], bool] = {}

    def add(spellings: tuple[str, ...], optional: bool) -> None:
        if spellings:
            groups[spellings] = groups.get(spellings, True) and optional

    for _table, _column, rule in mapping.rules():
        add(tuple(rule.headers), rule.optional)
        for part in rule.id_from:
            add(tuple(part), True)
    for tm in mapping.tables:
        if isinstance(tm.attributes, tuple):
            for header in tm.attributes:
                add((header,), False)
    for dimension in mapping.dimensions:
        add(tuple(dimension.headers), False)
    return list(groups.items())


def map_records(records: pa.Table, mapping: Mapping, label: str, tz: str) -> MappedBatch:
    """Map ``records`` (string columns named by the source's field names) onto
    canonical tables with ``mapping``. ``label`` names the records in messages
    (e.g. ``hubspot/contacts``); timestamps without a zone are read in ``tz``
    (the mapping's ``source.timezone`` wins)."""
    import pyarrow as pa

    from kpitree.data.dimensions import declared_dimensions
    from kpitree.data.header_match import resolve_headers
    from kpitree.data.readers import SourceTable, connect
    from kpitree.data.transform import apply_mapping

    headers = tuple(records.column_names)
    text = pa.table(
        {f"c{i}": records.column(i).cast(pa.string()) for i in range(records.num_columns)}
    )
    con = connect()
    try:
        con.register("records_in", text)
        con.execute("CREATE TABLE raw AS SELECT * FROM records_in")
        con.unregister("records_in")
        source = SourceTable(headers, records.num_rows, "(rowid + 1)", "", False)
        found = resolve_headers(mapping, headers, label)
        batch = apply_mapping(con, source, mapping, found, label, mapping.source.timezone or tz)
        # A custom property declared as a dimension follows synced records as
        # a file's column follows imported ones.
        batch.dimensions = declared_dimensions(mapping, headers, found)
        return batch
    finally:
        con.close()
