"""Cross-source links: one company's leads, deals and accounts from several
systems (a HubSpot contacts export and a Salesforce opportunity report, two
syncs, ...) tied into one funnel.

Four relations are linked, each from every record of its first table:

- ``deal_lead``: a deal's originating lead (a HubSpot contact, a Salesforce lead);
- ``deal_account``: a deal's account;
- ``lead_account``: a lead's account;
- ``lead_lead``: the same person as a lead of another source (by e-mail only,
  candidates only among the other sources' leads).

Each record is linked by the first method, in this confidence order, that finds
a candidate for it (``rank`` 1 to 5):

1. ``id``: the record's own reference (``deals.lead_id``, ``deals.account_id``,
   ``leads.account_id``) names a record that exists;
2. ``email``: the same e-mail address (a deal's contact e-mail, a lead's e-mail);
3. ``corporate_number``: the same 法人番号;
4. ``domain``: the same company e-mail domain (or web site);
5. ``name``: the same normalised company name.

A company's own keys (``data.links`` of kpitree.yaml: a customer code column
both systems carry) come right after ``email``, before ``corporate_number``,
in the order they are declared; the ranks of the methods after them move down
by as many. They link deals to leads and accounts and leads to accounts, never
one person to another (``lead_lead`` stays by e-mail).

Methods 2 to 5 look for candidates only among the records of *other* sources:
within one source, its own references are the links (a deal a system stores
without a lead id has no originating lead there, and a company's name shared by
many of its leads says nothing about which one); while everything stored
comes from one source, no keys are computed at all. Keys are normalised first
(:mod:`kpitree.data.linkkeys`). When the first method
that finds candidates finds more than one record, the link is refused as
``ambiguous`` (with the number of candidates and a few of their ids), and no
weaker method is tried: a guess among two people would make the funnel wrong
silently. A record no method links is ``unmatched``; the lead relations that
can only say ``unmatched`` are not written: the same person elsewhere while the
leads come from one source, an account while everything stored comes from one
source and no account is stored.

The links are derived data: the tables below are rebuilt from the canonical
tables by every write that changes leads, deals or accounts (an import, a sync,
an undo), in the writer's transaction, so they always describe exactly the rows
stored. They are never edited by hand and never undone on their own.

- ``kpitree_link_keys``: every match key of every lead, deal and account
  (``table_name, record_id, source, kind, value``);
- ``kpitree_links``: one row per record and relation (``relation, from_table,
  from_id, from_source, to_table, to_id, to_source, method, key, rank,
  candidates, examples, status``), ``status`` being ``linked``, ``ambiguous``
  or ``unmatched``.

A record's *source* is where it came from: the sync's source name, else the
mapping (preset) of the import that first stored it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpitree.data.linkheaders import (
    BUILT_IN_KEYS,
    LINKED_TABLES,
    METHODS,
    RESERVED_KEYS,
    LinkKeys,
)
from kpitree.data.linkkeys import normalised_column

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "BUILT_IN_KEYS",
    "KEYS_TABLE",
    "LINKED_TABLES",
    "LINKS_TABLE",
    "METHODS",
    "RELATIONS",
    "RESERVED_KEYS",
    "SETTINGS_TABLE",
    "SIDE_TABLES",
    "SOURCES_SQL",
    "LinkKeys",
    "Relation",
    "ensure_tables",
    "id_column",
    "lead_source_count",
    "link_relation",
    "linked_digest",
    "nothing_to_find",
    "rebuild_links",
    "settings_changed",
    "source_count",
    "write_keys",
]

KEYS_TABLE = "kpitree_link_keys"
LINKS_TABLE = "kpitree_links"
SETTINGS_TABLE = "kpitree_link_settings"
"""One row: the fingerprint of the :class:`LinkKeys` the links were built with."""
SIDE_TABLES: dict[str, tuple[str, ...]] = {
    KEYS_TABLE: ("table_name", "record_id", "source", "kind", "value"),
    LINKS_TABLE: (
        "relation",
        "from_table",
        "from_id",
        "from_source",
        "to_table",
        "to_id",
        "to_source",
        "method",
        "key",
        "rank",
        "candidates",
        "examples",
        "status",
    ),
}
_INTEGER_COLUMNS = frozenset({"rank", "candidates"})


@dataclass(frozen=True)
class Relation:
    name: str
    from_table: str
    from_key: str
    reference: str  # the from-table's column naming the target
    to_table: str
    to_key: str
    methods: tuple[str, ...]


RELATIONS: tuple[Relation, ...] = (
    Relation("deal_lead", "deals", "deal_id", "lead_id", "leads", "lead_id", METHODS),
    Relation(
        "deal_account",
        "deals",
        "deal_id",
        "account_id",
        "accounts",
        "account_id",
        ("id", "corporate_number", "domain", "name"),
    ),
    Relation(
        "lead_account",
        "leads",
        "lead_id",
        "account_id",
        "accounts",
        "account_id",
        ("id", "corporate_number", "domain", "name"),
    ),
    # The same person in another system (a HubSpot contact and the Salesforce
    # lead made of it): the lead's conversions follow the other one's deals.
    Relation("lead_lead", "leads", "lead_id", "", "leads", "lead_id", ("email",)),
)


def _path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attr(alias: str, headers: Sequence[str]) -> str:
    """SQL: the first non-blank ``attributes`` value under ``headers`` (the
    headers are written as SQL string literals: JSON paths, quotes doubled)."""
    if not headers:
        return "CAST(NULL AS VARCHAR)"
    cells = [
        f"NULLIF(trim(json_extract_string({alias}.attributes, {_literal(_path(h))})), '')"
        for h in headers
    ]
    return f"coalesce({', '.join(cells)})" if len(cells) > 1 else cells[0]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


SOURCES_SQL = (
    "(SELECT import_id, CASE WHEN kind = 'sync' THEN source_file "
    "ELSE coalesce(NULLIF(mapping_name, ''), source_file) END AS source FROM kpitree_imports)"
)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for name, columns in SIDE_TABLES.items():
        types = {c: "INTEGER" if c in _INTEGER_COLUMNS else "VARCHAR" for c in columns}
        cols = ", ".join(f"{c} {kind}" for c, kind in types.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
    con.execute(f"CREATE TABLE IF NOT EXISTS {SETTINGS_TABLE} (fingerprint VARCHAR)")


def rebuild_links(con: duckdb.DuckDBPyConnection, keys: LinkKeys | None = None) -> None:
    """Rebuild the match keys and the links from the stored leads, deals and
    accounts, in the caller's transaction."""
    keys = keys or LinkKeys()
    ensure_tables(con)
    con.execute(f"DELETE FROM {KEYS_TABLE}")
    con.execute(f"DELETE FROM {LINKS_TABLE}")
    sources = source_count(con)
    if sources > 1:  # keys match only across sources (see above)
        write_keys(con, keys)
    for relation in RELATIONS:
        if nothing_to_find(con, relation, sources):
            continue
        link_relation(con, relation, keys)
    con.execute(f"DELETE FROM {SETTINGS_TABLE}")
    con.execute(f"INSERT INTO {SETTINGS_TABLE} VALUES (?)", [keys.fingerprint()])


