"""The part of SOQL the fake Salesforce understands, with Salesforce's error codes.

Enough for what a client sends: ``SELECT fields FROM Object [WHERE a op v [AND ...]]
[GROUP BY ...] [ORDER BY f [ASC|DESC], ...] [LIMIT n]``, comparison on datetimes
(``2025-01-01T00:00:00Z``, no quotes), dates, strings, booleans, numbers and
``null``, ``IN ('a', 'b')``, and the aggregate ``COUNT(Id)``, alone or grouped by
``CALENDAR_YEAR(f)``, ``CALENDAR_MONTH(f)``, ``DAY_IN_MONTH(f)``, ``HOUR_IN_DAY(f)``
(in UTC, as Salesforce computes them without ``convertTimezone``). Anything else
is ``MALFORMED_QUERY``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+GROUP\s+BY\s+(?P<group>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(r"^(\w+)\s*(>=|<=|!=|=|>|<)\s*(.+)$|^(\w+)\s+IN\s*\((.+)\)$", re.I)
_FUNCTION = re.compile(
    r"^(COUNT|CALENDAR_YEAR|CALENDAR_MONTH|DAY_IN_MONTH|HOUR_IN_DAY)\((\w*)\)$", re.I
)
_PARTS = {
    "CALENDAR_YEAR": lambda v: v.year,
    "CALENDAR_MONTH": lambda v: v.month,
    "DAY_IN_MONTH": lambda v: v.day,
    "HOUR_IN_DAY": lambda v: v.hour,
}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Query:
    sobject: str
    select: list[str]
    where: list[Callable[[dict[str, Any]], bool]]
    group: list[str]
    order: list[tuple[str, bool]]
    limit: int | None

    @property
    def aggregate(self) -> bool:
        return any(_FUNCTION.match(item) for item in self.select)


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("\\'", "'")
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if _DATETIME.match(text):
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if _DATE.match(text):
        return dt.date.fromisoformat(text)
    try:
        return float(text)
    except ValueError:
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text}'") from None


def _no_column(field: str, sobject: str) -> SoqlError:
    return SoqlError(
        "INVALID_FIELD",
        f"No such column '{field}' on entity '{sobject}'. If you are attempting to use a "
        "custom field, be sure to append the '__c' after the custom field name. Please "
        "reference your WSDL or the describe call for the appropriate names.",
    )


def parse(soql: str, fields_of: Callable[[str], set[str] | None]) -> Query:
    """Parse ``soql``; ``fields_of(sobject)`` gives the fields the user may see, or
    ``None`` when the object is unknown or not accessible."""
    match = _QUERY.match(soql)
    if not match:
        raise SoqlError("MALFORMED_QUERY", "unexpected token: query is not SELECT ... FROM ...")
    sobject = match["sobject"]
    visible = fields_of(sobject)
    if visible is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"sObject type '{sobject}' is not supported. If you are attempting to use a custom "
            "object, be sure to append the '__c' after the entity name. Please reference your "
            "WSDL or the describe call for the appropriate names.",
        )

    def check(field: str) -> str:
        if field not in visible:
            raise _no_column(field, sobject)
        return field

    select = [item.strip() for item in match["select"].split(",")]
    for item in select:
        function = _FUNCTION.match(item)
        if function:
            if function[2]:
                check(function[2])
        else:
            check(item)
    where = [_condition(part, check) for part in _split_and(match["where"] or "")]
    group = [item.strip() for item in (match["group"] or "").split(",") if item.strip()]
    order = []
    for item in (match["order"] or "").split(","):
        words = item.split()
        if words:
            order.append((check(words[0]), len(words) > 1 and words[1].upper() == "DESC"))
    limit = int(match["limit"]) if match["limit"] else None
    query = Query(sobject, select, where, group, order, limit)
    if query.aggregate:
        plain = [s for s in select if not _FUNCTION.match(s)]
        grouped = {g.lower() for g in group}
        missing = [
            s for s in select if not s.upper().startswith("COUNT") and s.lower() not in grouped
        ]
        if plain or missing:
            raise SoqlError(
                "MALFORMED_QUERY",
                f"field '{(plain + missing)[0]}' can not be grouped in a query call",
            )
    return query


def _split_and(where: str) -> list[str]:
    return [part for part in re.split(r"\s+AND\s+", where.strip(), flags=re.I) if part]


def _condition(text: str, check: Callable[[str], str]) -> Callable[[dict[str, Any]], bool]:
    match = _CONDITION.match(text.strip())
    if not match:
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text.strip()}'")
    if match[4]:
        name = check(match[4])
        values = {_literal(v) for v in match[5].split(",")}
        return lambda r: r.get(name) in values
    name, op, value = check(match[1]), match[2], _literal(match[3])

    def test(record: dict[str, Any]) -> bool:
        have = record.get(name)
        if op == "=":
            return bool(have == value)
        if op == "!=":
            return bool(have != value)
        if have is None or value is None:
            return False
        return {">": have > value, ">=": have >= value, "<": have < value, "<=": have <= value}[op]

    return test


def run(query: Query, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the query (records chosen, ordered and cut; or aggregate rows)."""
    rows = [r for r in records if all(test(r) for test in query.where)]
    if query.aggregate:
        return _aggregate(query, rows)
    for name, descending in reversed(query.order):
        rows.sort(key=lambda r: (r[name] is None, r[name] if r[name] is not None else 0),
                  reverse=descending)  # fmt: skip
    if query.limit is not None:
        rows = rows[: query.limit]
    return [{name: r[name] for name in query.select} for r in rows]


def _aggregate(query: Query, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key_part(item: str, record: dict[str, Any]) -> Any:
        function = _FUNCTION.match(item)
        assert function is not None
        value = record[function[2]]
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC)
        return _PARTS[function[1].upper()](value)

    keys = [s for s in query.select if not s.upper().startswith("COUNT")]
    groups: dict[tuple[Any, ...], int] = {}
    for record in rows:
        key = tuple(key_part(item, record) for item in keys)
        groups[key] = groups.get(key, 0) + 1
    out = []
    for key, count in sorted(groups.items(), key=lambda kv: tuple(v or 0 for v in kv[0])):
        row: dict[str, Any] = {}
        values = iter(key)
        for n, item in enumerate(query.select):
            row[f"expr{n}"] = count if item.upper().startswith("COUNT") else next(values)
        out.append(row)
    return out
