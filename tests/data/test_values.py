"""Every value format Japanese exports use, parsed in one CSV, and every bad cell
reported with its exact row, column and value."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map
from kpitree.i18n import set_lang

UTC = dt.UTC


@pytest.fixture(autouse=True)
def _english() -> object:
    set_lang("en")
    yield
    set_lang(None)


MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: ID
    created_at: Created
    close_date: {column: Closed, optional: true}
    amount: {column: Amount, optional: true}
    status: {value: open}
"""


def _run(tmp_path: Path, rows: list[list[str]], mapping: str = MAPPING) -> object:
    (tmp_path / "m.yaml").write_text(mapping, encoding="utf-8")
    with (tmp_path / "d.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "Created", "Closed", "Amount"])
        w.writerows(rows)
    return read_and_map(tmp_path / "d.csv", load_mapping(tmp_path / "m.yaml"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¥1,234,567", 1234567.0),
        ("￥1,234,567", 1234567.0),
        ("1,234,567円", 1234567.0),
        ("$1,234.50", 1234.5),
        ("１２３４", 1234.0),
        ("１，２３４円", 1234.0),
        ("△500", -500.0),
        ("(1,000)", -1000.0),
        ("-5", -5.0),
        ("1234", 1234.0),
        ("", None),
    ],
)
def test_amounts(tmp_path: Path, text: str, expected: float | None) -> None:
    batch = _run(tmp_path, [["D1", "2026/01/07", "", text]])
    assert batch.rejects == []
    assert batch.tables["deals"].column("amount").to_pylist() == [expected]


def test_currency_from_symbol(tmp_path: Path) -> None:
    mapping = MAPPING + "defaults: {currency: JPY}\n"
    batch = _run(
        tmp_path,
        [
            ["A", "2026/01/07", "", "$10"],
            ["B", "2026/01/07", "", "10円"],
            ["C", "2026/01/07", "", "10"],
        ],
        mapping,
    )
    assert batch.tables["deals"].column("currency").to_pylist() == ["USD", "JPY", "JPY"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026/01/07", dt.datetime(2026, 1, 6, 15, 0, tzinfo=UTC)),
        ("2026-01-07", dt.datetime(2026, 1, 6, 15, 0, tzinfo=UTC)),
        ("2026年1月7日", dt.datetime(2026, 1, 6, 15, 0, tzinfo=UTC)),
        ("２０２６／０１／０７", dt.datetime(2026, 1, 6, 15, 0, tzinfo=UTC)),
        ("2026/1/7 9:05", dt.datetime(2026, 1, 7, 0, 5, tzinfo=UTC)),
        ("2026-01-07T09:00:00+09:00", dt.datetime(2026, 1, 7, 0, 0, tzinfo=UTC)),
        ("2026-01-07T09:00:00Z", dt.datetime(2026, 1, 7, 9, 0, tzinfo=UTC)),
        ("2026-01-07 09:00:00.250-03:00", dt.datetime(2026, 1, 7, 12, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps_local_to_utc(tmp_path: Path, text: str, expected: dt.datetime) -> None:
    batch = _run(tmp_path, [["D1", text, "", ""]])
    assert batch.rejects == []
    assert batch.tables["deals"].column("created_at").to_pylist() == [expected]


def test_dates_and_zone_conversion(tmp_path: Path) -> None:
    batch = _run(
        tmp_path,
        [
            ["A", "2026/01/07", "2026年1月31日", ""],
            # 20:00 UTC on the 7th is already the 8th in Tokyo.
            ["B", "2026/01/07", "2026-01-07T20:00:00Z", ""],
        ],
    )
    assert batch.tables["deals"].column("close_date").to_pylist() == [
        dt.date(2026, 1, 31),
        dt.date(2026, 1, 8),
    ]


def test_excel_serial_in_csv_when_mapping_says_so(tmp_path: Path) -> None:
    mapping = MAPPING.replace(
        "close_date: {column: Closed, optional: true}",
        "close_date: {column: Closed, excel_serial: true}",
    )
    batch = _run(tmp_path, [["A", "2026/01/07", "46029", ""]], mapping)
    assert batch.tables["deals"].column("close_date").to_pylist() == [dt.date(2026, 1, 7)]
    # Without the hint a bare number is not a date.
    batch = _run(tmp_path, [["A", "2026/01/07", "46029", ""]])
    assert [(r.row, r.column, r.value) for r in batch.rejects] == [(2, "Closed", "46029")]


def test_custom_format(tmp_path: Path) -> None:
    mapping = MAPPING.replace(
        "created_at: Created", "created_at: {column: Created, format: '%m/%d/%Y %I:%M %p'}"
    )
    batch = _run(
        tmp_path, [["A", "1/7/2026 9:05 PM", "", ""], ["B", "2026/01/07", "", ""]], mapping
    )
    assert batch.rejects == []
    assert batch.tables["deals"].column("created_at").to_pylist() == [
        dt.datetime(2026, 1, 7, 12, 5, tzinfo=UTC),
        dt.datetime(2026, 1, 6, 15, 0, tzinfo=UTC),
    ]


def test_bad_cells_become_rejects(tmp_path: Path) -> None:
    batch = _run(
        tmp_path,
        [
            ["OK", "2026/01/07", "", "100"],
            ["BADDATE", "2026-13-45", "", ""],
            ["BADNUM", "2026/01/07", "", "12abc"],
            ["BADGROUP", "2026/01/07", "", "1,23"],
            ["", "2026/01/07", "", ""],
            ["BADCLOSE", "2026/01/07", "2026/02/30", ""],
            ["PM", "2026/01/07 9:05 PM", "", ""],
            ["OK", "2026/01/08", "", ""],
        ],
    )
    got = [(r.file, r.row, r.column, r.value) for r in batch.rejects]
    f = str(tmp_path / "d.csv")
    assert got == [
        (f, 3, "Created", "2026-13-45"),
        (f, 4, "Amount", "12abc"),
        (f, 5, "Amount", "1,23"),
        (f, 6, "ID", None),
        (f, 7, "Closed", "2026/02/30"),
        (f, 8, "Created", "2026/01/07 9:05 PM"),
        (f, 9, "ID", "OK"),
    ]
    reasons = [r.reason for r in batch.rejects]
    assert reasons[0] == (
        "not a date and time: '2026-13-45'; expected e.g. 2026/01/07 9:05 or "
        "2026-01-07T09:05:00+09:00"
    )
    assert reasons[1] == "not a number: '12abc'; expected e.g. 1,234,567 or ¥1,234,567"
    assert reasons[3] == "ID is blank but required"
    assert reasons[4] == "not a date: '2026/02/30'; expected e.g. 2026/01/07"
    assert reasons[6] == "duplicate id 'OK' in ID: already on row 2"
    assert batch.tables["deals"].column("deal_id").to_pylist() == ["OK"]
    assert [r["__row__"] for r in batch.rejected_rows] == ["3", "4", "5", "6", "7", "8", "9"]
    assert batch.rejected_rows[0] == {
        "__row__": "3",
        "ID": "BADDATE",
        "Created": "2026-13-45",
        "Closed": "",
        "Amount": "",
    }


def test_reject_reason_in_japanese(tmp_path: Path) -> None:
    set_lang("ja")
    batch = _run(tmp_path, [["X", "2026-13-45", "", ""]])
    assert (
        batch.rejects[0].reason
        == "日時ではありません: '2026-13-45'。例: 2026/01/07 9:05、2026-01-07T09:05:00+09:00"
    )


def test_integer_columns(tmp_path: Path) -> None:
    mapping = "mapping: 1\ntables:\n  accounts:\n    account_id: ID\n    employees: Created\n"
    batch = _run(
        tmp_path, [["A", "1,200", "", ""], ["B", "１２", "", ""], ["C", "12.5", "", ""]], mapping
    )
    assert batch.tables["accounts"].column("employees").to_pylist() == [1200, 12]
    assert [(r.row, r.value, r.reason) for r in batch.rejects] == [
        (4, "12.5", "not a whole number: '12.5'; expected e.g. 1,200")
    ]


def test_fast_and_general_date_parsing_agree(tmp_path: Path) -> None:
    # Most cells in the detected format (read by the fast path), odd ones in between
    # (read by the general parser): the same instants either way, and spaces, tabs
    # and line breaks around a date are ignored by both.
    rows = [[f"D{i}", "2026/01/07 9:05", "", ""] for i in range(50)]
    rows += [
        ["X1", "2026年1月7日 9:05", "", ""],
        ["X2", "２０２６/０１/０７ ９:０５", "", ""],
        ["X3", " 2026/01/07 9:05 ", "", ""],
        ["X4", "\t2026/1/7 9:05\t", "", ""],
        ["X5", "2026-01-07T09:05:00+09:00", "", ""],
        ["X6", "\u30002026/01/07 9:05", "", ""],
        ["X7", "   ", "", ""],
    ]
    batch = _run(tmp_path, rows)
    # The blank one is a required cell left empty, nothing else is rejected.
    assert [(r.row, r.column) for r in batch.rejects] == [(58, "Created")]
    created = batch.tables["deals"].column("created_at").to_pylist()
    assert created == [dt.datetime(2026, 1, 7, 0, 5, tzinfo=UTC)] * 56


def test_ids_equal_after_trimming_are_duplicates(tmp_path: Path) -> None:
    batch = _run(
        tmp_path,
        [
            ["A", "2026/01/07", "", ""],
            ["B", "2026/01/07", "", ""],
            [" A\u3000", "2026/01/08", "", ""],
        ],
    )
    assert [(r.row, r.column, r.value) for r in batch.rejects] == [(4, "ID", "A")]
    assert batch.tables["deals"].column("deal_id").to_pylist() == ["A", "B"]


def test_text_is_trimmed_and_blank_text_is_null(tmp_path: Path) -> None:
    mapping = MAPPING.replace("amount: {column: Amount, optional: true}", "stage: Amount")
    batch = _run(
        tmp_path,
        [
            ["\u3000A ", "2026/01/07", "", " 提案\u3000"],
            ["B", "2026/01/07", "", "\u00a0 "],
            [" \u3000", "2026/01/07", "", ""],
        ],
        mapping,
    )
    assert [(r.row, r.column, r.value) for r in batch.rejects] == [(4, "ID", None)]
    deals = batch.tables["deals"]
    assert deals.column("deal_id").to_pylist() == ["A", "B"]
    assert deals.column("stage").to_pylist() == ["提案", None]


def test_fast_path_keeps_the_zone_history(tmp_path: Path) -> None:
    # Japan kept daylight saving time in 1948-1951: a local time then is UTC+10.
    # The fast path (plain offset arithmetic where the zone has one offset) must
    # agree with the time zone database on both sides of that period.
    rows = [[f"D{i}", "2026/01/07 9:05", "", ""] for i in range(20)]
    rows += [["OLD", "1950/07/01 12:00", "", ""], ["FAR", "2105/07/01 12:00", "", ""]]
    # Beyond the default date range (2100-12-31): widened for this test.
    wide = MAPPING.replace("tables:", "source: {latest_date: 2200-12-31}\ntables:")
    batch = _run(tmp_path, rows, wide)
    created = batch.tables["deals"].column("created_at").to_pylist()
    assert created[0] == dt.datetime(2026, 1, 7, 0, 5, tzinfo=UTC)
    assert created[-2] == dt.datetime(1950, 7, 1, 2, 0, tzinfo=UTC)
    assert created[-1] == dt.datetime(2105, 7, 1, 3, 0, tzinfo=UTC)


def test_fixed_offset_zones() -> None:
    from kpitree.data.values import fixed_offset

    assert fixed_offset("America/New_York") is None  # daylight saving time
    assert fixed_offset("No/Such_Zone") is None
    offset, since, until = fixed_offset("Asia/Tokyo") or (0, "", "")
    assert (offset, until) == (9 * 3600, "2100-01-01 09:00:00")
    assert since <= "1970-01-08"
    shanghai = fixed_offset("Asia/Shanghai")
    assert shanghai is not None and shanghai[1].startswith("1991-09-1")  # DST until 1991
