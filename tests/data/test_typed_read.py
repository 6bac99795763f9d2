"""The typed read of a CSV import (:mod:`kpitree.data.typed`) against the text
path: a file read typed gives the text path's rows, and a file changed after the
typed read's sample in any way the text path would reject, refuse or read another
way gives exactly what the text path gives (and which path read it is checked)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from kpitree.data.mapping import Mapping, load_mapping
from kpitree.data.warehouse import Warehouse
from kpitree.errors import DataError

from .test_import_in_place import HEADERS, MAPPING, _counts, _mapping, _snapshot


def _typed_rows(n: int) -> list[list[str]]:
    """Rows whose date columns are each written one way throughout (the fast
    path reads them typed), with blanks, spaces and Japanese text around them."""
    rows = []
    for i in range(n):
        day = 1 + i % 28
        rows.append(
            [
                f"L{i:05d}",
                f"2026/01/{day:02d} 9:{i % 60:02d}",
                ["ウェブ", "展示会", " ウェビナー ", ""][i % 4],
                ["佐藤", " 鈴木 ", "", "髙橋"][i % 4],
                f"C{i % 37:03d}",
                [f"株式会社C{i % 37:03d}", f" ﾃｽﾄ商事{i % 37} ", ""][i % 3],
                ["", "120", "45", "1,200"][i % 4],
                ["関東", "関西", "　", ""][i % 4],
                "" if i % 3 else f"2026/02/{day:02d} 10:00",
                "" if i % 5 else f"2026/03/{day:02d} 11:30",
                ["", "メモ①", "a,b"][i % 3],
            ]
        )
    return rows


def _cell(row: int, col: int, text: str) -> Any:
    def change(rows: list[list[str]]) -> None:
        rows[row][col] = text

    return change


def _cells(*changes: Any) -> Any:
    def change(rows: list[list[str]]) -> None:
        for c in changes:
            c(rows)

    return change


def _line(row: int, text: str) -> Any:
    """Line ``row`` of the data written as ``text`` (CSV as it is in the file)."""

    def change(rows: list[list[str]]) -> None:
        rows[row] = [f"\0{text}"]

    return change


def _repeat(rows: list[list[str]]) -> None:
    rows[2300][0] = rows[5][0]


def _extra(rows: list[list[str]]) -> None:
    rows[2300].append("extra")


def _short(rows: list[list[str]]) -> None:
    del rows[2300][5:]


# (case, change of the rows, the fast path reads it typed). Every change is past
# the first 2,000 rows (on which the formats are chosen), so the reader meets it
# in a column it reads typed; "text": the text path must read the file.
_CASES = [
    ("clean", None, True),
    ("a bad date", _cell(2300, 1, "2026/13/45 9:00"), False),
    ("an impossible date", _cell(2300, 1, "2026/02/30 9:00"), False),
    ("a date in another format", _cell(2300, 8, "2026年2月3日"), False),
    ("a date without its time", _cell(2300, 9, "2026/03/04"), False),
    ("a date with seconds", _cell(2300, 9, "2026/03/04 11:30:00"), False),
    ("full-width digits in a date", _cell(2300, 1, "２０２６/01/05 9:00"), False),
    ("a date of spaces only", _cell(2300, 8, "   "), False),
    ("a date out of range", _cell(2300, 1, "1899/01/01 9:00"), False),
    ("a boolean in a date", _cell(2300, 9, "true"), False),
    ("a boolean in text", _cell(2300, 7, "TRUE"), True),
    ("spaces around a date", _cell(2300, 8, " 2026/02/05 10:00 "), True),
    ("a number with a thousands comma", _cell(2300, 6, "12,345"), True),
    ("full-width digits in a number", _cell(2300, 6, "１２０"), True),
    ("a number that is not one", _cell(2300, 6, "百"), False),
    ("a huge integer", _cell(2300, 6, "99999999999999999999"), False),
    (
        "spaces around ids and text",
        _cells(_cell(2300, 0, " L02300 "), _cell(2300, 3, "　佐藤 ")),
        True,
    ),
    ("a blank id", _cell(2300, 0, ""), False),
    ("an id of spaces", _cell(2300, 0, "　"), False),
    ("a repeated id", _repeat, False),
    ("an extra column", _extra, False),
    ("a short row", _short, False),
    ("empty strings and NULL", _line(2300, 'L02300,2026/01/05 9:00,"",,C001,"","",,"",,""'), True),
    ("a quoted line break", _cell(2300, 10, "一行目\n二行目"), True),
    (
        "a date padded past the cell size limit",
        _cell(2300, 9, "2026/03/04 11:30" + " " * 2**20),
        False,
    ),
    ("text past the cell size limit", _cell(2300, 10, "長" * (2**20 + 1)), False),
    ("a stray byte late in an unread column", _cell(2400, 10, "\udcff"), False),
    ("a stray byte late in a date", _cell(2400, 9, "2026/03/04 11:30\udcff"), False),
    ("a stray byte late in text", _cell(2400, 3, "佐\udcff藤"), False),
]


def _write_rows(path: Path, rows: list[list[str]], encoding: str, *, bom: bool = False) -> Path:
    """As :func:`_write`; a row ``["\\0<text>"]`` is written as that text, and
    U+DCFF as the byte 0xFF (not UTF-8)."""
    lines = []
    for row in [HEADERS, *rows]:
        if len(row) == 1 and row[0].startswith("\0"):
            lines.append(row[0][1:])
            continue
        quoted = ("," in c or "\n" in c for c in row)
        lines.append(
            ",".join(
                '"' + c.replace('"', '""') + '"' if q else c
                for c, q in zip(row, quoted, strict=True)
            )
        )
    data = ("\r\n".join(lines) + "\r\n").encode(encoding, errors="surrogateescape")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _outcome(
    root: Path,
    path: Path,
    mapping: Mapping,
    *,
    fast: bool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> tuple[Any, list[str]]:
    """What importing ``path`` into a new warehouse gives (every row of every
    table, the rejects, or the refusal), and how the file was read: the path's
    log lines, then how many times the file's bytes were scanned (hashed)."""
    from kpitree.data import readers, textfile, typed

    monkeypatch.setattr(typed, "FAST_FROM_BYTES", 0 if fast else 10**15)
    scans: list[Path] = []
    scan_bytes = textfile.scan_bytes

    def counted(scanned: Path, *, utf8: bool = False) -> textfile.ByteScan:
        scans.append(scanned)
        return scan_bytes(scanned, utf8=utf8)

    monkeypatch.setattr(textfile, "scan_bytes", counted)
    monkeypatch.setattr(readers, "scan_bytes", counted)
    wh = Warehouse(root / ("fast" if fast else "text") / "warehouse.duckdb")
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="kpitree.data.typed"):
        try:
            kept, results = wh.import_files([str(path)], mapping, skip_invalid=True)
        except DataError as exc:
            found: Any = ("refused", [(d.code, d.span, d.message()) for d in exc.diagnostics])
            found += (wh.row_counts(),)
        else:
            rejects = [(r.row, r.column, r.value, r.reason) for r in kept[0].rejects]
            found = ("imported", _counts(results), rejects, kept[0].rejected_rows, _snapshot(wh))
    how = [r.getMessage() for r in caplog.records if r.name == "kpitree.data.typed"]
    return found, [*how, scans.count(path)]


