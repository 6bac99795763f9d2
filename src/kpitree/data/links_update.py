"""Cross-source links kept up to date by an import, in proportion to its size.

:func:`kpitree.data.links.rebuild_links` derives the match keys and the links
of every lead, deal and account; an import of seven deals into a warehouse of
1.5 million leads would normalise every record's keys again and link every
record again. :func:`update_links` gives the same tables by redoing only what
the import can have changed:

- the keys of the records it inserted or updated, and of the leads and deals
  whose account it inserted or updated (they take the account's name,
  法人番号, web site and the company's own keys when they carry none);
- the links of the from-records whose row can differ: those whose keys were
  redone, those whose reference names a record the import wrote (the ``id``
  method, and the target's source), and those sharing a key value (old or
  new) with a target record whose keys were redone (their candidates).

Every other record's keys and links are functions of rows the import did not
touch, so they stay as they are. When the import changes what the whole
derivation depends on (how many sources there are, which relations are
written at all), or the stored links were built with other keys, or it
touched a large share of the records, everything is rebuilt instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.data.links import (
    KEYS_TABLE,
    LINKED_TABLES,
    LINKS_TABLE,
    RELATIONS,
    SETTINGS_TABLE,
    LinkKeys,
    id_column,
    link_relation,
    nothing_to_find,
    rebuild_links,
    settings_changed,
    source_count,
    write_keys,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["update_links"]

_CHANGED = "kpitree_link_changed"
_SCOPE = "kpitree_link_scope"
_TOUCHED = "kpitree_link_touched"
_FROM = "kpitree_link_from"
# Past this share of the linked records, redoing them one by one costs more
# than rebuilding everything.
_MOST = 0.25


def update_links(con: duckdb.DuckDBPyConnection, keys: LinkKeys | None, first_import: int) -> None:
    """The links and keys as :func:`~kpitree.data.links.rebuild_links` makes
    them, after imports ``first_import`` and later (in the caller's transaction,
    after their log rows) inserted or updated leads, deals or accounts, and
    deleted none."""
    keys = keys or LinkKeys()
    if not _stored(con) or settings_changed(con, keys):
        rebuild_links(con, keys)
        return
    sources = source_count(con)
    before = source_count(con, first_import)
    skipped = {r.name: nothing_to_find(con, r, sources) for r in RELATIONS}
    if (sources > 1) != (before > 1) or any(
        nothing_to_find(con, r, before, first_import) != skipped[r.name] for r in RELATIONS
    ):
        rebuild_links(con, keys)
        return
    changed = _changed(con, first_import)
    if changed.num_rows > _MOST * _record_count(con):
        rebuild_links(con, keys)
        return
    with _registered(con, _CHANGED, changed):
        scope = _keyed_records(con) if sources > 1 else changed
        with _registered(con, _SCOPE, scope):
            touched = _redo_keys(con, keys) if sources > 1 else None
            for relation in RELATIONS:
                if skipped[relation.name]:
                    continue
                affected = _affected(con, relation, keys, touched)
                with _registered(con, _FROM, affected):
                    con.execute(
                        f"DELETE FROM {LINKS_TABLE} WHERE relation = ? "
                        f"AND from_id IN (SELECT from_id FROM {_FROM})",
                        [relation.name],
                    ).fetchall()
                    link_relation(con, relation, keys, _FROM)


def _stored(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether links were built before (their tables exist)."""
    names = [KEYS_TABLE, LINKS_TABLE, SETTINGS_TABLE]
    found = con.execute(
        "SELECT count(DISTINCT table_name) FROM information_schema.tables "
        f"WHERE table_name IN ({', '.join('?' for _ in names)})",
        names,
    ).fetchall()[0][0]
    return int(found) == len(names)


def _record_count(con: duckdb.DuckDBPyConnection) -> int:
    union = " + ".join(f"(SELECT count(*) FROM {t})" for t in LINKED_TABLES)
    return int(con.execute(f"SELECT {union}").fetchall()[0][0])


