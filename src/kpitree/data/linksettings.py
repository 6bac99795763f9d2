"""``data.links`` of kpitree.yaml: which source columns hold the match keys of
the cross-source links (:mod:`kpitree.data.links`).

```yaml
data:
  links:
    email: {deals: [担当者メール]}  # more headers for a built-in key, tried first
    customer_code:                 # a key of the company's own
      leads: [顧客コード]
      deals: [顧客コード]
      accounts: [取引先コード]
```

Writers read it leniently (only this key, like ``data.warehouse``), so that a
tree still being fixed does not stop imports; ``kpitree check`` reports what
is wrong in it (:mod:`kpitree.definition.spec_links`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kpitree.data.links import LINKED_TABLES, RESERVED_KEYS, LinkKeys

__all__ = ["configured_link_keys", "link_keys_of"]


def link_keys_of(section: object) -> LinkKeys:
    """The link keys a ``data.links`` value gives (what is not a mapping of
    key -> table -> headers is left out)."""
    extra: dict[str, dict[str, tuple[str, ...]]] = {}
    if isinstance(section, Mapping):
        for kind, tables in section.items():
            if (
                not isinstance(kind, str)
                or kind in RESERVED_KEYS
                or not isinstance(tables, Mapping)
            ):
                continue
            found = {
                str(table): tuple(str(h) for h in _headers(headers))
                for table, headers in tables.items()
                if table in LINKED_TABLES
            }
            found = {t: h for t, h in found.items() if h}
            if found:
                extra[str(kind)] = found
    return LinkKeys().with_extra(extra) if extra else LinkKeys()


def _headers(value: object) -> list[object]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str | int) and str(v).strip()]
    return []


def configured_link_keys(project_dir: str | os.PathLike[str]) -> LinkKeys:
    """The link keys of the project's ``kpitree.yaml`` (the built-in ones when
    it has no ``data.links`` or cannot be read)."""
    from kpitree.data.paths import configured_data

    return link_keys_of(configured_data(project_dir).get("links"))
