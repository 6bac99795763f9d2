"""Files that cannot be read exactly are refused, located, in the product's words;
nothing garbled is stored. Each case is a real file written as a careless tool or
user would write it."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map
from kpitree.errors import DataError
from kpitree.i18n import set_lang

MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: ID
    created_at: Created
    amount: Amount
    stage: Stage
    status: {column: Stage, map: {won: won, lost: lost}, else: open}
"""
HEADER = "ID,Created,Amount,Stage\n"
ROW = "D1,2026/01/07,100,open\n"


@pytest.fixture(autouse=True)
def _english() -> object:
    set_lang("en")
    yield
    set_lang(None)


def _read(tmp_path: Path, data: bytes, name: str = "f.csv", **kw: object) -> object:
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    path = tmp_path / name
    path.write_bytes(data)
    return read_and_map(path, load_mapping(tmp_path / "m.yaml"), **kw)  # type: ignore[arg-type]


def _refused(tmp_path: Path, data: bytes, **kw: object) -> tuple[str, int, int, str]:
    with pytest.raises(DataError) as err:
        _read(tmp_path, data, **kw)
    diag = err.value.diagnostics[0]
    assert diag.span is not None
    return diag.code, diag.span.line, diag.span.column, diag.message()


# -- encodings ----------------------------------------------------------------------


def test_utf8_file_with_its_last_character_cut_is_refused_at_that_byte(tmp_path: Path) -> None:
    data = (HEADER + ROW + "D2,2026/01/07,100,日本").encode()[:-1]
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT380", 3, 4)
    assert "0xE6" in message and "UTF-8" in message


def test_utf8_rows_then_shift_jis_rows_are_refused(tmp_path: Path) -> None:
    data = (HEADER + "D1,2026/01/07,100,日本\n").encode() + "D2,2026/01/07,100,日本\n".encode(
        "cp932"
    )
    assert _refused(tmp_path, data)[:3] == ("KT380", 3, 4)


def test_shift_jis_rows_then_utf8_rows_are_refused(tmp_path: Path) -> None:
    # UTF-8 "日本" happens to decode as Shift_JIS (as garbage): still refused.
    data = (HEADER + "D1,2026/01/07,100,日本\n").encode("cp932") + b"D2,2026/01/07,100,"
    data += "日本\n".encode()
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT381", 3, 4)
    assert "UTF-8" in message


def test_a_stray_ff_byte_is_refused(tmp_path: Path) -> None:
    data = (HEADER + ROW).encode() + b"D2,2026/01/07,100,op\xffen\n"
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT380", 3, 4)
    assert "0xFF" in message


# Bytes after the first 64 KiB: DuckDB reads the file as UTF-8 and must refuse
# them as the Python decoder does (the same message, located), whatever the row.
_LATE = (HEADER + "D0,2026/01/07,100,日本\n" * 4000).encode()


@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe3\x81,"],
    ids=["ff", "continuation", "overlong", "surrogate", "beyond-unicode", "cut"],
)
def test_a_bad_utf8_sequence_far_into_the_file_is_refused(tmp_path: Path, bad: bytes) -> None:
    assert len(_LATE) > 65536
    data = _LATE + b"D9,2026/01/07,100,o" + bad + b"k\n" + ROW.encode()
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT380", 4002, 4)
    assert "UTF-8" in message


def test_a_bad_byte_in_a_quoted_cell_far_into_the_file_is_refused(tmp_path: Path) -> None:
    data = _LATE + b'D9,2026/01/07,100,"o\xffk, two"\n'
    assert _refused(tmp_path, data)[:3] == ("KT380", 4002, 4)


def test_a_bad_byte_in_the_header_is_refused(tmp_path: Path) -> None:
    # The header is read by kpitree, not by DuckDB's reader, which skips it.
    data = b"ID,Created,Amount,St\xffage\n" + _LATE[len(HEADER) :]
    assert _refused(tmp_path, data)[:3] == ("KT380", 1, 4)


