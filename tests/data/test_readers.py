"""Real files as MA/SFA tools and Japanese Excel write them: encodings, delimiters,
quoting, XLSX sheets and cell types."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import openpyxl
import pytest

from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map
from kpitree.errors import DataError
from kpitree.i18n import set_lang

UTC = dt.UTC
JA_MAPPING = """\
mapping: 1
values:
  stages: {リード: lead, 商談化: opportunity, 受注: won, 失注: lost}
tables:
  leads:
    lead_id: リードID
    created_at: 作成日
    channel: 流入経路
    current_stage: {column: ステージ, map: stages, unmapped: reject}
  lead_stage_history:
    lead_id: リードID
    stage: {column: ステージ, map: stages}
    entered_at: 作成日
"""
JA_ROWS = [
    ["リードID", "作成日", "流入経路", "ステージ", "会社名"],
    ["L-001", "2026/01/07", "展示会", "商談化", "株式会社サンプル"],
    ["L-002", "2026年1月8日", "ウェビナー", "受注", "ﾃｽﾄ商事"],
    ["L-003", "2026/1/9 9:05", "Web広告", "リード", "髙橋工業①"],
]


@pytest.fixture(autouse=True)
def _english() -> object:
    set_lang("en")
    yield
    set_lang(None)


def _write(path: Path, rows: list[list[str]], encoding: str, delimiter: str = ",") -> Path:
    # Excel writes CRLF and quotes only where needed.
    lines = []
    for row in rows:
        cells = []
        for cell in row:
            if any(ch in cell for ch in (delimiter, '"', "\n", "\r")):
                cell = '"' + cell.replace('"', '""') + '"'
            cells.append(cell)
        lines.append(delimiter.join(cells))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def _mapping(tmp_path: Path, text: str = JA_MAPPING) -> object:
    p = tmp_path / "mapping.yaml"
    p.write_text(text, encoding="utf-8")
    return load_mapping(p)


def _check_ja(batch: object) -> None:
    leads = batch.tables["leads"]
    assert batch.rejects == []
    assert batch.rows_read == 3
    assert leads.column("lead_id").to_pylist() == ["L-001", "L-002", "L-003"]
    assert leads.column("channel").to_pylist() == ["展示会", "ウェビナー", "Web広告"]
    assert leads.column("current_stage").to_pylist() == ["opportunity", "won", "lead"]
    assert leads.column("created_at").to_pylist()[2] == dt.datetime(2026, 1, 9, 0, 5, tzinfo=UTC)
    assert '"会社名":"髙橋工業①"' in leads.column("attributes").to_pylist()[2]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path / "leads.csv", JA_ROWS, encoding)
    batch = read_and_map(path, _mapping(tmp_path))
    _check_ja(batch)
    assert batch.file_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert batch.source_file == str(path)


def test_shift_jis_as_excel_writes_it(tmp_path: Path) -> None:
    # Japanese Excel's "CSV (comma delimited)": cp932, CRLF, no BOM, via the csv module.
    import csv

    path = tmp_path / "excel.csv"
    with path.open("w", encoding="cp932", newline="") as fh:
        csv.writer(fh).writerows(JA_ROWS)
    _check_ja(read_and_map(path, _mapping(tmp_path)))


def test_shift_jis_after_a_long_ascii_start(tmp_path: Path) -> None:
    # The first 64 KB look like UTF-8; the first Japanese cell comes much later.
    rows = [JA_ROWS[0]]
    rows += [[f"L-{i:05}", "2026/01/07", "Web", "", ""] for i in range(3000)]
    rows += [["L-99999", "2026/01/08", "展示会", "受注", "髙橋工業①"]]
    path = _write(tmp_path / "late.csv", rows, "cp932")
    assert path.stat().st_size > 65536
    batch = read_and_map(path, _mapping(tmp_path))
    assert batch.rejects == []
    assert batch.tables["leads"].num_rows == 3001
    assert batch.tables["leads"].column("channel").to_pylist()[-1] == "展示会"
    assert batch.file_hash == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_delimiters(tmp_path: Path, delimiter: str) -> None:
    path = _write(tmp_path / "leads.txt", JA_ROWS, "utf-8", delimiter)
    _check_ja(read_and_map(path, _mapping(tmp_path)))


def test_quoted_newlines_keep_excel_row_numbers(tmp_path: Path) -> None:
    rows = [
        JA_ROWS[0],
        ["L-001", "2026/01/07", "展示会", "商談化", '複数行の\r\nメモ, "引用" 付き'],
        ["L-002", "2026-13-45", "展示会", "商談化", ""],
        ["L-003", "2026/01/09", "展示会", "不明", ""],
    ]
    path = _write(tmp_path / "leads.csv", rows, "cp932")
    batch = read_and_map(path, _mapping(tmp_path))
    assert batch.tables["leads"].column("lead_id").to_pylist() == ["L-001"]
    assert (
        '複数行の\\r\\nメモ, \\"引用\\" 付き'
        in batch.tables["leads"].column("attributes")[0].as_py()
    )
    assert [(r.row, r.column, r.value) for r in batch.rejects] == [
        (3, "作成日", "2026-13-45"),
        (4, "ステージ", "不明"),
    ]
    assert batch.rejects[1].reason == (
        "unknown value '不明' in ステージ; add it to the value map 'stages' in the mapping"
    )


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
@pytest.mark.parametrize("end", ["\r\n", "\n"])
def test_empty_lines_count_as_rows_as_in_excel(tmp_path: Path, encoding: str, end: str) -> None:
    # DuckDB skips empty lines; Excel shows each as an empty row, and the user
    # fixes the file by Excel's row numbers.
    lines = [
        ",".join(JA_ROWS[0]),
        "L-001,2026/01/07,展示会,商談化,",
        "",
        "L-002,2026-13-45,展示会,商談化,",
        "",
        "",
        'L-003,2026/01/09,展示会,不明,"二行の' + end + 'メモ"',
        "L-004,2026/01/10,展示会,不明,",
    ]
    path = tmp_path / "leads.csv"
    path.write_bytes((end.join(lines) + end).encode(encoding))
    batch = read_and_map(path, _mapping(tmp_path))
    assert [(r.row, r.column) for r in batch.rejects] == [
        (4, "作成日"),
        (7, "ステージ"),
        (8, "ステージ"),
    ]
    assert batch.tables["leads"].column("lead_id").to_pylist() == ["L-001"]


def test_short_rows_are_padded(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_bytes("リードID,作成日,流入経路,ステージ\r\nL-1,2026/01/07\r\n".encode())
    batch = read_and_map(path, _mapping(tmp_path))
    assert batch.tables["leads"].column("channel").to_pylist() == [None]


def test_progress_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path / "leads.csv", JA_ROWS, "utf-8")
    calls: list[tuple[int, int | None]] = []
    read_and_map(path, _mapping(tmp_path), progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, None)
    assert calls[-1] == (3, 3)


def _workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "メモ"
    ws.append(["これは説明シートです"])
    ws2 = wb.create_sheet("リード")
    ws2.append(["リードID", "作成日", "流入経路", "ステージ", "金額"])
    ws2.append(["L-001", dt.datetime(2026, 1, 7, 9, 5), "展示会", "商談化", 1200])
    ws2.append(["L-002", 46030, "ウェビナー", "受注", 1.5])  # an Excel serial date
    ws2.append([None, None, None, None, None])  # an empty row inside the used range
    ws2.append(["L-003", "2026/01/09", "Web広告", "リード", "¥1,000"])
    ws2.append(["L-004", "来週", "Web広告", "リード", None])
    wb.save(path)
    return path


def test_xlsx_sheet_selection_dates_and_serials(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "leads.xlsx")
    batch = read_and_map(path, _mapping(tmp_path), sheet="リード")
    leads = batch.tables["leads"]
    assert batch.rows_read == 4
    assert leads.column("lead_id").to_pylist() == ["L-001", "L-002", "L-003"]
    assert leads.column("created_at").to_pylist() == [
        dt.datetime(2026, 1, 7, 0, 5, tzinfo=UTC),
        dt.datetime(2026, 1, 7, 15, 0, tzinfo=UTC),
        dt.datetime(2026, 1, 8, 15, 0, tzinfo=UTC),
    ]
    assert '"金額":"1200"' in leads.column("attributes")[0].as_py()
    # Row numbers are Excel's, including the skipped empty row 4.
    assert [(r.row, r.column, r.value) for r in batch.rejects] == [(6, "作成日", "来週")]


def test_xlsx_default_first_sheet_and_unknown_sheet(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "leads.xlsx")
    with pytest.raises(DataError) as info:
        read_and_map(path, _mapping(tmp_path))  # first sheet has no such headers
    assert "has no column 'リードID'" in str(info.value)
    with pytest.raises(DataError) as info:
        read_and_map(path, _mapping(tmp_path), sheet="リー")
    assert "has no sheet 'リー' (sheets: メモ, リード) (did you mean 'リード'?)" in str(info.value)


def test_sheet_from_mapping(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "leads.xlsx")
    mapping = _mapping(
        tmp_path, JA_MAPPING.replace("mapping: 1\n", "mapping: 1\nsource: {sheet: リード}\n")
    )
    assert read_and_map(path, mapping).tables["leads"].num_rows == 3


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_and_map(tmp_path / "nope.csv", _mapping(tmp_path))
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        read_and_map(tmp_path / "empty.csv", _mapping(tmp_path))
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf")
    with pytest.raises(DataError, match="old Excel format"):
        read_and_map(tmp_path / "old.xls", _mapping(tmp_path))


def test_import_path_does_not_load_pandas(tmp_path: Path) -> None:
    # pyarrow imports pandas (about half a second) as soon as it converts a Python
    # value; reading, mapping and writing a file must not.
    import subprocess
    import sys

    rows = [*JA_ROWS, ["L-004", "2026/1/9 9:05", " 展示会 ", "失注", ""]]
    path = _write(tmp_path / "leads.csv", rows, "utf-8")
    (tmp_path / "m.yaml").write_text(JA_MAPPING, encoding="utf-8")
    code = (
        "import sys\n"
        "from kpitree.data.mapping import load_mapping\n"
        "from kpitree.data.readers import read_and_map\n"
        "from kpitree.data.warehouse import Warehouse\n"
        f"batch = read_and_map({str(path)!r}, load_mapping({str(tmp_path / 'm.yaml')!r}))\n"
        f"Warehouse({str(tmp_path / 'w.duckdb')!r}).apply(batch, skip_invalid=False)\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_scan_of_a_files_bytes_is_reused_only_for_the_same_unchanged_file(
    tmp_path: Path,
) -> None:
    """A scan stands for the file while it is the same file, unchanged: not after
    a byte is added, nor after its bytes change with its size and modification
    time kept, nor for another file renamed over it; and not for a UTF-8 check
    it did not make."""
    import os

    from kpitree.data.textfile import scan_bytes

    path = tmp_path / "leads.csv"
    path.write_bytes(b"id,name\r\nL1,\xe4\xbd\x90\xe8\x97\xa4\r\n")
    scan = scan_bytes(path, utf8=True)
    assert scan.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert scan.of_file(path, utf8=True) and scan.of_file(path, utf8=False)
    assert not scan_bytes(path).of_file(path, utf8=True)

    st = path.stat()
    probe = tmp_path / "probe"
    probe.touch()
    while probe.stat().st_ctime_ns == st.st_ctime_ns:  # the file system's clock moves on
        probe.touch()
    path.write_bytes(path.read_bytes().replace(b"L1", b"L2"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert not scan.of_file(path, utf8=False)

    scan = scan_bytes(path)
    with path.open("ab") as fh:
        fh.write(b"L3,x\r\n")
    assert not scan.of_file(path, utf8=False)

    scan = scan_bytes(path)
    other = tmp_path / "other.csv"
    other.write_bytes(path.read_bytes())
    other.replace(path)
    assert not scan.of_file(path, utf8=False)
    path.unlink()
    assert not scan.of_file(path, utf8=False)
