"""Formatting values for people: ¥300,000,000, 25.0%, 4,000, 12.5日.

Counts are whole numbers in every display (a target of 36.2 won deals reads 36).
"""

from __future__ import annotations

import math
import re
from typing import Any

from kpitree.i18n import current_lang, t

__all__ = ["format_compact", "format_value"]

_SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "BRL": "R$", "CNY": "CN¥"}


def _grouped(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def format_value(
    value: Any, unit: str | None, currency: str = "JPY", lang: str | None = None
) -> str:
    """``value`` as a person reads it in ``lang``; ``—`` for no value."""
    lang = lang or current_lang()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    if not math.isfinite(value):  # an overflowed result is shown, never a crash
        return "-∞" if value < 0 else "∞"
    if unit == "ratio":
        return f"{value * 100:,.1f}%"
    if unit == "currency":
        decimals = 0 if currency in ("JPY", "KRW") or abs(value) >= 1000 else 2
        symbol = _SYMBOLS.get(currency)
        text = _grouped(abs(value), decimals)
        sign = "-" if value < 0 else ""
        return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"
    if unit == "count":
        # A count is shown whole (36 won deals, never 36.2, even for a target or
        # an expected-to-date value); the exact value stays in JSON and downloads.
        return _grouped(round(value) + 0.0, 0)
    whole = abs(value - round(value)) <= 1e-9 * max(1.0, abs(value))
    decimals = 0 if whole or abs(value) >= 1000 else 1
    text = _grouped(value, decimals)
    if unit in ("days", "hours"):
        return t(f"unit.{unit}_value", lang=lang, value=text)
    return text


def format_compact(
    value: Any, unit: str | None, currency: str = "JPY", lang: str | None = None
) -> str:
    """Amounts as people say them in summaries, cards and chart axes: in
    Japanese 万 and 億 (``¥2.77億``, ``¥657.6万``), in English K, M and B
    (``¥277M``), with about three significant digits (Babel's compact formats).
    Small amounts and every other unit read as :func:`format_value`."""
    lang = lang or current_lang()
    if value is None or unit != "currency" or (isinstance(value, float) and math.isnan(value)):
        return format_value(value, unit, currency, lang)
    value = float(value)
    if abs(value) < 10_000:
        return format_value(value, unit, currency, lang)
    from babel.numbers import format_compact_currency

    locale = "ja_JP" if lang == "ja" else "en_US"

    def compact(digits: int) -> str:
        return format_compact_currency(value, currency, locale=locale, fraction_digits=digits)

    # Babel picks the unit (万/億, K/M/B); keep about three significant digits.
    first = compact(0)
    whole = sum(ch.isdigit() for ch in first)
    text = compact(max(0, 3 - whole)).replace("￥", "¥")
    # 4,820万 as Japanese write it: group the whole part's digits.
    return re.sub(r"\d{4,}", lambda m: f"{int(m.group()):,}", text)
