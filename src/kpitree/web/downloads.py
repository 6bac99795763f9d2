"""Tables as downloads: every table of the app is offered as CSV and XLSX
(``?format=csv|xlsx`` on its API twin).

* CSV: UTF-8 with a byte order mark, so Excel in Japan opens Japanese text
  correctly; CRLF line ends; numbers unformatted (``1234567.5``).
* XLSX: numbers stay numbers (Excel can sum them), dates and times are real
  dates, the header row is bold and frozen.

Text that a spreadsheet would take for a formula (``=…``, ``@…``, ``-5%``) is
neutralised in both (:mod:`kpitree.escaping`): a leading ``'`` in CSV, a text
cell with Excel's quote prefix in XLSX. Numbers are never changed.

>>> response = table_response(["team", "won"], [["東日本", 12]], "csv", "won-deals")
>>> response.headers["content-type"]
'text/csv; charset=utf-8'
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from fastapi import Query
from starlette.responses import Response

from kpitree.escaping import SpreadsheetCsvWriter, write_xlsx_cell

__all__ = ["FORMATS", "api_format", "attachment", "page_format", "table_response"]

FORMATS = Literal["csv", "xlsx"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BOM = "\ufeff"


def attachment(filename: str, suffix: str) -> str:
    """The ``content-disposition`` of a download named ``filename`` (``suffix``
    added when missing), Japanese names kept in ``filename*``."""
    return _disposition(filename, suffix)


def _disposition(filename: str, suffix: str) -> str:
    """``attachment`` with an ASCII fallback name and the real (Japanese) name in
    ``filename*`` (RFC 6266/5987)."""
    name = filename if filename.lower().endswith(suffix) else filename + suffix
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or f"table{suffix}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def _csv_value(value: Any) -> str | int | float:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return value if not value.is_integer() else int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    out.write(_BOM)
    writer = SpreadsheetCsvWriter(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return out.getvalue().encode("utf-8")


def _xlsx_value(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones
    if isinstance(value, str | int | float | bool | dt.date) or value is None:
        return value
    return str(value)


def _xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=False)
    sheet = book.active
    assert sheet is not None
    sheet.title = re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "table"
    for j, name in enumerate(columns, start=1):
        write_xlsx_cell(sheet.cell(row=1, column=j), name).font = Font(bold=True)
    for i, row in enumerate(rows, start=2):
        for j, value in enumerate(row, start=1):
            write_xlsx_cell(sheet.cell(row=i, column=j), _xlsx_value(value))
    for index, column in enumerate(sheet.iter_cols(min_row=2), start=1):
        for cell in column:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = max(10, min(40, len(str(columns[index - 1])) + 4))
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table_response(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: FORMATS | str, filename: str
) -> Response:
    """A download of one table: ``fmt`` is ``"csv"`` or ``"xlsx"``; ``filename``
    without suffix (Japanese is fine). Rows are sequences in ``columns`` order;
    numbers should be numbers (not display strings)."""
    if fmt == "csv":
        return Response(
            _csv(columns, rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": _disposition(filename, ".csv")},
        )
    if fmt == "xlsx":
        return Response(
            _xlsx(columns, rows, filename),
            media_type=XLSX_TYPE,
            headers={"content-disposition": _disposition(filename, ".xlsx")},
        )
    from kpitree.web.errors import WebError

    raise WebError(400, "KT623", "web.download.bad_format", format=fmt)


def _checked(value: str | None, allowed: tuple[str, ...]) -> str | None:
    """``value`` when it is one of ``allowed`` (or absent); otherwise 400 KT623,
    the one answer to an unknown ``?format=`` on every page, twin and table."""
    if value is None or value == "" or value in allowed:
        return value or None
    from kpitree.web.errors import WebError

    raise WebError(400, "KT623", "web.download.bad_format", format=value)


async def api_format(
    format: str | None = Query(
        None,
        description="json (the default), or csv / xlsx to download a table.",
        json_schema_extra={"enum": ["json", "csv", "xlsx"]},
    ),
) -> str:
    """Dependency of the JSON twins that offer downloads: ``json``, ``csv`` or ``xlsx``
    (``async``: answered on the event loop, without a hop to the thread pool)."""
    return _checked(format, ("json", "csv", "xlsx")) or "json"


async def page_format(
    format: str | None = Query(
        None,
        description="csv or xlsx to download a table of the page instead of the page.",
        json_schema_extra={"enum": ["csv", "xlsx"]},
    ),
) -> str | None:
    """Dependency of the HTML pages that offer downloads: ``csv``, ``xlsx`` or None."""
    return _checked(format, ("csv", "xlsx"))
