"""The typed read of a CSV import (:mod:`kpitree.data.typed`) in every date
format it reads typed, not only the one of test_import_in_place: a clean file
is read typed and gives the text path's rows; a later cell written almost in
that format (another precision, a time after a date, digits not padded, a
time zone) gives the text path's rows, rejects or refusal, whichever path
reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .test_import_in_place import _mapping
from .test_typed_read import _outcome, _typed_rows, _write_rows

# (format, how a cell is written in it, cells almost in it)
_FORMATS = [
    ("%Y-%m-%d", "2026-{m:02d}-{d:02d}", ["2026-01-05 00:00", "2026-1-5", "20260105"]),
    ("%Y/%m/%d", "2026/{m:02d}/{d:02d}", ["2026/01/05 9:00", "2026/1/5", "2026-01-05"]),
    (
        "%Y-%m-%d %H:%M:%S",
        "2026-{m:02d}-{d:02d} 10:{d:02d}:30",
        ["2026-01-05 10:00:60", "2026-01-05 10:00:00.5", "2026-01-05 10:00"],
    ),
    (
        "%Y-%m-%dT%H:%M:%S",
        "2026-{m:02d}-{d:02d}T10:{d:02d}:30",
        ["2026-01-05T10:00:00+09:00", "2026-01-05T10:00:00Z", "2026-01-05 10:00:00"],
    ),
    (
        "%Y-%m-%d %H:%M:%S.%f",
        "2026-{m:02d}-{d:02d} 10:{d:02d}:30.250",
        ["2026-01-05 10:00:00.1234567", "2026-01-05 10:00:00", "2026-01-05 10:00:00."],
    ),
]
_CASES: list[tuple[str, str, str | None]] = [(fmt, cell, None) for fmt, cell, _ in _FORMATS]
_CASES += [(fmt, cell, odd) for fmt, cell, odds in _FORMATS for odd in odds]


@pytest.mark.parametrize(
    ("fmt", "cell", "odd"), _CASES, ids=[f"{c[0]} {c[2] or 'clean'}" for c in _CASES]
)
def test_each_typed_format_reads_as_the_text_path(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fmt: str,
    cell: str,
    odd: str | None,
) -> None:
    rows = _typed_rows(2600)
    for i, row in enumerate(rows):
        day = cell.format(m=1 + i % 12, d=1 + i % 28)
        row[1] = day
        row[8] = day if i % 3 == 0 else ""
        row[9] = ""
    if odd is not None:
        rows[2300][1] = odd  # past the first 2,000 rows, in the typed column
    path = _write_rows(tmp_path / "leads.csv", rows, "utf-8")
    mapping = _mapping(tmp_path)
    args: dict[str, Any] = {"monkeypatch": monkeypatch, "caplog": caplog}
    wanted, _ = _outcome(tmp_path, path, mapping, fast=False, **args)
    got, how = _outcome(tmp_path, path, mapping, fast=True, **args)
    assert got == wanted
    if odd is None:
        assert how == [f"{path}: read typed", 1]  # its bytes scanned once
        assert wanted[0] == "imported" and len(wanted[4]["leads"]) == 2600
