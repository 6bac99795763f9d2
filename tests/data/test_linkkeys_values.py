"""One value normalised in plain Python gives the same match key as the Arrow
column path, for every kind (hypothesis over the characters that matter:
full- and half-width forms, legal forms, punctuation, spaces, digits)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitree.data.linkkeys import normalised_column, normalised_value

KINDS = ("email", "domain", "website", "corporate_number", "name")

PIECES = [
    "株式会社", "(株)", "㈱", "（株）", "有限会社", "合同会社", "一般社団法人", "Co., Ltd.",
    " Inc.", " K.K.", " corp", "ｱﾙﾌｧ", "アルファ", "ＡＢＣ", "abc", "-", "・", "･", "&",
    "＆", "　", " ",
    ".", ",", "/", "'", '"', "_", "\t", "@", "www.", "https://", "http://user@", "example.co.jp",
    "gmail.com", ":8080", "/ja/", "?q=1", "#x", "7000012050002", "７０００", "-0120-", "50002",
    "1", "0", "Ⅳ", "①", "\u00a0", "\u2003", "x", "Y", "é",
]  # fmt: skip

EXAMPLES = [
    "株式会社 アルファ", "ｱﾙﾌｧ(株)", "アルファ㈱", "Alpha Co., Ltd.", "ALPHA K.K.",
    "https://www.Example.co.jp/ja/", "www.example.co.jp.", "info@Example.CO.JP",
    "someone@gmail.com", "7000-0120-50002", "７０００－０１２０－５０００２", "7000012050003",
    "", "   ", "株式会社", "a@b", "user@@x.jp",
]  # fmt: skip


def _column(kind: str, value: str | None) -> str | None:
    out = normalised_column(kind, pa.array([value], pa.string()))[0].as_py()
    return None if out is None else str(out)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [*EXAMPLES, None])
def test_examples_agree(kind: str, value: str | None) -> None:
    assert normalised_value(kind, value) == _column(kind, value)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), parts=st.lists(st.sampled_from(PIECES), max_size=6))
def test_any_mix_agrees(kind: str, parts: list[str]) -> None:
    value = "".join(parts)
    assert normalised_value(kind, value) == _column(kind, value)


def test_known_keys() -> None:
    assert normalised_value("name", "ｶﾞﾝﾏ 株式会社") == normalised_value("name", "ガンマ(株)")
    assert normalised_value("corporate_number", "7000-0120-50002") == "7000012050002"
    assert normalised_value("website", "https://www.example.co.jp/ja/") == "example.co.jp"
    assert normalised_value("website", "https://gmail.com") is None
