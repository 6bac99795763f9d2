"""The SQL that trims plain text on the in-place paths gives what Python's own
``str.strip`` of the space characters gives, blank as NULL, for any cell
(hypothesis over the characters that matter: every space character at either
end or inside, characters just below and above the ranges the SQL lets through
without looking at them, control characters, line breaks, Japanese text,
combining marks and emoji)."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitree.data.fields import ZS, ZS_TEXT
from kpitree.data.parsed import _trimmed

PIECES = [
    *(chr(c) for c in ZS),
    "\t", "\n", "\r", "\x00", "\x01", "\x1f", "!", "~", "\x7f", "\x80", "\x9f", "\u00a1",
    "\u0301", "\u1681", "\u200b", "\u2028", "\u202f", "\u3001", "\ufeff", "\U0001f600",
    "a", "Z", "0", "'", "%", "_", "佐藤", "株式会社", "ｱ",
]  # fmt: skip

EXAMPLES = [
    "", " ", "\u3000", " 佐藤", "佐藤 ", "佐藤\u3000", "\u00a0x", "x\u00a0", "\x9fx", "x\x9f",
    "\n ", " \n", "a b", "\u3000\u3000", "髙橋\u3000\u0301", "%", "_ ", "\U0001f600 ",
]  # fmt: skip


def _expected(cell: str | None) -> str | None:
    return None if cell is None else (cell.strip(ZS_TEXT) or None)


def _sql_trimmed(cells: list[str | None]) -> list[str | None]:
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE cells (i INTEGER, x VARCHAR)")
        con.executemany("INSERT INTO cells VALUES (?, ?)", list(enumerate(cells)))
        rows = con.execute(f"SELECT {_trimmed('x')} FROM cells ORDER BY i").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


@pytest.mark.parametrize("cell", [*EXAMPLES, None])
def test_examples_are_trimmed_as_python_strips_them(cell: str | None) -> None:
    assert _sql_trimmed([cell]) == [_expected(cell)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=6).map("".join), min_size=1))
def test_any_cell_is_trimmed_as_python_strips_it(cells: list[str]) -> None:
    assert _sql_trimmed(list(cells)) == [_expected(c) for c in cells]