@pytest.mark.parametrize(("case", "change", "typed"), _CASES, ids=[c[0] for c in _CASES])
def test_the_typed_read_gives_what_the_text_path_gives(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    case: str,
    change: Any,
    typed: bool,
) -> None:
    """A file the typed read would take more leniently than the text path (or
    read another way) is read by the text path: the same rows, rejects and
    messages, with nothing written where the file is refused; a file it reads
    alike is read typed, and gives the same rows."""
    mapping = _mapping(tmp_path)
    if "unread" in case:  # no column kept as the leads' attributes: メモ is not read
        path = tmp_path / "mapping.yaml"
        path.write_text(MAPPING.replace("  leads:\n", "  leads:\n    attributes: none\n"))
        mapping = load_mapping(path)
    rows = _typed_rows(2600)
    if change is not None:
        change(rows)
    path = _write_rows(tmp_path / "leads.csv", rows, "utf-8")
    wanted, by_text = _outcome(
        tmp_path, path, mapping, fast=False, monkeypatch=monkeypatch, caplog=caplog
    )
    got, by_fast = _outcome(
        tmp_path, path, mapping, fast=True, monkeypatch=monkeypatch, caplog=caplog
    )
    assert by_text[:-1] == []
    assert len(by_fast) == 2 and by_fast[0].endswith("read typed" if typed else ")"), by_fast
    # The fast path hashes the file beside its read (once, even where the text
    # path refuses the file before hashing it); when it gives up, the text path
    # uses that scan of the unchanged file instead of hashing it again (but for a
    # stray byte the text path decodes every byte, which that scan did not).
    extra = "stray byte" in case
    assert by_fast[-1] <= max(by_text[-1], 1) + extra, (by_fast, by_text)
    assert got == wanted
    if case == "clean":
        assert wanted[0] == "imported" and wanted[2] == [] and len(wanted[4]["leads"]) == 2600


@pytest.mark.parametrize("how", ["bom", "cp932"])
def test_a_bom_and_shift_jis_read_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """Excel's "CSV UTF-8" (a BOM) is read typed; a Shift_JIS file is read as text."""
    mapping = _mapping(tmp_path)
    rows = _typed_rows(2600)
    encoding = "cp932" if how == "cp932" else "utf-8"
    path = _write_rows(tmp_path / "leads.csv", rows, encoding, bom=how == "bom")
    wanted, _ = _outcome(
        tmp_path, path, mapping, fast=False, monkeypatch=monkeypatch, caplog=caplog
    )
    got, by_fast = _outcome(
        tmp_path, path, mapping, fast=True, monkeypatch=monkeypatch, caplog=caplog
    )
    assert got == wanted and wanted[0] == "imported"
    assert by_fast[:-1] == ([f"{path}: read typed"] if how == "bom" else [])
