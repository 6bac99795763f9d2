"""Reading numbers the way the dashboard writes them: ``¥3億``, ``¥2,940,000,000``,
``25%``, ``1.2万``, ``¥277M``, full-width digits (``３億``) included, and the
way people write amounts in Japanese: ``3,000万円``, ``5百万円``, ``3千万``.

The digits themselves are read by Babel (grouping separators, decimal point);
a currency symbol in front (or 円 behind) and one scale word or letter behind
are read here: 万 (10⁴), 百万 (10⁶), 千万 (10⁷), 億 (10⁸), 兆 (10¹²), K, M, B
(10³, 10⁶, 10⁹), ``%`` (÷ 100)."""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal

__all__ = ["input_text", "parse_number"]

_SCALES = {
    "百万": Decimal("1e6"),
    "千万": Decimal("1e7"),
    "万": Decimal("1e4"),
    "億": Decimal("1e8"),
    "兆": Decimal("1e12"),
    "k": Decimal("1e3"),
    "K": Decimal("1e3"),
    "M": Decimal("1e6"),
    "B": Decimal("1e9"),
    "%": Decimal("0.01"),
}
_SYMBOLS = ("R$", "CN¥", "¥", "$", "€", "£")
_CURRENCY_SYMBOL = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "BRL": "R$", "CNY": "CN¥"}


def parse_number(text: str) -> float:
    """``text`` as a number; :class:`ValueError` when it is not one.

    >>> parse_number("¥3億"), parse_number("25%"), parse_number("¥2,940,000,000")
    (300000000.0, 0.25, 2940000000.0)
    """
    from babel.numbers import NumberFormatError, parse_decimal

    raw = unicodedata.normalize("NFKC", text).strip().replace("_", "").replace(" ", "")
    sign = ""
    if raw[:1] in ("-", "−", "+"):
        sign, raw = ("-" if raw[0] != "+" else ""), raw[1:]
    for symbol in _SYMBOLS:
        if raw.startswith(symbol):
            raw = raw[len(symbol) :]
            break
    if raw.endswith("円") and len(raw) > 1:
        raw = raw[:-1]
    scale = Decimal(1)
    for word, factor in _SCALES.items():  # the two-character words first
        if raw.endswith(word):
            scale, raw = factor, raw[: -len(word)]
            break
    if not raw or raw[0] in "+-":
        raise ValueError(text)
    try:
        # Scaled in decimal, so ¥3億 is exactly 300,000,000 and 21.8% is 0.218.
        number = float(parse_decimal(sign + raw, locale="en", strict=True) * scale)
    except (NumberFormatError, ArithmeticError):
        raise ValueError(text) from None
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def input_text(value: float | None, unit: str | None, currency: str = "JPY") -> str:
    """``value`` as an input field shows it, the way pages write it and
    :func:`parse_number` reads it back exactly: ``¥2,940,000,000``, ``71.2%``,
    ``4,000``.

    >>> input_text(0.712, "ratio"), input_text(2.94e9, "currency")
    ('71.2%', '¥2,940,000,000')
    """
    if value is None:
        return ""
    if unit == "ratio":
        return f"{Decimal(repr(value)) * 100:f}".rstrip("0").rstrip(".") + "%"
    # repr is the shortest text that reads back as the same float.
    text = f"{int(value):,}" if float(value).is_integer() else format(Decimal(repr(value)), ",f")
    symbol = _CURRENCY_SYMBOL.get(currency) if unit == "currency" else None
    if symbol is None:
        return text
    return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
