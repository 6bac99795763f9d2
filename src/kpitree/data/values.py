"""Parsing cell text the way Japanese MA/SFA exports write it, as DuckDB SQL.

Every parser here returns a SQL *expression* over a column of raw text, so a whole
file is parsed in one vectorised query instead of a Python loop per cell. The
expression is NULL for a blank cell and for text that cannot be parsed; the caller
tells the two apart (raw text present, value NULL) and reports the parser's
``error`` code, a message key under ``data.reject.``.

Accepted forms (after full-width digits and punctuation are folded to ASCII):

- numbers: ``1234``, ``1,234,567``, ``¥1,234,567``, ``￥1,234,567``, ``1,234,567円``,
  ``$1,234.50``, ``-5``, ``△5`` / ``▲5`` and ``(5)`` (negative, as in Japanese and
  accounting sheets), ``1.5e3``;
- dates and timestamps: ``2026/01/07``, ``2026-01-07``, ``2026年1月7日``,
  ``2026/1/7 9:05``, ``2026-01-07 09:05:30.123``, ISO 8601 with ``T`` and a zone
  (``+09:00``, ``+0900``, ``Z``); Excel serial numbers (``46029`` = 2026-01-07) when
  the column or source says so; extra ``strptime`` formats per column.

A timestamp without a zone is read in the project time zone and stored in UTC.

Speed: most columns of a real export are written one way throughout. The caller
may detect that way on a sample (:data:`FAST_FORMATS`, checked against the general
parser) and pass it as ``fast``: those formats are tried first with a plain
``strptime``, and only the cells they do not parse pay for the general parser.
``strptime`` is strict (it never accepts text the general parser rejects, and a
format is only used when it gave the general parser's value on every sample cell),
so the result is the same, only cheaper.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "FAST_FORMATS",
    "MAX_EXACT",
    "ParsedExpr",
    "fast_instant",
    "parse_date",
    "parse_integer",
    "parse_number",
    "parse_text",
    "parse_timestamp",
    "sql_str",
]

# Full-width forms Japanese Excel and IME input produce, folded to ASCII before
# parsing numbers and dates. U+2212 (minus sign) and U+30FC are not folded on
# purpose: the first is handled as a minus below, the second is not a number.
_FULL = "０１２３４５６７８９／－：．，＋　（）＄￥Ｔ"
_HALF = "0123456789/-:.,+ ()$¥T"

# Built in are year-first forms only: day-first and month-first text is ambiguous
# (01/07/2026) and needs an explicit ``format`` in the mapping.

# Excel's day zero (1900 date system, including Lotus' leap-year bug, which is why
# it is 1899-12-30 and not 12-31).
_EXCEL_EPOCH = "TIMESTAMP '1899-12-30 00:00:00'"
_MAX_SERIAL = 2958465  # 9999-12-31


@dataclass(frozen=True, slots=True)
class ParsedExpr:
    """SQL for one parsed cell: ``value`` (typed, NULL when blank or unparseable) and
    the ``error`` code to report when the raw text is present but ``value`` is NULL."""

    value: str
    error: str
    currency: str | None = None
    """For money: SQL giving the ISO code of a currency mark in the cell, or NULL."""


def sql_str(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _fold(x: str) -> str:
    return f"translate({x}, {sql_str(_FULL)}, {sql_str(_HALF)})"


def parse_text(x: str) -> ParsedExpr:
    """Text is kept as written (trimmed; blank means NULL), never an error."""
    return ParsedExpr(x, "")


_NUMBER_RE = r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][-+]?\d+)?$"


def parse_number(x: str) -> ParsedExpr:
    """A DOUBLE from money or number text; see the module docstring for forms."""
    # Plain numbers take the fast path; coalesce evaluates the regular expressions
    # only for the rows still NULL.
    fast = f"CASE WHEN regexp_full_match({x}, '-?[0-9]+(\\.[0-9]+)?') THEN CAST({x} AS DOUBLE) END"
    b = _fold(x)
    b = f"regexp_replace({b}, '(?i)R\\$|US\\$|JPY|USD|EUR|BRL|[\\s¥$€£円]', '', 'g')"
    # △ / ▲ (Japanese accounting), U+2212 and "(5)" all mean a negative number.
    b = f"regexp_replace({b}, '^[△▲−]', '-')"
    b = f"regexp_replace({b}, '^\\((.*)\\)$', '-\\1')"
    slow = (
        f"CASE WHEN regexp_matches({b}, {sql_str(_NUMBER_RE)}) AND regexp_matches({b}, '\\d') "
        f"THEN TRY_CAST(replace({b}, ',', '') AS DOUBLE) END"
    )
    return ParsedExpr(f"coalesce({fast}, {slow})", "not_a_number", _currency_of(x))


def _currency_of(x: str) -> str:
    f = _fold(x)
    return (
        f"CASE WHEN regexp_full_match({x}, '[-0-9.,]*') THEN NULL "
        f"WHEN regexp_matches({f}, 'R\\$|BRL') THEN 'BRL' "
        f"WHEN regexp_matches({f}, '[¥円]|JPY') THEN 'JPY' "
        f"WHEN regexp_matches({f}, '€|EUR') THEN 'EUR' "
        f"WHEN regexp_matches({f}, '£|GBP') THEN 'GBP' "
        f"WHEN regexp_matches({f}, '\\$|USD') THEN 'USD' END"
    )


def parse_integer(x: str, sql_type: str = "BIGINT") -> ParsedExpr:
    """A whole number (``1,234`` and ``1234.0`` are fine, ``1.5`` is not)."""
    n = parse_number(x).value
    value = f"CASE WHEN ({n}) = floor({n}) THEN TRY_CAST({n} AS {sql_type}) END"
    return ParsedExpr(value, "not_an_integer")


# A time followed by a zone: "09:00Z", "09:00:00+09:00", "09:00:00.5-0300".
_ZONE_RE = "\\d:\\d\\d(:\\d\\d(\\.\\d+)?)?\\s*(Z|z|UTC|[+-](0\\d|1[0-4]):?[0-5]\\d)$"
# Any offset after a time, valid or not: a time with an offset outside
# -14:00..+14:00 (or minutes past 59) is not read as local time without it.
_ANY_OFFSET_RE = "\\d:\\d\\d(:\\d\\d(\\.\\d+)?)?\\s*[+-]\\d"
_VALID_OFFSET_RE = "[+-](0\\d|1[0-4]):?[0-5]\\d$"
MAX_EXACT = 2**53
"""Numbers beyond this magnitude are refused: a DOUBLE no longer holds every
whole number there (and infinity and NaN are not amounts)."""
# What DuckDB's own timestamp cast may see: digits and separators only. Letters are
# kept out because the cast ignores a trailing "PM" instead of failing.
_PLAIN_RE = "[0-9/: .T-]+"


def _from_iso(t: str, tz: str) -> str:
    """``t`` (ISO-like text, ``-`` between date parts) as a UTC instant."""
    return (
        f"CASE WHEN regexp_matches({t}, '{_ZONE_RE}') THEN TRY_CAST({t} AS TIMESTAMPTZ) "
        f"WHEN regexp_full_match({t}, '{_PLAIN_RE}') AND NOT regexp_matches({t}, "
        f"'{_ANY_OFFSET_RE}') THEN timezone({sql_str(tz)}, TRY_CAST({t} AS TIMESTAMP)) END"
    )


_BREAKS = "\t\n\r\v\f"

# Candidates for the fast path: how exports commonly write an instant. A trailing
# "Z" means UTC; "%z" reads an offset (+09:00, +0900); the others are local time.
FAST_FORMATS = (
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
)


def fast_instant(x: str, tz: str, fmt: str, parsed: str | None = None) -> str:
    """SQL for the UTC instant of ``x`` read strictly with one ``strptime`` format
    (NULL when the text is not written that way). ``parsed``: a column holding
    ``fast_strptime(x, fmt)`` already (the expression below reads it up to three
    times, and each time would parse again)."""
    parsed = parsed or fast_strptime(x, fmt)
    if "%z" in fmt:  # already an instant; strptime takes any offset, up to +99:99
        return f"CASE WHEN regexp_matches({x}, '{_VALID_OFFSET_RE}') THEN {parsed} END"
    zone = "UTC" if fmt.endswith("Z") else tz
    fixed = fixed_offset(zone)
    if fixed is None:
        return f"timezone({sql_str(zone)}, {parsed})"
    # While the zone keeps one offset (Asia/Tokyo: since 1951), local time minus
    # the offset is the instant: plain arithmetic instead of a time zone lookup.
    offset, since, until = fixed
    return (
        f"CASE WHEN {parsed} >= TIMESTAMP '{since}' AND {parsed} < TIMESTAMP '{until}' "
        f"THEN make_timestamptz(epoch_us({parsed}) - {offset * 1_000_000}) "
        f"ELSE timezone({sql_str(zone)}, {parsed}) END"
    )


def fast_strptime(x: str, fmt: str) -> str:
    """SQL for the local time of ``x`` read with ``strptime`` format ``fmt``, or NULL."""
    return f"try_strptime({x}, {sql_str(fmt)})"


_FIXED_UNTIL = datetime(2100, 1, 1)


@functools.lru_cache(maxsize=32)
def fixed_offset(tz: str) -> tuple[int, str, str] | None:
    """``(offset seconds, since, until)`` when zone ``tz`` keeps one UTC offset
    for all local times from ``since`` to ``until`` (local, ISO text), a period
    that ends in the year 2100 and starts in 2050 or earlier (at most back to
    1970); else ``None``, e.g. for a zone with daylight saving time.

    The zone is sampled every week back from 2100; offsets change far less often
    than that, and a day is kept as a margin after the last change."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    week = timedelta(days=7)
    at = _FIXED_UNTIL.replace(tzinfo=UTC)
    offset = at.astimezone(zone).utcoffset()
    earliest = datetime(1970, 1, 1, tzinfo=UTC)
    while at - week >= earliest and (at - week).astimezone(zone).utcoffset() == offset:
        at -= week
    if at - week >= earliest:  # the offset changed in the week before: to the day
        while (at - timedelta(days=1)).astimezone(zone).utcoffset() == offset:
            at -= timedelta(days=1)
        at += timedelta(days=1)
    if offset is None or at > datetime(2050, 1, 1, tzinfo=UTC):
        return None
    since = (at + offset).replace(tzinfo=None)
    until = (_FIXED_UNTIL + offset).replace(tzinfo=None)
    return int(offset.total_seconds()), since.isoformat(sep=" "), until.isoformat(sep=" ")