def settings_changed(con: duckdb.DuckDBPyConnection, keys: LinkKeys | None = None) -> bool:
    """Whether the links stored were built with other keys than ``keys`` (a
    ``data.links`` edited since the last write): they should be rebuilt."""
    keys = keys or LinkKeys()
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [SETTINGS_TABLE]
    ).fetchall()[0][0]
    if not exists:
        return bool(keys.custom) or keys != LinkKeys()
    rows = con.execute(f"SELECT fingerprint FROM {SETTINGS_TABLE}").fetchall()
    return not rows or rows[0][0] != keys.fingerprint()


def nothing_to_find(
    con: duckdb.DuckDBPyConnection, rel: Relation, sources: int, before: int | None = None
) -> bool:
    """Whether ``rel`` can only say ``unmatched`` of every lead: a lead's same
    person is looked for among the leads of other sources only (so while the
    leads come from one source, HubSpot contacts beside Salesforce deals, there
    is none to find), and, while everything stored comes from one source, its
    account only among stored accounts. Such rows (one per lead, most of an
    import's cost on a large lead file) are not written; the links report then
    has no row for the relation, and nothing reads them (the data check's deal
    rules read deal relations, which are always written). ``before``: as it was
    before import ``before`` (its records and later ones left out)."""
    if rel.from_table != "leads":
        return False
    if rel.name == "lead_lead":
        return sources <= 1 or lead_source_count(con, before) <= 1
    if sources > 1:
        return False
    return not con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {rel.to_table} r{_before(before)} LIMIT 1) AS stored"
    ).fetchall()[0][0]