def test_a_bad_byte_far_into_a_long_header_is_refused(tmp_path: Path) -> None:
    extra = [f"Column number {i:03d} " + "x" * 160 for i in range(400)]
    header = ("ID,Created,Amount,Stage," + ",".join(extra)).encode() + b"\xff\n"
    assert len(header) > 65536
    row = ("D1,2026/01/07,100,open," + ",".join("x" for _ in extra) + "\n").encode()
    assert _refused(tmp_path, header + row)[:3] == ("KT380", 1, 404)


def test_a_bad_shift_jis_pair_is_refused(tmp_path: Path) -> None:
    data = (HEADER + "D1,2026/01/07,100,日本\n").encode("cp932") + b"D2,2026/01/07,\x81\x20,x\n"
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT380", 3, 3)
    assert "Shift_JIS" in message


def test_latin1_is_refused_unless_named(tmp_path: Path) -> None:
    data = (HEADER + "D1,2026/01/07,100,café\n").encode("latin-1")
    assert _refused(tmp_path, data)[:3] == ("KT380", 2, 4)
    batch = _read(tmp_path, data, encoding="latin-1")
    assert batch.tables["deals"].column("stage").to_pylist() == ["café"]  # type: ignore[attr-defined]


def test_a_named_encoding_is_decoded_strictly(tmp_path: Path) -> None:
    data = (HEADER + ROW).encode() + "D2,2026/01/07,100,日本\n".encode()
    code, row, col, _ = _refused(tmp_path, data, encoding="ascii")
    assert (code, row, col) == ("KT380", 3, 4)


def test_an_unknown_encoding_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        _read(tmp_path, (HEADER + ROW).encode(), encoding="klingon-8")
    assert err.value.diagnostics[0].code == "KT393"


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_LE + (HEADER + "D1,2026/01/07,100,日本\n").encode("utf-16-le")
    batch = _read(tmp_path, data)
    assert batch.tables["deals"].column("stage").to_pylist() == ["日本"]  # type: ignore[attr-defined]


def test_question_marks_in_shift_jis_are_a_located_warning(tmp_path: Path) -> None:
    data = (HEADER + "D1,2026/01/07,100,日本\nD2,2026/01/07,100,??野家\n").encode("cp932")
    batch = _read(tmp_path, data)
    assert batch.tables["deals"].num_rows == 2  # type: ignore[attr-defined]
    [warning] = batch.warnings  # type: ignore[attr-defined]
    assert warning.code == "KT382" and warning.severity.value == "warning"
    assert (warning.span.line, warning.span.column) == (3, 4)


def test_shift_jis_without_lost_characters_has_no_warning(tmp_path: Path) -> None:
    data = (HEADER + "D1,2026/01/07,100,日本? ok\n").encode("cp932")
    assert _read(tmp_path, data).warnings == []  # type: ignore[attr-defined]


# -- structure ----------------------------------------------------------------------


def test_cr_only_line_ends_are_read(tmp_path: Path) -> None:
    data = (HEADER + ROW + "D2,2026/01/08,200,won\n").replace("\n", "\r").encode()
    batch = _read(tmp_path, data)
    assert batch.tables["deals"].column("deal_id").to_pylist() == ["D1", "D2"]  # type: ignore[attr-defined]


def test_unbalanced_quote_is_located(tmp_path: Path) -> None:
    data = (HEADER + ROW + 'D2,2026/01/07,"100,open\n' + ROW).encode()
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT383", 3, 3)
    assert "never closed" in message and "CSV Error" not in message


def test_text_after_a_closing_quote_is_located(tmp_path: Path) -> None:
    data = (HEADER + ROW + ROW + 'D3,2026/01/07,"100"x,open\n').encode()
    assert _refused(tmp_path, data)[:3] == ("KT383", 4, 3)


def test_a_row_longer_than_the_header_is_located(tmp_path: Path) -> None:
    data = (HEADER + ROW + "D2,2026/01/07,1,000,open\n").encode()
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT384", 3, 5)
    assert "5 cells" in message and "has 4" in message