def _instant(
    x: str,
    tz: str,
    formats: Sequence[str],
    excel_serial: bool,
    fast: Sequence[str] = (),
    fast_x: str | None = None,
    first_parsed: str | None = None,
) -> str:
    """SQL for the UTC instant (TIMESTAMPTZ) the text stands for, or NULL.
    ``first_parsed``: the column holding the first fast format's local time."""
    # Fast formats never parse a bare number, so they can go before Excel serials.
    # strptime skips surrounding spaces, so they may read the untrimmed text.
    parts = [
        fast_instant(fast_x or x, tz, f, first_parsed if i == 0 else None)
        for i, f in enumerate(fast)
    ]
    # Tabs and line breaks count as spaces, as they do for strptime.
    x = f"trim(translate({x}, {sql_str(_BREAKS)}, {sql_str(' ' * len(_BREAKS))}))"
    if excel_serial:
        parts.append(
            f"CASE WHEN regexp_full_match({x}, '[0-9]+(\\.[0-9]+)?') "
            f"AND CAST({x} AS DOUBLE) BETWEEN 1 AND {_MAX_SERIAL} THEN timezone({sql_str(tz)}, "
            f"{_EXCEL_EPOCH} + to_microseconds(CAST(round(CAST({x} AS DOUBLE) "
            f"* 86400000000) AS BIGINT))) END"
        )
    parts.extend(
        f"timezone({sql_str(tz)}, try_strptime({_fold(x)}, {sql_str(f)}))" for f in formats
    )
    # The common case (ISO or 2026/01/07 text) is a plain cast; only the rows still
    # NULL pay for folding full-width text and 年月日 (coalesce is lazy).
    parts.append(_from_iso(f"replace({x}, '/', '-')", tz))
    norm = f"regexp_replace({_fold(x)}, '\\s*(年|月|/)\\s*', '-', 'g')"
    norm = f"trim(regexp_replace({norm}, '\\s*日', ''))"
    parts.append(_from_iso(norm, tz))
    return "coalesce(" + ", ".join(parts) + ")"


