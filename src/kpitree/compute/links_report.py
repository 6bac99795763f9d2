"""``kpitree data links``: how well the sources are linked into one funnel.

Per relation (a deal's lead, a deal's account, a lead's account) and per
source of the records linked from: how many records, how many linked (and to
which source, by which method), how many ambiguous and unmatched, and the first
unmatched and ambiguous records themselves. Everything is read from the links
table through Ibis (:mod:`kpitree.data.links`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpitree.data.links import KEYS_TABLE, LINKS_TABLE, METHODS, RELATIONS

if TYPE_CHECKING:
    from kpitree.engines import Engine

__all__ = [
    "LinkPair",
    "LinkRelation",
    "LinksReport",
    "links_report",
    "method_label",
    "records_shown",
]


def records_shown(records: Sequence[Mapping[str, Any]]) -> str:
    """Listed records as people find them: each id, with its label (a lead's
    e-mail, a deal's company name) when it has one: ``h:730d0f6c (オメガ)``."""
    return ", ".join(
        f"{r['id']} ({r['label']})" if r.get("label") else str(r["id"]) for r in records
    )


def method_label(method: str, lang: str | None = None) -> str:
    """How a link method is named to people: a built-in one from the catalogs,
    a key of the company's own (``data.links``) by its name."""
    from kpitree.i18n import t

    if method in METHODS:
        return t(f"links.method.{method}", lang=lang)
    return t("links.method.custom", lang=lang, key=method)


NO_SOURCE = "-"


@dataclass(frozen=True)
class LinkPair:
    """The records of one relation coming from one source."""

    from_source: str
    records: int
    linked: int
    ambiguous: int
    unmatched: int
    # (to_source, method) -> records linked so
    by_method: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.linked / self.records if self.records else None

    def to_json(self) -> dict[str, Any]:
        return {
            "from_source": self.from_source,
            "records": self.records,
            "linked": self.linked,
            "ambiguous": self.ambiguous,
            "unmatched": self.unmatched,
            "rate": self.rate,
            "by_method": [
                {"to_source": s, "method": m, "linked": n}
                for (s, m), n in sorted(self.by_method.items())
            ],
        }


@dataclass(frozen=True)
class LinkRelation:
    relation: str
    from_table: str
    to_table: str
    pairs: tuple[LinkPair, ...]
    unmatched: tuple[dict[str, Any], ...]  # the first ones: id, source, label
    ambiguous: tuple[dict[str, Any], ...]  # id, source, method, key, candidates, examples

    @property
    def records(self) -> int:
        return sum(p.records for p in self.pairs)

    def to_json(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "from_table": self.from_table,
            "to_table": self.to_table,
            "records": self.records,
            "linked": sum(p.linked for p in self.pairs),
            "pairs": [p.to_json() for p in self.pairs],
            "unmatched": list(self.unmatched),
            "ambiguous": list(self.ambiguous),
        }


@dataclass(frozen=True)
class LinksReport:
    relations: tuple[LinkRelation, ...]
    limit: int

    def to_json(self) -> dict[str, Any]:
        return {"limit": self.limit, "relations": [r.to_json() for r in self.relations]}


def links_report(engine: Engine, limit: int = 20) -> LinksReport:
    """The match rates and the first ``limit`` unmatched and ambiguous records
    of every relation (an empty report when the database has no links)."""
    import ibis

    from kpitree.compute.links import has_links

    if not has_links(engine):
        return LinksReport((), limit)
    links = engine.backend.table(LINKS_TABLE)
    src = links.from_source.fill_null(NO_SOURCE)
    counts = links.group_by(
        relation=links.relation,
        from_source=src,
        status=links.status,
        method=links.method,
        to_source=links.to_source.fill_null(NO_SOURCE),
    ).aggregate(n=links.count())
    rows = engine.execute(counts).to_pylist()
    listed = links.filter(links.status.isin(["unmatched", "ambiguous"]))
    listed = listed.mutate(
        __n=ibis.row_number().over(
            group_by=[listed.relation, listed.status], order_by=[listed.from_id]
        )
    )
    first = listed.filter(listed.__n < limit).order_by(["relation", "status", "from_id"])
    examples = engine.execute(
        first.select("relation", "status", "from_id", "from_source", "method", "key",
                     "candidates", "examples")
    ).to_pylist()  # fmt: skip
    labels = _labels(engine, examples)
    out = []
    for rel in RELATIONS:
        mine = [r for r in rows if r["relation"] == rel.name]
        if not mine:
            continue
        pairs: dict[str, dict[str, Any]] = {}
        for r in mine:
            p = pairs.setdefault(
                r["from_source"],
                {"records": 0, "linked": 0, "ambiguous": 0, "unmatched": 0, "by": {}},
            )
            n = int(r["n"])
            p["records"] += n
            p[r["status"]] += n
            if r["status"] == "linked":
                key = (r["to_source"], r["method"])
                p["by"][key] = p["by"].get(key, 0) + n
        out.append(
            LinkRelation(
                rel.name,
                rel.from_table,
                rel.to_table,
                tuple(
                    LinkPair(s, p["records"], p["linked"], p["ambiguous"], p["unmatched"], p["by"])
                    for s, p in sorted(pairs.items())
                ),
                tuple(
                    {
                        "id": e["from_id"],
                        "source": e["from_source"],
                        "label": labels.get((rel.from_table, e["from_id"])),
                    }
                    for e in examples
                    if e["relation"] == rel.name and e["status"] == "unmatched"
                ),
                tuple(
                    {
                        "id": e["from_id"],
                        "source": e["from_source"],
                        "method": e["method"],
                        "key": e["key"],
                        "candidates": int(e["candidates"]),
                        "examples": (e["examples"] or "").split(", "),
                    }
                    for e in examples
                    if e["relation"] == rel.name and e["status"] == "ambiguous"
                ),
            )
        )
    return LinksReport(tuple(out), limit)


def _labels(engine: Engine, examples: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(table, id) -> what names each unmatched record listed: its e-mail, else
    its company name, as the match keys hold them (normalised; written while
    the data comes from two or more sources). A report row without an ID column
    (``h:…``) can so be found in the export."""
    tables = {r.name: r.from_table for r in RELATIONS}
    wanted = {(tables[e["relation"]], e["from_id"]) for e in examples if e["status"] == "unmatched"}
    if not wanted:
        return {}
    try:
        keys = engine.backend.table(KEYS_TABLE)
    except Exception:  # a database that was given the links only
        return {}
    ids = sorted({i for _, i in wanted})
    found = engine.execute(
        keys.filter(keys.record_id.isin(ids) & keys.kind.isin(["email", "name"])).select(
            "table_name", "record_id", "kind", "value"
        )
    ).to_pylist()
    labels: dict[tuple[str, str], str] = {}
    for kind in ("name", "email"):  # the e-mail wins
        for r in found:
            key = (r["table_name"], r["record_id"])
            if r["kind"] == kind and key in wanted:
                labels[key] = r["value"]
    return labels
