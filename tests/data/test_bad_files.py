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
