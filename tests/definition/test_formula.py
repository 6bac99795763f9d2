"""The formula language: grammar, positions, errors and the print/parse round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitree.definition.formula import (
    FUNCTIONS,
    BinOp,
    Call,
    Expr,
    FormulaSyntaxError,
    Neg,
    Num,
    Ref,
    format_expr,
    parse,
    refs,
)

a, b, c = Ref("a"), Ref("b"), Ref("c")


def test_product_of_two_nodes() -> None:
    expr = parse("won_deals * avg_deal_size")
    assert expr == BinOp("*", Ref("won_deals"), Ref("avg_deal_size"))
    assert expr.pos == (0, 25)
    assert isinstance(expr, BinOp)
    assert expr.right.pos == (12, 25)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + b * c", BinOp("+", a, BinOp("*", b, c))),
        ("a * b + c", BinOp("+", BinOp("*", a, b), c)),
        ("(a + b) * c", BinOp("*", BinOp("+", a, b), c)),
        ("a - b - c", BinOp("-", BinOp("-", a, b), c)),
        ("a / b / c", BinOp("/", BinOp("/", a, b), c)),
        ("a / (b * c)", BinOp("/", a, BinOp("*", b, c))),
        ("a - b + c", BinOp("+", BinOp("-", a, b), c)),
    ],
)
def test_precedence_and_associativity(text: str, expected: Expr) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-a", Neg(a)),
        ("--a", Neg(Neg(a))),
        ("+a", a),
        ("-a * b", BinOp("*", Neg(a), b)),
        ("a * -b", BinOp("*", a, Neg(b))),
        ("a - -b", BinOp("-", a, Neg(b))),
        ("-(a + b)", Neg(BinOp("+", a, b))),
        ("-2", Neg(Num(2))),
    ],
)
def test_unary_minus_binds_tighter_than_products(text: str, expected: Expr) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12.0), ("0.25", 0.25), (".5", 0.5), ("3_000_000", 3_000_000.0), ("1.5e6", 1.5e6)],
)
def test_numbers(text: str, value: float) -> None:
    assert parse(text) == Num(value)


def test_functions() -> None:
    assert parse("min(a, b, c)") == Call("min", (a, b, c))
    assert parse("max(a, 0)") == Call("max", (a, Num(0)))
    assert parse("abs(a - b)") == Call("abs", (BinOp("-", a, b),))
    assert parse("max(a, b)").pos == (0, 9)


def test_a_node_may_be_called_like_a_function_name() -> None:
    assert parse("min * 2") == BinOp("*", Ref("min"), Num(2))


@pytest.mark.parametrize(("text", "count"), [("min(a)", 1), ("max(a)", 1), ("abs(a, b)", 2)])
def test_function_arity(text: str, count: int) -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        parse(text)
    assert caught.value.key == "formula.arity"
    assert caught.value.params["count"] == count
    assert (caught.value.start, caught.value.end) == (0, len(text))


def test_japanese_ids() -> None:
    expr = parse("受注件数 * 平均受注単価")
    assert expr == BinOp("*", Ref("受注件数"), Ref("平均受注単価"))
    assert [r.pos for r in refs(expr)] == [(0, 4), (7, 13)]


@pytest.mark.parametrize(
    "text",
    ["受注件数 × 平均受注単価", "受注件数＊平均受注単価", "受注件数 * 平均受注単価"],
)
def test_multiplication_as_typed_by_an_ime(text: str) -> None:
    assert parse(text) == BinOp("*", Ref("受注件数"), Ref("平均受注単価"))


def test_full_width_operators_and_parentheses() -> None:
    assert parse("（a＋b）÷c") == BinOp("/", BinOp("+", a, b), c)
    assert parse("a／b－c") == BinOp("-", BinOp("/", a, b), c)
    assert parse("a − b") == BinOp("-", a, b)  # U+2212 MINUS SIGN
    assert parse("min（a，b）") == Call("min", (a, b))
    assert parse("a\u3000*\u3000b") == BinOp("*", a, b)  # ideographic space


def test_positions_refer_to_the_original_text() -> None:
    expr = parse("（売上＋b）×c")
    assert [r.pos for r in refs(expr)] == [(1, 3), (4, 5), (7, 8)]


def test_refs_in_source_order_with_repeats() -> None:
    assert [r.name for r in refs(parse("max(a, b) * a + -c"))] == ["a", "b", "a", "c"]


@pytest.mark.parametrize(
    ("text", "key", "start", "end", "params"),
    [
        ("", "formula.empty", 0, 1, {}),
        ("   ", "formula.empty", 0, 1, {}),
        ("a $ b", "formula.bad_char", 2, 3, {"char": "$"}),
        ("a ＄ b", "formula.bad_char", 2, 3, {"char": "＄"}),
        ("a +", "formula.unexpected_end", 3, 4, {}),
        ("(a + b", "formula.unexpected_end", 6, 7, {}),
        ("max(a, b", "formula.unexpected_end", 8, 9, {}),
        ("a b", "formula.unexpected", 2, 3, {"token": "b", "expected": ""}),
        ("a)", "formula.unexpected", 1, 2, {"token": ")", "expected": ""}),
        ("* a", "formula.unexpected", 0, 1, {"token": "*", "expected": ""}),
        ("min(a,)", "formula.unexpected", 6, 7, {"token": ")", "expected": ""}),
        ("min()", "formula.unexpected", 4, 5, {"token": ")", "expected": ""}),
        ("3deals", "formula.unexpected", 1, 6, {"token": "deals", "expected": ""}),
        (
            "sqrt(a)",
            "formula.unknown_function",
            0,
            4,
            {"name": "sqrt", "functions": "min, max, abs"},
        ),
        ("abs(a, b)", "formula.arity", 0, 9, {"name": "abs", "count": 2}),
    ],
)
def test_syntax_errors_with_offsets(
    text: str, key: str, start: int, end: int, params: dict[str, object]
) -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        parse(text)
    error = caught.value
    assert (error.key, error.start, error.end, error.params) == (key, start, end, params)


def test_format_uses_the_fewest_parentheses() -> None:
    assert format_expr(parse("((a + b)) * (c)")) == "(a + b) * c"
    assert format_expr(parse("a - (b - c)")) == "a - (b - c)"
    assert format_expr(parse("(a - b) - c")) == "a - b - c"
    assert format_expr(parse("a × 1_000")) == "a * 1000"
    assert format_expr(parse("-(a)")) == "-a"
    assert format_expr(parse("-(a * b)")) == "-(a * b)"


# --- round trip ---------------------------------------------------------------------

_ascii_ids = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_japanese_ids = st.text(
    alphabet=st.sampled_from("売上受注件数平均単価商談化率リードマーケティングあいうえお"),
    min_size=1,
    max_size=6,
)
_mixed_ids = st.builds(lambda x, y: x + y, _japanese_ids, _ascii_ids)
identifiers = st.one_of(_ascii_ids, _japanese_ids, _mixed_ids)
numbers = st.one_of(
    st.integers(min_value=0, max_value=10**20).map(float),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
)
leaves = st.one_of(st.builds(Num, numbers), st.builds(Ref, identifiers))


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(Neg, children),
        st.builds(BinOp, st.sampled_from("+-*/"), children, children),
        st.builds(Call, st.just("abs"), st.tuples(children)),
        st.builds(
            Call,
            st.sampled_from(["min", "max"]),
            st.lists(children, min_size=2, max_size=4).map(tuple),
        ),
    )


expressions = st.recursive(leaves, _extend, max_leaves=25)


@given(expressions)
def test_format_then_parse_gives_the_same_tree(expr: Expr) -> None:
    assert parse(format_expr(expr)) == expr


@given(expressions)
def test_formatting_is_stable(expr: Expr) -> None:
    text = format_expr(expr)
    assert format_expr(parse(text)) == text


def test_every_function_is_in_the_round_trip_strategy() -> None:
    # A new function needs a branch in ``_extend`` above.
    assert FUNCTIONS == {"min": (2, None), "max": (2, None), "abs": (1, 1)}