def test_a_duplicate_header_the_mapping_reads_is_refused(tmp_path: Path) -> None:
    data = ("ID,Created,Amount,Stage,Amount\n" + "D1,2026/01/07,100,open,200\n").encode()
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT385", 1, 5)
    assert "3 (C), 5 (E)" in message and "rename" in message


def test_a_duplicate_header_the_mapping_does_not_read_goes_to_attributes(tmp_path: Path) -> None:
    data = ("ID,Created,Amount,Stage,Note,Note\n" + "D1,2026/01/07,100,open,a,b\n").encode()
    batch = _read(tmp_path, data)
    attributes = batch.tables["deals"].column("attributes").to_pylist()  # type: ignore[attr-defined]
    assert attributes == ['{"Note":"a","Note (2)":"b"}']


def test_a_bom_at_the_start_of_a_row_is_refused(tmp_path: Path) -> None:
    data = (HEADER + ROW).encode() + "\ufeffD2,2026/01/07,100,open\n".encode()
    assert _refused(tmp_path, data)[:3] == ("KT386", 3, 1)


def test_a_nul_byte_in_text_is_refused(tmp_path: Path) -> None:
    data = (HEADER + ROW + "D2,2026/01/07,100,op\x00en\n").encode()
    assert _refused(tmp_path, data)[:3] == ("KT386", 3, 4)


def test_a_nul_byte_in_shift_jis_text_is_refused(tmp_path: Path) -> None:
    data = (HEADER + "D1,2026/01/07,100,日\x00本\n").encode("cp932")
    assert _refused(tmp_path, data)[:3] == ("KT386", 2, 4)


def test_the_leading_bom_is_not_text(tmp_path: Path) -> None:
    batch = _read(tmp_path, codecs.BOM_UTF8 + (HEADER + ROW).encode())
    assert batch.tables["deals"].column("deal_id").to_pylist() == ["D1"]  # type: ignore[attr-defined]


# -- values at the edges ------------------------------------------------------------


def _rejects(tmp_path: Path, rows: list[str], mapping: str = MAPPING) -> dict[str, str]:
    (tmp_path / "m.yaml").write_text(mapping, encoding="utf-8")
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    batch = read_and_map(path, load_mapping(tmp_path / "m.yaml"))
    return {r.value or "": r.message.key for r in batch.rejects if r.message is not None}


@pytest.mark.parametrize(
    ("amount", "key"),
    [
        ("1e400", "data.reject.out_of_range"),
        ("-1e400", "data.reject.out_of_range"),
        ("1e16", "data.reject.out_of_range"),
        ("nan", "data.reject.not_a_number"),
        ("inf", "data.reject.not_a_number"),
        ("-Infinity", "data.reject.not_a_number"),
    ],
)
def test_numbers_that_are_not_finite_or_not_exact_are_refused(
    tmp_path: Path, amount: str, key: str
) -> None:
    assert _rejects(tmp_path, [f"D1,2026/01/07,{amount},open\n"]) == {amount: key}


def test_numbers_up_to_the_limit_are_read(tmp_path: Path) -> None:
    assert _rejects(tmp_path, ["D1,2026/01/07,9007199254740992,open\n"]) == {}


@pytest.mark.parametrize(
    ("created", "key"),
    [
        ("0000/01/01", "data.reject.date_out_of_range"),
        ("-2026-01-01", "data.reject.date_out_of_range"),
        ("99999/01/01", "data.reject.date_out_of_range"),
        ("26/01/07", "data.reject.date_out_of_range"),
        ("1899/12/31", "data.reject.date_out_of_range"),
        ("2101-01-01T00:00:00+09:00", "data.reject.date_out_of_range"),
        ("2026-01-07T09:00:00+25:00", "data.reject.not_a_timestamp"),
        ("2026-01-07T09:00:00-25:00", "data.reject.not_a_timestamp"),
        ("2026-01-07T09:00:00+09:75", "data.reject.not_a_timestamp"),
    ],
)
def test_dates_outside_the_range_and_bad_offsets_are_refused(
    tmp_path: Path, created: str, key: str
) -> None:
    assert _rejects(tmp_path, [f"D1,{created},1,open\n"]) == {created: key}


