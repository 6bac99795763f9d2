"""Amounts as people say them (万/億, K/M/B) through Babel's compact formats."""

from __future__ import annotations

import pytest

from kpitree.i18n.numbers import format_compact


@pytest.mark.parametrize(
    ("value", "ja", "en"),
    [
        (277_131_148, "¥2.77億", "¥277M"),
        (48_200_000, "¥4,820万", "¥48.2M"),
        (6_576_000, "¥658万", "¥6.58M"),
        (-41_670_546, "-¥4,167万", "-¥41.7M"),
        (2_940_000_000, "¥29.4億", "¥2.94B"),
        (5_000, "¥5,000", "¥5,000"),
    ],
)
def test_amounts_in_man_and_oku(value: float, ja: str, en: str) -> None:
    assert format_compact(value, "currency", "JPY", "ja") == ja
    assert format_compact(value, "currency", "JPY", "en") == en


def test_other_units_and_none_read_as_usual() -> None:
    assert format_compact(0.178, "ratio", "JPY", "ja") == "17.8%"
    assert format_compact(12345, "count", "JPY", "ja") == "12,345"
    assert format_compact(None, "currency", "JPY", "ja") == "—"
