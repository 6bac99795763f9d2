"""The formula language of node decompositions (四則演算).

Grammar (lowest to highest precedence)::

    expr    := term (('+' | '-') term)*
    term    := unary (('*' | '/') unary)*
    unary   := ('-' | '+') unary | atom
    atom    := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')'

``NAME`` is a node id (any Unicode identifier, so ``売上`` works); the only
functions are :data:`FUNCTIONS`. ``×``, ``÷`` and full-width operators and
parentheses are accepted as typed by Japanese IMEs. Formulas are parsed into an
immutable AST carrying character offsets; they are never evaluated as Python code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_OPERATORS",
    "BinOp",
    "Call",
    "Expr",
    "FormulaSyntaxError",
    "Neg",
    "Num",
    "Ref",
    "format_expr",
    "parse",
    "refs",
]

FUNCTIONS: dict[str, tuple[int, int | None]] = {
    # name: (minimum arguments, maximum arguments or None for any number)
    "min": (2, None),
    "max": (2, None),
    "abs": (1, 1),
}

# Limits that keep every walk over a formula (checks, planning, display) well
# inside Python's recursion budget; real decompositions use a handful of each.
MAX_DEPTH = 50  # parentheses, function calls and signs nested in one another
MAX_OPERATORS = 200  # + - * / and function calls in one formula

_Pos = tuple[int, int]  # (start, end) character offsets into the formula text


@dataclass(frozen=True, slots=True)
class Num:
    """A number written in a formula."""

    value: float
    pos: _Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Ref:
    """A node (or metric) named in a formula."""

    name: str
    pos: _Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Neg:
    """A negated operand: ``-x``."""

    operand: Expr
    pos: _Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class BinOp:
    """Two operands and an arithmetic operator between them."""

    op: str  # one of + - * /
    left: Expr
    right: Expr
    pos: _Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A function applied to arguments: ``min(a, b)``."""

    func: str
    args: tuple[Expr, ...]
    pos: _Pos = field(default=(0, 0), compare=False)


Expr = Num | Ref | Neg | BinOp | Call


class FormulaSyntaxError(ValueError):
    """A formula that does not parse. ``key``/``params`` name the catalog message;
    ``start``/``end`` are offsets into the formula text."""

    def __init__(
        self, key: str, start: int, end: int, code: str = "KT020", **params: object
    ) -> None:
        super().__init__(f"{key} at {start}: {params}")
        self.code = code
        self.key = key
        self.start = start
        self.end = max(end, start + 1)
        self.params = params


_TRANSLATE = str.maketrans(
    {"×": "*", "÷": "/", "＊": "*", "／": "/", "＋": "+", "－": "-", "−": "-",
     "（": "(", "）": ")", "，": ",", "　": " "}
)  # fmt: skip
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[^\W\d]\w*)"
    r"|(?P<op>[-+*/(),])"
)


@dataclass(frozen=True, slots=True)
class _Token:
    """A piece of formula text as the parser reads it."""

    kind: str  # num, name, op, end
    text: str
    start: int
    end: int