def parse_timestamp(
    x: str,
    tz: str,
    formats: Sequence[str] = (),
    *,
    excel_serial: bool = False,
    fast: Sequence[str] = (),
    fast_x: str | None = None,
    first_parsed: str | None = None,
) -> ParsedExpr:
    """A TIMESTAMPTZ (UTC instant). Text without a zone is local time in ``tz``.
    ``fast``: formats from :data:`FAST_FORMATS` to try first (see the module doc),
    on ``fast_x`` (the same text, possibly untrimmed) if given."""
    return ParsedExpr(
        _instant(x, tz, formats, excel_serial, fast, fast_x, first_parsed), "not_a_timestamp"
    )


def parse_date(
    x: str,
    tz: str,
    formats: Sequence[str] = (),
    *,
    excel_serial: bool = False,
    fast: Sequence[str] = (),
    fast_x: str | None = None,
    first_parsed: str | None = None,
) -> ParsedExpr:
    """A calendar DATE: the date of the instant in ``tz`` (so ``2026-01-07`` and
    ``2026-01-07T00:00:00+09:00`` are both 2026-01-07 in Asia/Tokyo)."""
    instant = _instant(x, tz, formats, excel_serial, fast, fast_x, first_parsed)
    value = f"CAST(timezone({sql_str(tz)}, {instant}) AS DATE)"
    return ParsedExpr(value, "not_a_date")
