"""The pages of an upload's preview after the first: the mapped rows of each
table and the rejected cells, :data:`PER_PAGE` at a time.

The preview's child process keeps every mapped row (one Parquet file per
table) and every rejected cell (JSON) beside the upload
(:func:`kpitree.web.preview._keep`); a page reads only the row groups it
shows, so paging a two-million-row file costs what paging a small one does.
The kept preview goes with the upload (imported, or older than a day)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.web.errors import WebError
from kpitree.web.preview import PREVIEW_ROWS, _cell

if TYPE_CHECKING:
    from kpitree.project import Project
    from kpitree.web.imports import Upload

__all__ = [
    "PER_PAGE",
    "errors_page",
    "first_errors",
    "page_count",
    "span",
    "store_of",
    "table_page",
]

PER_PAGE = PREVIEW_ROWS
_TABLE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def store_of(upload: Upload) -> Path:
    """Where the upload's preview is kept (a hidden folder beside it)."""
    return upload.path.parent / ".preview"


def page_count(total: int, per_page: int = PER_PAGE) -> int:
    """Pages needed for ``total`` rows (at least one, even when empty)."""
    return max(1, -(-total // per_page))


def _page_number(page: int, total: int) -> int:
    """``page`` within 1..the last page (a page past the end shows the last)."""
    return min(max(1, page), page_count(total))


def span(page: int, total: int) -> dict[str, int]:
    """Where page ``page`` of ``total`` rows is: its number, the page count,
    the rows per page and the first and last row shown (1-based)."""
    first = (page - 1) * PER_PAGE
    return {
        "page": page,
        "pages": page_count(total),
        "per_page": PER_PAGE,
        "first": min(first + 1, total),
        "last": min(first + PER_PAGE, total),
    }


def table_page(
    project: Project, upload: Upload, table: str, page: int = 1, lang: str = "ja"
) -> dict[str, Any]:
    """One page of a previewed table: ``{"table", "rows", "columns", "preview",
    "display", "page", "pages", "per_page", "first", "last"}`` (``preview``
    holds the mapped values, ``display`` them as the page shows them); KT740
    when the upload has no previewed table of that name."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kpitree.web.preview_display import display_table

    path = store_of(upload) / f"{table}.parquet"
    if not _TABLE.match(table) or not path.is_file():
        raise WebError(404, "KT740", "web.data.no_preview_table", table=table)
    parquet = pq.ParquetFile(path)
    total = parquet.metadata.num_rows
    page = _page_number(page, total)
    start = (page - 1) * PER_PAGE
    stop = min(start + PER_PAGE, total)
    groups: list[int] = []
    offset, seen = 0, 0
    for index in range(parquet.metadata.num_row_groups):
        size = parquet.metadata.row_group(index).num_rows
        if seen + size > start and seen < stop:
            if not groups:
                offset = start - seen
            groups.append(index)
        seen += size
    if groups:
        rows = parquet.read_row_groups(groups).slice(offset, stop - start)
    else:
        rows = pa.table({name: [] for name in parquet.schema_arrow.names})
    columns = list(parquet.schema_arrow.names)
    cells = [[_cell(row[c]) for c in columns] for row in rows.to_pylist()]
    tree = project.tree
    return {
        "table": table,
        "rows": total,
        "columns": columns,
        "preview": cells,
        "display": display_table(columns, cells, tree.timezone, tree.currency, lang),
        **span(page, total),
    }


def errors_page(upload: Upload, page: int = 1, lang: str | None = None) -> dict[str, Any]:
    """One page of the rejected cells (row, column, value, message in ``lang``):
    ``{"errors", "total", "page", "pages", "per_page", "first", "last"}``;
    KT740 when the upload has not been previewed."""
    path = store_of(upload) / "errors.json"
    if not path.is_file():
        raise WebError(404, "KT740", "web.data.no_preview_table", table="errors")
    found: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    page = _page_number(page, len(found))
    start = (page - 1) * PER_PAGE
    errors = []
    for error in found[start : start + PER_PAGE]:
        messages = error.pop("messages", {})
        errors.append({**error, "message": messages.get(lang or "ja", error.get("message"))})
    return {"errors": errors, "total": len(found), **span(page, len(found))}


def first_errors(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The first page of a fresh preview's rejected cells, as :func:`errors_page`."""
    return {"errors": errors[:PER_PAGE], "total": len(errors), **span(1, len(errors))}