def _before(import_id: int | None) -> str:
    """SQL: a WHERE clause keeping the records (``r``) of imports before ``import_id``."""
    return "" if import_id is None else f" WHERE r._import_id < {int(import_id)}"


def lead_source_count(con: duckdb.DuckDBPyConnection, before: int | None = None) -> int:
    """How many sources the stored leads came from (``before``: of the
    imports before that one)."""
    rows = con.execute(
        f"SELECT count(DISTINCT s.source) FROM leads r JOIN {SOURCES_SQL} s "
        f"ON s.import_id = r._import_id{_before(before)}"
    ).fetchall()
    return int(rows[0][0])


def source_count(con: duckdb.DuckDBPyConnection, before: int | None = None) -> int:
    """How many sources the stored leads, deals and accounts came from
    (``before``: of the imports before that one)."""
    union = " UNION ".join(
        f"SELECT s.source FROM {t} r JOIN {SOURCES_SQL} s ON s.import_id = r._import_id"
        + _before(before)
        for t in LINKED_TABLES
    )
    rows = con.execute(f"SELECT count(DISTINCT source) FROM ({union}) AS sources").fetchall()
    return int(rows[0][0])


def id_column(table: str) -> str:
    """The id column of a linked table (``lead_id``, ``deal_id``, ``account_id``)."""
    from kpitree.data.schema import table as canonical

    (key,) = canonical(table).primary_key
    return key


def _raw_keys(
    con: duckdb.DuckDBPyConnection, table: str, keys: LinkKeys, scope: str | None = None
) -> pa.Table:
    """Rows ``record_id, source, email, corporate_number, website, name`` and
    one column per key of the company's own (``custom_0``, ...) of ``table``,
    as the source wrote them. Deals and leads take their account's name,
    法人番号, web site and own keys when they carry none of their own.
    ``scope``: only the records a relation of that name lists
    (``table_name, record_id``)."""
    key = id_column(table)
    email = _attr("r", keys.email.get(table, ()))
    corp = _attr("r", keys.corporate_number.get(table, ()))
    site = _attr("r", keys.website.get(table, ()))
    name = _attr("r", keys.name.get(table, ()))
    own = [_attr("r", headers.get(table, ())) for headers in keys.custom.values()]
    if table == "accounts":
        name = f"coalesce(NULLIF(trim(r.name), ''), {name})"
        join = ""
    else:
        own = [
            f"coalesce({mine}, {_attr('a', headers.get('accounts', ()))})"
            for mine, headers in zip(own, keys.custom.values(), strict=True)
        ]
        corp = f"coalesce({corp}, {_attr('a', keys.corporate_number.get('accounts', ()))})"
        site = f"coalesce({site}, {_attr('a', keys.website.get('accounts', ()))})"
        name = f"coalesce({name}, NULLIF(trim(a.name), ''))"
        join = "LEFT JOIN accounts a ON a.account_id = r.account_id"
    sql = (
        f"SELECT CAST(r.{key} AS VARCHAR) AS record_id, s.source, {email} AS email, "
        f"{corp} AS corporate_number, {site} AS website, {name} AS name"
        + "".join(f", {cell} AS custom_{i}" for i, cell in enumerate(own))
        + f" FROM {table} r {join} LEFT JOIN {SOURCES_SQL} s ON s.import_id = r._import_id"
    )
    if scope is not None:
        sql += (
            f" WHERE CAST(r.{key} AS VARCHAR) IN "
            f"(SELECT record_id FROM {scope} WHERE table_name = '{table}')"
        )
    result: pa.Table = con.sql(sql).to_arrow_table()
    return result


