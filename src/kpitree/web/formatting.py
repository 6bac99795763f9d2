"""Display formats for numbers, money, ratios, months and dates in Japanese and
English, used as Jinja filters by every page (``num``, ``yen``, ``pct``,
``month``, ``date``).

Missing values render as an em dash so an empty cell never reads as zero.

>>> yen(1234567)
'¥1,234,567'
>>> month("2026-10", "ja"), month("2026-10", "en")
('2026年10月', 'Oct 2026')
>>> pct(0.1234)
'12.3%'
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

__all__ = ["MISSING", "date", "month", "num", "pct", "yen"]

MISSING = "—"
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def num(value: Any, digits: int = 0) -> str:
    """``1234567.8`` -> ``1,234,568`` (``digits`` decimals; the same in both languages)."""
    number = _number(value)
    if number is None:
        return MISSING
    # Adding 0.0 turns a rounded -0.0 into 0.0, so nothing shows as "-0".
    return f"{round(number, digits) + 0.0:,.{digits}f}"


def yen(value: Any, currency: str = "JPY") -> str:
    """Money: ``¥1,234,567`` for yen (no decimals: the yen has none); other
    currencies as ``USD 1,234.50``."""
    number = _number(value)
    if number is None:
        return MISSING
    sign = "-" if number < 0 and round(abs(number)) != 0 else ""
    if currency.upper() == "JPY":
        return f"{sign}¥{abs(number):,.0f}"
    return f"{sign}{currency.upper()} {abs(number):,.2f}"


def pct(value: Any, digits: int = 1) -> str:
    """A ratio as a percentage: ``0.1234`` -> ``12.3%``."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{number * 100:,.{digits}f}%"


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if len(text) == 7:  # 2026-10
                return dt.date(int(text[:4]), int(text[5:7]), 1)
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return None
    return None


def month(value: Any, lang: str = "ja") -> str:
    """A month: ``2026年10月`` in Japanese, ``Oct 2026`` in English. Accepts a
    date, a datetime or ``YYYY-MM`` text; anything else is shown as given."""
    day = _as_date(value)
    if day is None:
        return MISSING if value in (None, "") else str(value)
    if lang == "ja":
        return f"{day.year}年{day.month}月"
    return f"{_MONTHS_EN[day.month - 1]} {day.year}"


def date(value: Any, lang: str = "ja", *, time: bool = False) -> str:
    """A day: ``2026年10月5日`` / ``5 Oct 2026``; with ``time=True`` a datetime
    also shows ``HH:MM``."""
    day = _as_date(value)
    if day is None:
        return MISSING if value in (None, "") else str(value)
    text = (
        f"{day.year}年{day.month}月{day.day}日"
        if lang == "ja"
        else f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    )
    if time and isinstance(value, dt.datetime):
        text += f" {value:%H:%M}"
    return text
