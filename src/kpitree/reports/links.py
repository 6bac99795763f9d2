"""Links from a report's numbers to the records behind them on the dashboard.

A report knows the dashboard's address only from ``notifications.base_url``
(the address alert messages link to); without it a report has no links. Each
measured node's number in the report's period links to
``<base_url>/records/<node>?period=…&as_of=…&lang=…``: the list computed
under the same period, measured up to the report's day, so its row count is the
number printed (a rate's list gives its entrants and its converted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from kpitree.compute.metrics import Catalogue
    from kpitree.definition.tree import Tree

__all__ = ["records_links", "records_url"]


def records_url(base_url: str, node: str, params: Mapping[str, str]) -> str:
    """``<base_url>/records/<node>?<params>``: the node id quoted as one path
    segment (``/``, ``?``, ``#``, ``%``, spaces and Japanese included), the
    parameters as query values."""
    path = f"{base_url.rstrip('/')}/records/{quote(node, safe='')}"
    return path + ("?" + urlencode(dict(params), quote_via=quote) if params else "")


def records_links(
    tree: Tree,
    catalogue: Catalogue,
    nodes: Iterable[str],
    period: str,
    as_of: dt.date,
    lang: str,
) -> dict[str, str]:
    """Node -> the address of its records in ``period`` as of ``as_of``, for
    the nodes with records of their own; empty without ``notifications.base_url``."""
    from kpitree.compute.records import record_sets

    base = tree.notifications.base_url
    if not base:
        return {}
    params = {"period": period, "as_of": as_of.isoformat(), "lang": lang}
    return {
        node: records_url(base, node, params)
        for node in nodes
        if node in tree.nodes and record_sets(tree, catalogue, node)
    }