def write_keys(con: duckdb.DuckDBPyConnection, keys: LinkKeys, scope: str | None = None) -> None:
    """Insert the match keys of every lead, deal and account (``scope``: of
    the records a relation of that name lists, ``table_name, record_id``)."""
    import pyarrow as pa

    parts = []
    for table in LINKED_TABLES:
        raw = _raw_keys(con, table, keys, scope)
        if raw.num_rows == 0:
            continue
        ids, sources = raw.column("record_id"), raw.column("source")
        columns = {
            "email": normalised_column("email", raw.column("email").combine_chunks()),
            "corporate_number": normalised_column(
                "corporate_number", raw.column("corporate_number").combine_chunks()
            ),
            "domain": _domain(raw),
            "name": normalised_column("name", raw.column("name").combine_chunks()),
        }
        for i, kind in enumerate(keys.custom):
            columns[kind] = normalised_column("code", raw.column(f"custom_{i}").combine_chunks())
        for kind, values in columns.items():
            part = pa.table(
                {
                    "table_name": pa.array([table] * raw.num_rows, pa.string()),
                    "record_id": ids,
                    "source": sources,
                    "kind": pa.array([kind] * raw.num_rows, pa.string()),
                    "value": values,
                }
            )
            parts.append(part.filter(part.column("value").is_valid()))
    if not parts:
        return
    rows = pa.concat_tables(parts)
    con.register("kpitree_link_input", rows)
    try:
        con.execute(
            f"INSERT INTO {KEYS_TABLE} SELECT DISTINCT table_name, record_id, source, kind, value "
            "FROM kpitree_link_input"
        )
    finally:
        con.unregister("kpitree_link_input")


def _domain(raw: pa.Table) -> pa.Array:
    """A record's company domain: its e-mail's, else its (account's) web site's."""
    import pyarrow.compute as pc

    from_mail = normalised_column("domain", raw.column("email").combine_chunks())
    from_site = normalised_column("website", raw.column("website").combine_chunks())
    return pc.coalesce(from_mail, from_site)


