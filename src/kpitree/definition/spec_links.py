"""Located checks of ``data.links`` (the columns holding the match keys that
link sources, :mod:`kpitree.data.linksettings`): a key may not take the name of
a method of its own (``id``, ``domain``), and a key of the company's own read
from one table only links nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kpitree.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from kpitree.definition.draft import Draft

__all__ = ["BUILT_IN_KEYS", "RESERVED_KEYS", "check_link_keys"]

# The same names as kpitree.data.links (which this layer does not import; a
# test keeps them equal).
BUILT_IN_KEYS = ("email", "name", "corporate_number", "website")
RESERVED_KEYS = ("id", "domain")


def check_link_keys(draft: Draft) -> Iterator[Diagnostic]:
    if draft.head is None:
        return
    doc = draft.main
    for kind, tables in draft.head.data.links.items():
        path = ("data", "links", kind)
        if kind in RESERVED_KEYS:
            yield Diagnostic(
                Severity.ERROR,
                "KT120",
                "links.def.reserved",
                {"key": kind},
                doc.key_span(path),
            )
        elif kind not in BUILT_IN_KEYS and len([t for t, h in tables.items() if h]) < 2:
            yield Diagnostic(
                Severity.WARNING,
                "KT121",
                "links.def.one_table",
                {"key": kind, "tables": ", ".join(tables) or "-"},
                doc.key_span(path),
            )
