"""The part of kintone's query language (クエリの書き方, cybozu.dev) the fake
kintone understands: conditions on fields joined by ``and`` / ``or`` with
parentheses, ``order by <field> asc|desc, ...``, ``limit`` and ``offset``.

Operators: ``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=``, ``in (...)``,
``not in (...)``. Values are quoted strings (``"..."`` with ``\\"``) or bare
numbers. A field the app does not have is :class:`UnknownField` (kintone's
GAIA_IQ11); anything else the fake cannot read is :class:`BadQuery`.
Comparisons follow the field's type: numbers as numbers (``$id``, record
number, NUMBER, CALC), instants as instants (CREATED_TIME, UPDATED_TIME,
DATETIME; ``2012-02-03T09:00:00+0900`` or ``...Z``), everything else as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["BadQuery", "Query", "UnknownField", "parse_query"]

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|>=|<=|=|>|<|\(|\)|,)|(?P<word>[^\s()=!<>,"]+))'
)
NUMERIC = {"__ID__", "RECORD_NUMBER", "NUMBER", "CALC", "__REVISION__"}
INSTANT = {"CREATED_TIME", "UPDATED_TIME", "DATETIME"}


class BadQuery(ValueError):
    pass


class UnknownField(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Query:
    where: Predicate = field(default=lambda record: True)
    order: list[tuple[str, bool]] = field(default_factory=list)
    """(field code, descending)."""
    limit: int | None = None
    offset: int | None = None


def comparable(kind: str, value: Any) -> Any:
    """A field's value (or a query's literal for that field) as compared."""
    if value in (None, ""):
        return None
    if kind in NUMERIC:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise BadQuery(f"not a number: {value}") from None
    if kind in INSTANT:
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise BadQuery(f"not a date and time: {value}") from None
    if isinstance(value, dict):
        return value.get("code") or value.get("name")
    return str(value)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise BadQuery(text[pos:])
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text: str, types: dict[str, str]) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.types = types

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() in words

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise BadQuery("unexpected end")
        self.pos += 1
        return token

    def field_code(self) -> str:
        kind, code = self.take()
        if kind != "word":
            raise BadQuery(code)
        if code not in self.types:
            raise UnknownField(code)
        return code

    def literal(self) -> str:
        kind, value = self.take()
        if kind == "op":
            raise BadQuery(value)
        return value

    def parse(self) -> Query:
        query = Query()
        if self.peek() is not None and not self.word("order", "limit", "offset"):
            query.where = self.expression()
        while self.peek() is not None:
            if self.word("order") and self.peek(1) == ("word", "by"):
                self.pos += 2
                while True:
                    code = self.field_code()
                    descending = False
                    if self.word("asc", "desc"):
                        descending = self.take()[1].lower() == "desc"
                    query.order.append((code, descending))
                    if self.peek() != ("op", ","):
                        break
                    self.pos += 1
            elif self.word("limit"):
                self.pos += 1
                query.limit = self.integer()
            elif self.word("offset"):
                self.pos += 1
                query.offset = self.integer()
            else:
                raise BadQuery(self.take()[1])
        return query

    def integer(self) -> int:
        value = self.literal()
        if not value.isdigit():
            raise BadQuery(value)
        return int(value)

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while self.word("or"):
            self.pos += 1
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda r: any(t(r) for t in terms))

    def conjunction(self) -> Predicate:
        terms = [self.condition()]
        while self.word("and"):
            self.pos += 1
            terms.append(self.condition())
        return terms[0] if len(terms) == 1 else (lambda r: all(t(r) for t in terms))

    def condition(self) -> Predicate:
        if self.peek() == ("op", "("):
            self.pos += 1
            inner = self.expression()
            if self.take() != ("op", ")"):
                raise BadQuery("missing )")
            return inner
        code = self.field_code()
        kind = self.types[code]
        negate = False
        if self.word("not"):
            self.pos += 1
            negate = True
        if self.word("in"):
            self.pos += 1
            if self.take() != ("op", "("):
                raise BadQuery("in without (")
            options = [comparable(kind, self.literal())]
            while self.peek() == ("op", ","):
                self.pos += 1
                options.append(comparable(kind, self.literal()))
            if self.take() != ("op", ")"):
                raise BadQuery("missing )")
            return lambda r: (_values(r, code, kind) & set(options) != set()) != negate
        if negate:
            raise BadQuery("not without in")
        op_kind, op = self.take()
        if op_kind != "op" or op not in ("=", "!=", ">", "<", ">=", "<="):
            raise BadQuery(op)
        wanted = comparable(kind, self.literal())
        return lambda r: _compare(_values(r, code, kind), op, wanted)


def _values(record: dict[str, Any], code: str, kind: str) -> set[Any]:
    value = record[code]["value"]
    items = value if isinstance(value, list) else [value]
    return {comparable(kind, v) for v in items}


def _compare(values: set[Any], op: str, wanted: Any) -> bool:
    if op == "=":
        return wanted in values
    if op == "!=":
        return wanted not in values
    present = [v for v in values if v is not None]
    if wanted is None or not present:
        return False
    v = present[0]
    return {">": v > wanted, "<": v < wanted, ">=": v >= wanted, "<=": v <= wanted}[op]


def parse_query(text: str, types: dict[str, str]) -> Query:
    """``text`` read against an app whose fields are ``types`` (code -> type)."""
    return _Parser(text, types).parse()
