"""The SQL that trims plain text on the in-place paths gives what Python's own
``str.strip`` of the space characters gives, blank as NULL, for any cell
(hypothesis over the characters that matter: every space character at either
end or inside, characters just below and above the ranges the SQL lets through
without looking at them, control characters, line breaks, Japanese text,
combining marks and emoji). The tests of a cell's first and last character
are string comparisons, which DuckDB runs only on the cells that need them: no
``IN`` list it would turn into a join looking up every row."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitree.data.fields import ZS, ZS_TEXT, starts_with_space
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


def _plan(sql: str) -> str:
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE cells (i INTEGER, x VARCHAR)")
        return "\n".join(r[1] for r in con.execute(f"EXPLAIN {sql}").fetchall())
    finally:
        con.close()


def test_trimming_looks_up_no_cell_in_a_join() -> None:
    # ord(x) IN (17 codes) became two MARK joins per column, each probing every
    # row (about a tenth of the CPU of parsing 4M activities).
    plan = _plan(f"SELECT {_trimmed('x')} FROM cells")
    assert "MARK" not in plan and "HASH_JOIN" not in plan.upper().replace(" ", "_")


def test_starts_with_space_is_the_first_character_being_a_space() -> None:
    codes = [c for c in range(1, 0x3100) if not 0xD800 <= c <= 0xDFFF]
    codes += [0x4E00, 0xFF01, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF]
    cells = [chr(c) + tail for c in codes for tail in ("", "a", " ", "\u3000", "佐藤")]
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE cells AS SELECT unnest(?::VARCHAR[]) AS x", [cells])
        for ascii_space, spaces in ((True, set(ZS)), (False, set(ZS) - {0x20})):
            found = con.execute(
                f"SELECT x FROM cells WHERE {starts_with_space('x', ascii_space=ascii_space)}"
            ).fetchall()
            assert sorted(r[0] for r in found) == sorted(c for c in cells if ord(c[0]) in spaces)
        empty = starts_with_space("''")
        assert con.execute(f"SELECT {empty}").fetchall() == [(False,)]
    finally:
        con.close()