def _tokens(text: str) -> Iterator[_Token]:
    normal = text.translate(_TRANSLATE)
    pos = 0
    while pos < len(normal):
        m = _TOKEN.match(normal, pos)
        if m is None:
            raise FormulaSyntaxError("formula.bad_char", pos, pos + 1, char=text[pos])
        kind = m.lastgroup or ""
        if kind != "ws":
            yield _Token(kind, m.group(), m.start(), m.end())
        pos = m.end()
    yield _Token("end", "", len(text), len(text))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = list(_tokens(text))
        self.i = 0
        self.depth = 0
        self.operators = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Token:
        if self.tok.text != text:
            self.unexpected(expected=text)
        return self.take()

    def operator(self, tok: _Token | None = None) -> _Token:
        """Take an operator token (or count the function ``tok``) against
        :data:`MAX_OPERATORS`."""
        tok = tok or self.take()
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise FormulaSyntaxError(
                "formula.too_long", tok.start, tok.end, code="KT040", limit=MAX_OPERATORS
            )
        return tok

    def nested(self, tok: _Token) -> None:
        """Enter a parenthesis, call or sign, counting it against :data:`MAX_DEPTH`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaSyntaxError(
                "formula.too_deep", tok.start, tok.end, code="KT040", limit=MAX_DEPTH
            )

    def unexpected(self, expected: str = "") -> None:
        tok = self.tok
        if tok.kind == "end":
            raise FormulaSyntaxError("formula.unexpected_end", tok.start, tok.start + 1)
        raise FormulaSyntaxError(
            "formula.unexpected", tok.start, tok.end, token=tok.text, expected=expected
        )

    def expr(self) -> Expr:
        left = self.term()
        while self.tok.text in ("+", "-"):
            op = self.operator().text
            right = self.term()
            left = BinOp(op, left, right, (left.pos[0], right.pos[1]))
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.tok.text in ("*", "/"):
            op = self.operator().text
            right = self.unary()
            left = BinOp(op, left, right, (left.pos[0], right.pos[1]))
        return left

    def unary(self) -> Expr:
        if self.tok.text in ("-", "+"):
            sign = self.take()
            self.nested(sign)
            operand = self.unary()
            self.depth -= 1
            if sign.text == "+":
                return operand
            return Neg(operand, (sign.start, operand.pos[1]))
        return self.atom()

    def atom(self) -> Expr:
        tok = self.tok
        if tok.kind == "num":
            self.take()
            return Num(float(tok.text.replace("_", "")), (tok.start, tok.end))
        if tok.kind == "name":
            self.take()
            if self.tok.text != "(":
                return Ref(tok.text, (tok.start, tok.end))
            if tok.text not in FUNCTIONS:
                raise FormulaSyntaxError(
                    "formula.unknown_function",
                    tok.start,
                    tok.end,
                    name=tok.text,
                    functions=", ".join(FUNCTIONS),
                )
            self.take()
            self.operator(tok)
            self.nested(tok)
            args = [self.expr()]
            while self.tok.text == ",":
                self.take()
                args.append(self.expr())
            close = self.expect(")")
            self.depth -= 1
            low, high = FUNCTIONS[tok.text]
            if len(args) < low or (high is not None and len(args) > high):
                raise FormulaSyntaxError(
                    "formula.arity", tok.start, close.end, name=tok.text, count=len(args)
                )
            return Call(tok.text, tuple(args), (tok.start, close.end))
        if tok.text == "(":
            self.nested(self.take())
            inner = self.expr()
            self.expect(")")
            self.depth -= 1
            return inner
        self.unexpected()
        raise AssertionError("unreachable")  # pragma: no cover


def parse(text: str) -> Expr:
    """Parse a formula into its AST.

    >>> format_expr(parse("won_deals × avg_deal_size"))
    'won_deals * avg_deal_size'
    """
    if not text.strip():
        raise FormulaSyntaxError("formula.empty", 0, 1)
    parser = _Parser(text)
    result = parser.expr()
    if parser.tok.kind != "end":
        parser.unexpected()
    return result


def refs(expr: Expr) -> list[Ref]:
    """Every node reference in ``expr``, in source order (repeats included)."""
    found: list[Ref] = []

    def walk(e: Expr) -> None:
        match e:
            case Ref():
                found.append(e)
            case Neg(operand=o):
                walk(o)
            case BinOp(left=a, right=b):
                walk(a)
                walk(b)
            case Call(args=args):
                for arg in args:
                    walk(arg)

    walk(expr)
    return found


_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}
_UNARY_PREC = 3


def _prec(e: Expr) -> int:
    if isinstance(e, BinOp):
        return _PREC[e.op]
    if isinstance(e, Neg):
        return _UNARY_PREC
    return 4


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def format_expr(expr: Expr) -> str:
    """Canonical text of ``expr`` with the fewest parentheses that parse back to
    the same tree (``parse(format_expr(e)) == e``)."""
    match expr:
        case Num(value=v):
            return _number(v)
        case Ref(name=n):
            return n
        case Neg(operand=o):
            inner = format_expr(o)
            return f"-({inner})" if _prec(o) < _UNARY_PREC else f"-{inner}"
        case BinOp(op=op, left=a, right=b):
            left = format_expr(a)
            right = format_expr(b)
            if _prec(a) < _PREC[op]:
                left = f"({left})"
            if _prec(b) <= _PREC[op]:
                right = f"({right})"
            return f"{left} {op} {right}"
        case Call(func=f, args=args):
            return f"{f}({', '.join(format_expr(a) for a in args)})"
    raise TypeError(expr)  # pragma: no cover
