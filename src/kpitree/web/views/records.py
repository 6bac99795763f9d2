"""The Records page: the facts behind one node's number (``/records/{node}``),
under the page's period, filters and as-of day; paged, sorted and searched in
the database (:mod:`kpitree.compute.records`), downloadable whole."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from kpitree.i18n import t, value_label
from kpitree.web.errors import WebError
from kpitree.web.views.common import (
    PageQuery,
    StatusSource,
    choices,
    main_status,
    period_info,
    resolve_period,
    rows_at,
)
from kpitree.web.views.shown import node_info, node_numbers

if TYPE_CHECKING:
    from kpitree.compute.metrics import Catalogue
    from kpitree.compute.records import RecordPage, RecordSet
    from kpitree.definition.tree import Tree

__all__ = ["PAGE_SIZE", "RecordsQuery", "records_download", "records_view"]

PAGE_SIZE = 50
_MONEY = ("amount", "mrr", "arr", "mrr_after", "arr_retained", "arr_expansion")


class RecordsQuery:
    """What a records list shows beyond the page query: which list
    (``role``), the search text, the sort column and direction, the page."""

    def __init__(
        self,
        role: str | None = None,
        search: str = "",
        sort: str | None = None,
        descending: bool = False,
        page: int = 1,
        cohort: bool = False,
        as_of: dt.date | None = None,
    ) -> None:
        self.role = role
        self.cohort = cohort
        self.as_of = as_of
        self.search = search.strip()[:200]
        self.sort = sort
        self.descending = descending
        self.page = max(1, page)

    def key(self) -> tuple[Any, ...]:
        return (
            self.role,
            self.search,
            self.sort,
            self.descending,
            self.page,
            self.cohort,
            self.as_of,
        )

    def params(self, query: PageQuery, **changes: Any) -> dict[str, str]:
        """URL parameters of this list (and the page query) with ``changes``."""
        own: dict[str, Any] = {
            "role": self.role,
            "q": self.search or None,
            "sort": self.sort,
            "desc": "1" if self.descending else None,
            "page": str(self.page) if self.page > 1 else None,
            "view": "cohort" if self.cohort else None,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
        }
        own.update(changes)
        return {k: v for k, v in query.params(**own).items() if v is not None}


def _bad(key: str, **params: Any) -> WebError:
    return WebError(400, "KT699", key, **params)


def _chosen(sets: list[RecordSet], role: str | None) -> RecordSet | None:
    if not sets:
        return None
    if role is None:
        return sets[0]
    for s in sets:
        if s.role == role:
            return s
    raise _bad("pages.error.bad_records_role", role=role, roles=", ".join(s.role for s in sets))


def _frame(
    source: StatusSource, query: PageQuery, node_id: str, cohort: bool = False
) -> dict[str, Any]:
    """The node, its number and its lists (without rows); with ``cohort``, the
    lists of the Funnel page's cohort rate of the step (its entrants in the
    period, and those of them converted within the window)."""
    from kpitree.compute.metrics import Catalogue
    from kpitree.compute.records import RecordSet, record_sets
    from kpitree.web.views.funnel import cohort_metric
    from kpitree.web.views.node import _unknown_node

    project = source.project
    tree = project.tree
    if node_id not in tree.nodes:
        raise _unknown_node(tree, node_id)
    lang = query.lang
    period = resolve_period(source, query.period)
    result = main_status(source, query, period)
    row = rows_at(result, period.key).get((node_id, ()))
    node = tree.nodes[node_id]
    catalogue = project.catalogue
    sets = record_sets(tree, catalogue, node_id)
    if cohort:
        metric = cohort_metric(catalogue, tree, node_id)
        if metric is None:
            raise _bad("pages.error.bad_records_cohort", node=node_id)
        ent = metric.entity
        assert ent is not None
        catalogue = Catalogue({**catalogue.metrics, metric.id: metric}, ())
        sets = [RecordSet(r, metric.id, ent.name) for r in ("entrants", "converted")]
    return {
        "tree": tree,
        "period": period,
        "as_of": result.as_of,
        "catalogue": catalogue,
        "sets": sets,
        "node": {**node_info(tree, node_id, lang), **node_numbers(row, node, tree, lang)},
    }


def _page(
    source: StatusSource,
    catalogue: Catalogue,
    query: PageQuery,
    record_set: RecordSet,
    period: Any,
    as_of: dt.date,
    rq: RecordsQuery,
    limit: int | None,
) -> RecordPage:
    from kpitree.compute.records import record_page, record_table

    project = source.project
    cut = period.to_date(as_of)
    with project.engine() as engine:
        if cut is None:  # the period starts after the as-of day: nothing yet
            from kpitree.compute.records import RecordPage

            return RecordPage((), [], 0, 0, None, 0, limit)
        table = record_table(engine, catalogue, record_set, cut, query.filter_map, as_of)
        if rq.sort is not None and rq.sort not in table.columns:
            raise _bad(
                "pages.error.bad_records_sort", sort=rq.sort, columns=", ".join(table.columns)
            )
        offset = (rq.page - 1) * (limit or 0)
        return record_page(
            engine,
            table,
            search=rq.search,
            sort=rq.sort,
            descending=rq.descending,
            offset=offset,
            limit=limit,
        )


def _label(column: str, lang: str) -> str:
    return t(f"pages.records.col.{column}", lang=lang)


def _display(value: Any, column: str, tree: Tree, lang: str, zone: ZoneInfo) -> str:
    from kpitree.i18n.numbers import format_value

    if value is None:
        return ""
    if column == "department":
        found = tree.organisation.departments.get(str(value))
        return found.label.text(lang, found.id) if found else str(value)
    if column == "channel":
        return value_label("channel", str(value), lang)
    if isinstance(value, dt.datetime):
        local = value.astimezone(zone) if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | int) and not isinstance(value, bool):
        if column in _MONEY:
            return format_value(value, "currency", tree.currency, lang)
        if column == "value":
            return f"{value:,.2f}".rstrip("0").rstrip(".")
        return f"{value:,}"
    return str(value)


def _source_link(
    tree: Tree, entity: str, row: dict[str, Any], columns: tuple[str, ...]
) -> str | None:
    """The record in its source system, where ``data.record_links`` gives a
    pattern for its table (the first column is the record's id)."""
    from kpitree.compute.entities import ENTITIES

    found = ENTITIES.get(entity)
    pattern = tree.record_links.get(found.table if found else entity)
    ident = row.get(columns[0]) if columns else None
    if not pattern or ident is None:
        return None
    return pattern.replace("{id}", quote(str(ident), safe=""))


def _count(
    source: StatusSource,
    catalogue: Catalogue,
    query: PageQuery,
    record_set: RecordSet,
    period: Any,
    as_of: dt.date,
) -> int:
    from kpitree.compute.records import record_table

    cut = period.to_date(as_of)
    if cut is None:
        return 0
    project = source.project
    with project.engine() as engine:
        table = record_table(engine, catalogue, record_set, cut, query.filter_map, as_of)
        found = engine.execute(table.count())
    return int(found.column(0)[0].as_py() or 0)


def records_view(
    source: StatusSource, query: PageQuery, node_id: str, rq: RecordsQuery
) -> dict[str, Any]:
    """The view model of a Records page (and of ``/api/records/{node_id}``)."""
    frame = _frame(source, query, node_id, rq.cohort)
    tree: Tree = frame["tree"]
    catalogue = frame["catalogue"]
    lang = query.lang
    sets: list[RecordSet] = frame["sets"]
    chosen = _chosen(sets, rq.role)
    lists = []
    for s in sets:
        counted = _count(source, catalogue, query, s, frame["period"], frame["as_of"])
        lists.append(
            {
                "role": s.role,
                "metric": s.metric,
                "entity": s.entity,
                "label": t(f"pages.records.role.{s.role}", lang=lang)
                if s.role in ("facts", "entrants", "converted")
                else catalogue[s.metric].display(lang),
                "count": counted,
                "selected": chosen is not None and s.role == chosen.role,
            }
        )
    out: dict[str, Any] = {
        "page": "records",
        "project": tree.name,
        "query": query.to_json(),
        "period": period_info(frame["period"], lang),
        **choices(source, frame["period"], lang),
        "as_of": frame["as_of"].isoformat(),
        "node": frame["node"],
        "lists": lists,
        "role": None if chosen is None else chosen.role,
        "cohort": rq.cohort,
        "search": rq.search,
        "sort": rq.sort,
        "descending": rq.descending,
        "page_number": rq.page,
        "page_size": PAGE_SIZE,
        "columns": [],
        "rows": [],
        "total": 0,
        "count": 0,
        "value_total": None,
        "children": [
            {"id": c, "label": tree.nodes[c].display(lang)}
            for c in tree.nodes[node_id].children
            if c in tree.nodes
        ],
    }
    if chosen is None:
        return out
    found = _page(source, catalogue, query, chosen, frame["period"], frame["as_of"], rq, PAGE_SIZE)
    zone = ZoneInfo(source.project.tree.timezone)
    out.update(
        columns=[{"key": c, "label": _label(c, lang)} for c in found.columns],
        rows=[
            {
                "values": {c: _json(r[c]) for c in found.columns},
                "display": {c: _display(r[c], c, tree, lang, zone) for c in found.columns},
                "source_url": _source_link(tree, chosen.entity, r, found.columns),
            }
            for r in found.rows
        ],
        total=found.total,
        count=found.count,
        value_total=found.value_total,
        pages=max(1, -(-found.total // PAGE_SIZE)),
    )
    return out


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def records_download(
    source: StatusSource, query: PageQuery, node_id: str, rq: RecordsQuery
) -> tuple[list[str], list[list[Any]], str]:
    """Every row of the chosen list (searched and sorted as shown): column
    headings, rows and a file name."""
    frame = _frame(source, query, node_id, rq.cohort)
    chosen = _chosen(frame["sets"], rq.role)
    name = "-".join(
        p for p in ("kpitree", "records", node_id, rq.role or "", frame["period"].key) if p
    )
    if chosen is None:
        return [], [], name
    found = _page(
        source, frame["catalogue"], query, chosen, frame["period"], frame["as_of"], rq, None
    )
    zone = ZoneInfo(source.project.tree.timezone)
    rows = [
        [
            r[c].astimezone(zone).replace(tzinfo=None)
            if isinstance(r[c], dt.datetime) and r[c].tzinfo
            else r[c]
            for c in found.columns
        ]
        for r in found.rows
    ]
    return [_label(c, query.lang) for c in found.columns], rows, name
