"""How the Data page shows a preview's rows (the JSON keeps the mapped values
as they are): instants in the project's time zone, amounts as amounts, and the
``attributes`` kept from source columns as columns of their own."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["display_table"]

# Columns of the canonical schema that hold money (in the row's or the
# project's currency).
MONEY = ("amount", "mrr", "arr", "mrr_after", "arr_retained", "arr_expansion")


def _attributes(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            found = json.loads(value)
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}
    return {}


def _shown(column: str, value: Any, zone: ZoneInfo, currency: str, lang: str) -> str:
    from kpitree.i18n.numbers import format_value

    if value is None:
        return ""
    if column.endswith("_at") and isinstance(value, str):
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        local = instant.astimezone(zone) if instant.tzinfo else instant
        return local.strftime("%Y-%m-%d %H:%M")
    if column in MONEY and isinstance(value, int | float) and not isinstance(value, bool):
        return format_value(value, "currency", currency, lang)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def display_table(
    columns: list[str], rows: list[list[Any]], timezone: str, currency: str, lang: str
) -> dict[str, Any]:
    """``{"columns": [...], "rows": [[text, ...], ...]}`` of one previewed
    table as the page shows it; a row's own currency (``currency`` column)
    wins over the project's."""
    zone = ZoneInfo(timezone)
    at = columns.index("attributes") if "attributes" in columns else None
    extra: list[str] = []
    if at is not None:
        for row in rows:
            for key in _attributes(row[at]):
                if key not in extra and key not in columns:
                    extra.append(key)
    own = [c for i, c in enumerate(columns) if i != at]
    shown_rows = []
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        money = values.get("currency") if isinstance(values.get("currency"), str) else currency
        cells = [_shown(c, values[c], zone, str(money), lang) for c in own]
        found = _attributes(row[at]) if at is not None else {}
        cells += [_shown(k, found.get(k), zone, str(money), lang) for k in extra]
        shown_rows.append(cells)
    return {"columns": [*own, *extra], "rows": shown_rows}