def test_bad_offsets_are_refused_on_the_fast_path_too(tmp_path: Path) -> None:
    good = [f"D{i},2026-01-07T09:00:00+09:00,1,open\n" for i in range(20)]
    bad = "2026-01-07T09:00:00+25:00"
    assert _rejects(tmp_path, [*good, f"X,{bad},1,open\n"]) == {bad: "data.reject.not_a_timestamp"}


def test_the_date_range_is_set_per_mapping(tmp_path: Path) -> None:
    wide = MAPPING.replace("tables:", "source: {earliest_date: 1800-01-01}\ntables:")
    assert _rejects(tmp_path, ["D1,1850/01/01,1,open\n"], wide) == {}
    assert _rejects(tmp_path, ["D1,1850/01/01,1,open\n"]) == {
        "1850/01/01": "data.reject.date_out_of_range"
    }


def test_whole_numbers_beyond_the_column_type_are_refused(tmp_path: Path) -> None:
    mapping = """\
mapping: 1
tables:
  accounts:
    account_id: ID
    name: Created
    employees: Amount
"""
    assert _rejects(tmp_path, ["A1,x,12345678901234567890,y\n"], mapping) == {
        "12345678901234567890": "data.reject.out_of_range"
    }
    assert _rejects(tmp_path, ["A1,x,1.5,y\n"], mapping) == {"1.5": "data.reject.not_an_integer"}


# -- limits -------------------------------------------------------------------------


def _small_limits(monkeypatch: pytest.MonkeyPatch, **kw: int) -> None:
    import dataclasses

    from kpitree.data import limits, readers, textfile, typed, xlsx

    small = dataclasses.replace(limits.LIMITS, **kw)
    for module in (readers, textfile, typed, xlsx):
        monkeypatch.setattr(module, "LIMITS", small)


def test_a_header_longer_than_64_kb_is_read(tmp_path: Path) -> None:
    # Long names rather than many columns: a file's cost grows with its columns.
    extra = [f"Column number {i:03d} " + "x" * 160 for i in range(400)]
    header = "ID,Created,Amount,Stage," + ",".join(extra) + "\n"
    assert len(header) > 65536
    row = "D1,2026/01/07,100,open," + ",".join("x" for _ in extra) + "\n"
    batch = _read(tmp_path, (header + row).encode())
    assert batch.tables["deals"].column("deal_id").to_pylist() == ["D1"]  # type: ignore[attr-defined]


def test_20007_columns_hit_the_column_limit_with_a_clear_message(tmp_path: Path) -> None:
    extra = [f"x{i}" for i in range(20_003)]
    data = ("ID,Created,Amount,Stage," + ",".join(extra) + "\n" + ROW).encode()
    code, row, col, message = _refused(tmp_path, data)
    assert (code, row, col) == ("KT387", 1, 16_385)
    assert "20007 columns" in message and "16384" in message


def test_columns_up_to_the_limit_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_limits(monkeypatch, max_columns=6)
    data = ("ID,Created,Amount,Stage,E,F\n" + "D1,2026/01/07,100,open,e,f\n").encode()
    assert _read(tmp_path, data).tables["deals"].num_rows == 1  # type: ignore[attr-defined]
    data = ("ID,Created,Amount,Stage,E,F,G\n" + "D1,2026/01/07,100,open,e,f,g\n").encode()
    assert _refused(tmp_path, data)[:3] == ("KT387", 1, 7)


def test_the_row_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_limits(monkeypatch, max_rows=2)
    assert _read(tmp_path, (HEADER + ROW + ROW.replace("D1", "D2")).encode()).rows_read == 2  # type: ignore[attr-defined]
    data = (HEADER + ROW + ROW.replace("D1", "D2") + ROW.replace("D1", "D3")).encode()
    assert _refused(tmp_path, data)[:3] == ("KT388", 4, 1)


