"""Numbers read the way the pages write them (``¥3億``, ``25%``), and input
fields that show a value so that reading it back gives the same value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitree.i18n.parse import input_text, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("¥3億", 300_000_000),
        ("¥29.4億", 2_940_000_000),
        ("３億", 300_000_000),
        ("1.2万", 12_000),
        ("¥277M", 277_000_000),
        ("¥2,940,000,000", 2_940_000_000),
        ("25%", 0.25),
        ("21.8%", 0.218),
        ("0.72", 0.72),
        ("-¥5", -5),
        (" 4,000 ", 4000),
        ("3,000万円", 30_000_000),
        ("3億円", 300_000_000),
        ("5百万円", 5_000_000),
        ("3千万", 30_000_000),
        ("1200000円", 1_200_000),
    ],
)
def test_reads_numbers_as_displayed(text: str, value: float) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text", ["", "abc", "¥", "%", "円", "万円", "1,2,3", "1.5.3", "nan", "inf", "1e400"]
)
def test_refuses_what_is_not_a_number(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


@given(
    st.floats(min_value=-1e13, max_value=1e13, allow_nan=False),
    st.sampled_from(["ratio", "currency", "count", None]),
)
def test_an_input_reads_back_as_its_value(value: float, unit: str | None) -> None:
    assert parse_number(input_text(value, unit)) == value


def test_inputs_show_values_as_the_pages_do() -> None:
    assert input_text(0.712, "ratio") == "71.2%"
    assert input_text(2.94e9, "currency") == "¥2,940,000,000"
    assert input_text(2.94e9, "currency", "USD") == "$2,940,000,000"
    assert input_text(4000.0, "count") == "4,000"
