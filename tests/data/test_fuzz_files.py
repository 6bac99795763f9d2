"""Fuzzing every reader with bad files (hypothesis): whatever the bytes, an import
either succeeds with exactly what the file says or is refused with a located
user error, rendered by the CLI without a traceback; a refused import leaves
every canonical table byte for byte as it was.

The default run is bounded (a few tens of seconds); ``-m slow`` runs the heavier
profile with many more examples."""

from __future__ import annotations

import codecs
import io
import os
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitree.cli.output import format_diagnostic
from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map
from kpitree.data.warehouse import Warehouse
from kpitree.errors import UserError
from kpitree.i18n import set_lang

from .warehouse_support import snapshot

MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: ID
    created_at: Created
    amount: {column: Amount, optional: true}
    stage: {column: Stage, optional: true}
    status: {value: open}
  accounts:
    account_id: {column: Account, optional: true}
    employees: {column: Employees, optional: true}
"""
HEADERS = ["ID", "Created", "Amount", "Stage", "Account", "Employees"]

FAST = settings(
    max_examples=int(os.environ.get("KPITREE_FUZZ_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
SLOW = settings(FAST, max_examples=400)

# Cell texts at the edges of every canonical type, and of text itself.
EDGE_CELLS = st.sampled_from(
    [
        "", " ", "0", "-0", "1e400", "-1e400", "1e16", "9007199254740992", "nan", "inf",
        "1,234", "¥1,234", "△5", "(5)", "1.5", "2147483648", "12345678901234567890",
        "2026/01/07", "2026-01-07T09:00:00+09:00", "2026-01-07T09:00:00+25:00",
        "0000/01/01", "-2026-01-01", "99999/01/01", "26/01/07", "1899/12/31",
        "2100/12/31", "2026年1月7日", "４６０２９", "日本", "ﾃｽﾄ", "𠮷野家", "??",
        '"', '""', "a,b", "a\nb", "a\rb", "\t", "=1+1", "\ufeff", "\x00", "é",
    ]
)  # fmt: skip
CELLS = st.one_of(EDGE_CELLS, st.text(max_size=12))
ROWS = st.lists(st.lists(CELLS, min_size=0, max_size=8), min_size=0, max_size=8)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "cp932", "utf-16", "latin-1"])
LINE_ENDS = st.sampled_from(["\r\n", "\n", "\r"])


@pytest.fixture(autouse=True)
def _english() -> object:
    set_lang("en")
    yield
    set_lang(None)


def _csv_bytes(rows: list[list[str]], encoding: str, end: str, quote_all: bool) -> bytes:
    lines = []
    for row in [HEADERS, *rows]:
        cells = []
        for cell in row:
            if quote_all or any(c in cell for c in ',"\r\n'):
                cell = '"' + cell.replace('"', '""') + '"'
            cells.append(cell)
        lines.append(",".join(cells))
    text = end.join(lines) + end
    return text.encode(encoding, errors="replace")


def _check(path: Path, mapping: Path, warehouse: Warehouse, **kw: object) -> None:
    """Import ``path``: either it is refused with located user errors and the
    warehouse is unchanged, or every stored value is what the file said."""
    before = snapshot(warehouse)
    try:
        batch = read_and_map(path, load_mapping(mapping), **kw)  # type: ignore[arg-type]
    except UserError as exc:
        for diag in exc.diagnostics:
            text = format_diagnostic(diag)
            assert "Traceback" not in text and diag.code.startswith("KT")
            assert diag.span is None or diag.span.line >= 1
        assert snapshot(warehouse) == before
        return
    if batch.rejects:
        with pytest.raises(UserError):
            warehouse.apply(batch, skip_invalid=False)
        assert snapshot(warehouse) == before
        return
    warehouse.apply(batch, skip_invalid=False)
    after = snapshot(warehouse)
    for rows in after.values():
        for row in rows:
            for value in row:
                assert value is None or ("\x00" not in value and "\ufeff" not in value)
                assert value not in ("inf", "-inf", "nan")


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, Warehouse]:
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    good = tmp_path / "seed.csv"
    good.write_text(
        "ID,Created,Amount,Stage,Account,Employees\nS1,2026/01/07,100,open,A1,10\n",
        encoding="utf-8",
    )
    warehouse.apply(read_and_map(good, load_mapping(tmp_path / "m.yaml")), skip_invalid=False)
    return tmp_path, warehouse


def _csv_case(
    place: tuple[Path, Warehouse],
    rows: list[list[str]],
    encoding: str,
    end: str,
    quote_all: bool,
    garbage: bytes,
    at: float,
) -> None:
    folder, warehouse = place
    data = _csv_bytes(rows, encoding, end, quote_all)
    cut = int(len(data) * at)
    data = data[:cut] + garbage + data[cut:]
    path = folder / "f.csv"
    path.write_bytes(data)
    _check(path, folder / "m.yaml", warehouse)


@FAST
@given(
    rows=ROWS,
    encoding=ENCODINGS,
    end=LINE_ENDS,
    quote_all=st.booleans(),
    garbage=st.binary(max_size=4),
    at=st.floats(0, 1),
)
def test_csv_files(
    place: tuple[Path, Warehouse],
    rows: list[list[str]],
    encoding: str,
    end: str,
    quote_all: bool,
    garbage: bytes,
    at: float,
) -> None:
    _csv_case(place, rows, encoding, end, quote_all, garbage, at)


@pytest.mark.slow
@SLOW
@given(
    rows=ROWS,
    encoding=ENCODINGS,
    end=LINE_ENDS,
    quote_all=st.booleans(),
    garbage=st.binary(max_size=8),
    at=st.floats(0, 1),
)
def test_csv_files_many(
    place: tuple[Path, Warehouse],
    rows: list[list[str]],
    encoding: str,
    end: str,
    quote_all: bool,
    garbage: bytes,
    at: float,
) -> None:
    _csv_case(place, rows, encoding, end, quote_all, garbage, at)


@FAST
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_as_csv(place: tuple[Path, Warehouse], raw: bytes) -> None:
    folder, warehouse = place
    path = folder / "f.csv"
    path.write_bytes(codecs.BOM_UTF8 * (len(raw) % 2) + b"ID,Created\n" + raw)
    _check(path, folder / "m.yaml", warehouse)


XLSX_CELLS = st.one_of(
    EDGE_CELLS,
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)


def _xlsx_case(place: tuple[Path, Warehouse], rows: list[list[object]]) -> None:
    folder, warehouse = place
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for row in rows:
        cells = []
        for cell in row:
            if isinstance(cell, str):
                # openpyxl refuses control characters XML cannot hold.
                cell = "".join(c for c in cell if c in "\t\n\r" or ord(c) >= 0x20)
            cells.append(cell)
        ws.append(cells)
    buffer = io.BytesIO()
    wb.save(buffer)
    path = folder / "f.xlsx"
    path.write_bytes(buffer.getvalue())
    _check(path, folder / "m.yaml", warehouse)


@FAST
@given(rows=st.lists(st.lists(XLSX_CELLS, max_size=7), max_size=6))
def test_xlsx_files(place: tuple[Path, Warehouse], rows: list[list[object]]) -> None:
    _xlsx_case(place, rows)


@FAST
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_as_xlsx(place: tuple[Path, Warehouse], raw: bytes) -> None:
    folder, warehouse = place
    path = folder / "f.xlsx"
    path.write_bytes(b"PK\x03\x04" + raw)
    _check(path, folder / "m.yaml", warehouse)