def link_relation(
    con: duckdb.DuckDBPyConnection, rel: Relation, keys: LinkKeys, scope: str | None = None
) -> None:
    """Insert the links of ``rel``: per from-record the best-ranked method with
    candidates; linked when it has one candidate, else ambiguous; unmatched
    records too. ``scope``: only of the from-records a relation of that name
    lists (``from_id``); each record's row is the same as with every record."""
    mine = "" if scope is None else f" AND {{id}} IN (SELECT from_id FROM {scope})"
    ranks = {m: i + 1 for i, m in enumerate(keys.methods())}
    methods = keys.methods_of(rel)
    key_methods = [m for m in methods if m != "id"]
    parts = []
    if "id" in methods:
        parts.append(
            f"SELECT CAST(f.{rel.from_key} AS VARCHAR) AS from_id, 'id' AS method, "
            f"{ranks['id']} AS rank, CAST(f.{rel.reference} AS VARCHAR) AS key, 1 AS candidates, "
            f"CAST(f.{rel.reference} AS VARCHAR) AS to_id, CAST(f.{rel.reference} AS VARCHAR) "
            f"AS examples FROM {rel.from_table} f WHERE f.{rel.reference} IN "
            f"(SELECT {rel.to_key} FROM {rel.to_table})"
            + mine.format(id=f"CAST(f.{rel.from_key} AS VARCHAR)")
        )
    if key_methods:
        rank_of = " ".join(f"WHEN {_literal(m)} THEN {ranks[m]}" for m in key_methods)
        kinds = ", ".join(_literal(m) for m in key_methods)
        # With a scope, only the key values its records carry are grouped.
        values = (
            ""
            if scope is None
            else f" AND EXISTS (SELECT 1 FROM {KEYS_TABLE} m WHERE m.table_name = "
            f"'{rel.from_table}' AND m.kind = t.kind AND m.value = t.value AND m.record_id IN "
            f"(SELECT from_id FROM {scope}))"
        )
        parts.append(
            f"""SELECT f.record_id AS from_id, f.kind AS method,
                CASE f.kind {rank_of} END AS rank, f.value AS key, sum(g.n) AS candidates,
                CASE WHEN sum(g.n) = 1 THEN min(g.first) END AS to_id,
                array_to_string(list_sort(flatten(list(g.ids)))[1:5], ', ') AS examples
            FROM {KEYS_TABLE} f JOIN (
                SELECT kind, value, source, count(DISTINCT record_id) AS n,
                    min(record_id) AS first, list(DISTINCT record_id) AS ids
                FROM {KEYS_TABLE} t
                WHERE table_name = '{rel.to_table}' AND kind IN ({kinds}){values}
                GROUP BY kind, value, source
            ) g ON g.kind = f.kind AND g.value = f.value AND g.source IS DISTINCT FROM f.source
            WHERE f.table_name = '{rel.from_table}' AND f.kind IN ({kinds})
                AND f.source IS NOT NULL AND g.source IS NOT NULL{mine.format(id="f.record_id")}
            GROUP BY f.record_id, f.kind, f.value"""
        )
    candidates = " UNION ALL ".join(parts)
    # With a scope, only the targets its records' links name.
    theirs = (
        "" if scope is None else f" AND CAST(r.{rel.to_key} AS VARCHAR) IN (SELECT to_id FROM best)"
    )
    con.execute(
        f"""
        INSERT INTO {LINKS_TABLE}
        WITH cand AS ({candidates}),
        best AS (
            SELECT * FROM cand
            QUALIFY row_number() OVER (PARTITION BY from_id ORDER BY rank, candidates, key) = 1
        ),
        src AS (
            SELECT CAST(r.{rel.from_key} AS VARCHAR) AS id, s.source
            FROM {rel.from_table} r LEFT JOIN {SOURCES_SQL} s ON s.import_id = r._import_id
            WHERE TRUE{mine.format(id=f"CAST(r.{rel.from_key} AS VARCHAR)")}
        ),
        dst AS (
            SELECT CAST(r.{rel.to_key} AS VARCHAR) AS id, s.source
            FROM {rel.to_table} r LEFT JOIN {SOURCES_SQL} s ON s.import_id = r._import_id
            WHERE TRUE{theirs}
        )
        SELECT '{rel.name}', '{rel.from_table}', src.id, src.source, '{rel.to_table}',
            b.to_id, dst.source, b.method, b.key, b.rank, b.candidates,
            CASE WHEN b.candidates > 1 THEN b.examples END,
            CASE WHEN b.method IS NULL THEN 'unmatched'
                 WHEN b.candidates = 1 THEN 'linked' ELSE 'ambiguous' END
        FROM src LEFT JOIN best b ON b.from_id = src.id
        LEFT JOIN dst ON dst.id = b.to_id
        """
    ).fetchall()


def linked_digest(con: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    """A fingerprint of the links made (``None`` before links exist)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [LINKS_TABLE]
    ).fetchall()[0][0]
    if not exists:
        return None
    row = con.execute(
        f"SELECT count(*), coalesce(bit_xor(hash(relation, from_id, to_id)), 0) "
        f"FROM {LINKS_TABLE} WHERE status = 'linked'"
    ).fetchall()[0]
    return int(row[0]), int(row[1])