def _changed(con: duckdb.DuckDBPyConnection, first_import: int) -> pa.Table:
    """``table_name, record_id`` of every lead, deal and account inserted
    (``_import_id``) or updated (its change log) by the imports from
    ``first_import`` on."""
    from kpitree.data.schema import TABLES
    from kpitree.data.upsert import change_log, has_change_log

    by_name = {t.name: t for t in TABLES}
    parts = []
    for name in LINKED_TABLES:
        key = id_column(name)
        parts.append(
            f"SELECT '{name}' AS table_name, CAST({key} AS VARCHAR) AS record_id "
            f"FROM {name} WHERE _import_id >= {int(first_import)}"
        )
        if has_change_log(by_name[name]):
            parts.append(
                f"SELECT '{name}', CAST({key} AS VARCHAR) FROM {change_log(by_name[name])} "
                f"WHERE import_id >= {int(first_import)}"
            )
    found: pa.Table = con.sql(" UNION ".join(parts)).to_arrow_table()
    return found


def _keyed_records(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The records whose keys are redone: those changed, and the leads and
    deals of a changed account (they may take its keys)."""
    account = (
        "SELECT '{t}', CAST(r.{key} AS VARCHAR) FROM {t} r WHERE CAST(r.account_id AS VARCHAR) "
        f"IN (SELECT record_id FROM {_CHANGED} WHERE table_name = 'accounts')"
    )
    parts = [f"SELECT table_name, record_id FROM {_CHANGED}"]
    parts += [account.format(t=t, key=id_column(t)) for t in ("leads", "deals")]
    found: pa.Table = con.sql(" UNION ".join(parts)).to_arrow_table()
    return found


def _redo_keys(con: duckdb.DuckDBPyConnection, keys: LinkKeys) -> pa.Table:
    """Replace the keys of the records in scope; ``table_name, kind, value``
    of every key they had or have now (whose candidates may have changed)."""
    mine = (
        f"EXISTS (SELECT 1 FROM {_SCOPE} s WHERE s.table_name = {KEYS_TABLE}.table_name "
        f"AND s.record_id = {KEYS_TABLE}.record_id)"
    )
    old: pa.Table = con.sql(
        f"SELECT DISTINCT table_name, kind, value FROM {KEYS_TABLE} WHERE {mine}"
    ).to_arrow_table()
    con.execute(f"DELETE FROM {KEYS_TABLE} WHERE {mine}").fetchall()
    write_keys(con, keys, _SCOPE)
    with _registered(con, "kpitree_link_old", old):
        touched: pa.Table = con.sql(
            f"SELECT table_name, kind, value FROM {KEYS_TABLE} WHERE {mine} "
            "UNION SELECT table_name, kind, value FROM kpitree_link_old"
        ).to_arrow_table()
    return touched


def _affected(
    con: duckdb.DuckDBPyConnection, rel: Any, keys: LinkKeys, touched: pa.Table | None
) -> pa.Table:
    """``from_id`` of every from-record of ``rel`` whose link may differ now."""
    methods = keys.methods_of(rel)
    parts = [f"SELECT record_id AS from_id FROM {_SCOPE} WHERE table_name = '{rel.from_table}'"]
    if "id" in methods:
        parts.append(
            f"SELECT CAST(f.{rel.from_key} AS VARCHAR) FROM {rel.from_table} f "
            f"WHERE CAST(f.{rel.reference} AS VARCHAR) IN "
            f"(SELECT record_id FROM {_CHANGED} WHERE table_name = '{rel.to_table}')"
        )
    kinds = [m for m in methods if m != "id"]
    if touched is not None and kinds:
        listed = ", ".join("'" + k.replace("'", "''") + "'" for k in kinds)
        parts.append(
            f"SELECT k.record_id FROM {KEYS_TABLE} k JOIN {_TOUCHED} t "
            f"ON t.kind = k.kind AND t.value = k.value AND t.table_name = '{rel.to_table}' "
            f"WHERE k.table_name = '{rel.from_table}' AND k.kind IN ({listed})"
        )
        with _registered(con, _TOUCHED, touched):
            found: pa.Table = con.sql(" UNION ".join(parts)).to_arrow_table()
        return found
    found = con.sql(" UNION ".join(parts)).to_arrow_table()
    return found


class _registered:
    """``data`` visible to ``con``'s statements as ``name`` while inside."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str, data: pa.Table) -> None:
        self.con, self.name, self.data = con, name, data

    def __enter__(self) -> None:
        self.con.register(self.name, self.data)

    def __exit__(self, *exc: object) -> None:
        self.con.unregister(self.name)