def test_the_cell_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_limits(monkeypatch, max_cell_chars=10)
    assert _read(tmp_path, (HEADER + "D1,2026/01/07,100,0123456789\n").encode()).rows_read == 1  # type: ignore[attr-defined]
    data = (HEADER + ROW + "D2,2026/01/07,100,0123456789X\n").encode()
    assert _refused(tmp_path, data)[:3] == ("KT389", 3, 4)


def test_the_cell_limit_counts_characters_not_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten characters of three bytes each: DuckDB's statistics (bytes) exceed the
    # limit, so the cells are measured in characters.
    _small_limits(monkeypatch, max_cell_chars=10)
    cell = "あ" * 10
    assert _read(tmp_path, (HEADER + f"D1,2026/01/07,100,{cell}\n").encode()).rows_read == 1  # type: ignore[attr-defined]
    data = (HEADER + ROW + f"D2,2026/01/07,100,{cell}い\n").encode()
    assert _refused(tmp_path, data)[:3] == ("KT389", 3, 4)


def test_the_row_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_limits(monkeypatch, max_row_bytes=100)
    data = (HEADER + ROW + "D2,2026/01/07,100," + "x" * 200 + "\n").encode()
    code, row, _, _ = _refused(tmp_path, data)
    assert (code, row) == ("KT389", 3)


def _xlsx(rows: list[list[object]]) -> bytes:
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_an_xlsx_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    import io
    import zipfile

    plain = _xlsx([["ID", "Created", "Amount", "Stage"]])
    sheet = b"<worksheet><sheetData>" + b"<row></row>" * 1_000_000 + b"</sheetData></worksheet>"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain)) as src, zipfile.ZipFile(out, "w", 8) as dst:
        for part in src.infolist():
            dst.writestr(part.filename, sheet if "sheet1" in part.filename else src.read(part))
    code, _, _, message = _refused(tmp_path, out.getvalue(), name="bomb.xlsx")
    assert code == "KT390" and "sheet1.xml" in message


def test_an_xlsx_over_the_inflated_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_limits(monkeypatch, max_xlsx_inflated=1000)
    data = _xlsx([["ID", "Created", "Amount", "Stage"], ["D1", "2026/01/07", 100, "open"]])
    assert _refused(tmp_path, data, name="f.xlsx")[0] == "KT390"


def test_an_xlsx_whose_directory_lies_about_sizes_stops_at_them(tmp_path: Path) -> None:
    import io
    import zipfile

    data = _xlsx([["ID", "Created", "Amount", "Stage"], *[["D1", "2026/01/07", 1, "x" * 50]] * 500])
    # Declare the sheet's inflated size smaller than it is, in the directory.
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = next(i for i in zf.infolist() if "sheet1" in i.filename)
    real = info.file_size.to_bytes(4, "little")
    crc = info.CRC.to_bytes(4, "little")
    start = data.find(b"PK\x01\x02")
    head, tail = data[:start], data[start:]
    marker = crc + info.compress_size.to_bytes(4, "little") + real
    assert marker in tail
    tail = tail.replace(
        marker, crc + info.compress_size.to_bytes(4, "little") + (100).to_bytes(4, "little")
    )
    code, _, _, _ = _refused(tmp_path, head + tail, name="lying.xlsx")
    assert code == "KT374"


def test_xlsx_cells_follow_the_csv_rules(tmp_path: Path) -> None:
    data = _xlsx([["ID", "Created", "Amount", "Stage"], ["D1", "2026/01/07", 1, "\ufeffx"]])
    assert _refused(tmp_path, data, name="f.xlsx")[:3] == ("KT386", 2, 4)


def test_a_bom_across_the_scans_chunk_boundary_is_refused() -> None:
    """The byte scan reads 4 MiB at a time: a BOM cut by that boundary is found."""
    import tempfile

    from kpitree.data.textfile import scan_bytes

    for cut in (1, 2):
        with tempfile.NamedTemporaryFile(suffix=".csv") as fh:
            fh.write(b"a" * ((1 << 22) - cut) + codecs.BOM_UTF8 + b"b\n")
            fh.flush()
            assert scan_bytes(Path(fh.name)).bom == (1 << 22) - cut
