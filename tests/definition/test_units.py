"""The unit algebra formulas must respect."""

from __future__ import annotations

import pytest

from kpitree.definition.units import UNIT_NAMES, Unit, UnitMismatch, unit

count, currency, ratio, number = unit("count"), unit("currency"), unit("ratio"), unit("number")
days, score = unit("days"), unit("score")


def test_every_unit_name_is_known() -> None:
    assert [str(unit(name)) for name in UNIT_NAMES] == list(UNIT_NAMES)
    with pytest.raises(ValueError, match="unknown unit 'yen'"):
        unit("yen")


def test_count_times_currency_is_currency() -> None:
    assert count.mul(currency) == currency  # won deals × average deal size = revenue
    assert currency.mul(count) == currency


def test_currency_over_count_is_currency() -> None:
    assert currency.div(count) == currency  # revenue ÷ deals = average deal size


def test_count_over_count_is_ratio() -> None:
    assert count.div(count) == ratio  # won ÷ opportunities = win rate


def test_count_over_ratio_is_count() -> None:
    assert count.div(ratio) == count  # opportunities ÷ win rate = SQLs needed


def test_count_times_ratio_is_count() -> None:
    assert count.mul(ratio) == count  # SQLs × opportunity rate = opportunities
    assert ratio.mul(count) == count


def test_ratio_times_ratio_is_ratio() -> None:
    assert ratio.mul(ratio) == ratio
    assert ratio.div(ratio) == ratio


def test_currency_over_currency_is_ratio() -> None:
    assert currency.div(currency) == ratio  # spend ÷ revenue


def test_currency_times_currency_is_a_squared_unit() -> None:
    assert str(currency.mul(currency)) == "currency^2"
    assert currency.mul(currency).div(currency) == currency


def test_currency_over_days() -> None:
    assert str(currency.div(days)) == "currency·days^-1"
    assert currency.div(days).mul(days) == currency


@pytest.mark.parametrize("op", ["+", "-"])
def test_count_plus_currency_is_a_mismatch(op: str) -> None:
    with pytest.raises(UnitMismatch) as caught:
        count.add(currency, op)
    assert (caught.value.op, caught.value.left, caught.value.right) == (op, count, currency)
    assert str(caught.value) == f"count {op} currency"


def test_count_plus_ratio_is_a_mismatch() -> None:
    with pytest.raises(UnitMismatch):
        count.add(ratio)


def test_same_units_add() -> None:
    assert count.add(count) == count
    assert currency.add(currency, "-") == currency


@pytest.mark.parametrize("other", [count, currency, ratio, days, score])
def test_number_adapts(other: Unit) -> None:
    assert number.add(other) == other
    assert other.add(number) == other
    assert number.mul(other) == other
    assert other.mul(number) == other
    assert other.div(number) == other


def test_number_over_ratio_and_count() -> None:
    assert number.div(ratio) == ratio
    assert number.div(count) == number  # "per item": no better name


def test_declared_unit_accepts() -> None:
    assert currency.accepts(currency)
    assert currency.accepts(number)  # a constant
    assert not currency.accepts(count)
    assert not count.accepts(ratio)
    assert number.accepts(ratio)
    assert number.accepts(count)
    assert not number.accepts(currency)
