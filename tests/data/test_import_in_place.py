"""A CSV read inside the warehouse's own DuckDB connection
(:meth:`Warehouse.import_files`) gives the same warehouse, row by row in every
table, as the same file read into Arrow (:func:`read_and_map`) and applied
(:meth:`Warehouse.apply_many`): Japanese headers, Shift_JIS, blanks, spaces,
bad dates, repeated ids, rejected rows, a second import that updates; and a
failure anywhere writes nothing."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kpitree.data.importlog import ImportResult
from kpitree.data.mapping import Mapping, load_mapping
from kpitree.data.readers import Progress, read_and_map
from kpitree.data.warehouse import Warehouse
from kpitree.errors import DataError, Span
from kpitree.i18n import set_lang

MAPPING = """\
mapping: 1
name: ja leads
values:
  channels: {ウェブ: web, 展示会: event, ウェビナー: webinar}
tables:
  leads:
    lead_id: リードID
    created_at: 作成日時
    channel: {column: 流入経路, map: channels}
    owner_id: 担当者
    account_id: 会社ID
    region: 地域
  lead_stage_history:
    lead_id: リードID
    stages:
      mql: MQL日
      sql: SQL日
  accounts:
    account_id: 会社ID
    name: 会社名
    employees: 従業員数
"""
HEADERS = ["リードID", "作成日時", "流入経路", "担当者", "会社ID", "会社名", "従業員数", "地域"]
HEADERS += ["MQL日", "SQL日", "メモ"]


@pytest.fixture(autouse=True)
def _english() -> Any:
    set_lang("en")
    yield
    set_lang(None)


def _rows(n: int, seed: int, *, bad: bool) -> list[list[str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        day = 1 + i % 28
        created = rng.choice([f"2026/01/{day:02d} 9:{i % 60:02d}", f"2026年1月{day}日"])
        mql = rng.choice(["", f"2026/02/{day:02d}", f" 2026/02/{day:02d} "])
        sql = "" if not mql or rng.random() < 0.5 else f"2026/03/{day:02d} 10:00"
        account = f"C{i % 37:03d}"
        rows.append(
            [
                f"L{i:05d}",
                created,
                rng.choice(["ウェブ", "展示会", " ウェビナー ", ""]),
                rng.choice(["佐藤", " 鈴木 ", "", "髙橋"]),
                account,
                rng.choice([f"株式会社{account}", f" ﾃｽﾄ商事{account} ", ""]),
                rng.choice(["", "120", "45", "1,200"]),
                rng.choice(["関東", "関西", "　", ""]),
                mql,
                sql,
                rng.choice(["", "メモ①", "a,b"]),
            ]
        )
    if bad:
        rows[5][1] = "2026/13/45"  # a bad date: the row is rejected
        rows[9][8] = "明日"  # a bad stage date
        rows[20][0] = rows[3][0]  # a repeated id
    return rows


def _write(path: Path, rows: list[list[str]], encoding: str) -> Path:
    lines = []
    for row in [HEADERS, *rows]:
        cells = ['"' + c.replace('"', '""') + '"' if "," in c else c for c in row]
        lines.append(",".join(cells))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def _mapping(tmp_path: Path) -> Mapping:
    p = tmp_path / "mapping.yaml"
    p.write_text(MAPPING, encoding="utf-8")
    return load_mapping(p)


def _snapshot(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the warehouse file, every row, as text in a stable order
    (without the clock times of kpitree's bookkeeping: when it wrote, not what)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with wh.connect() as con:
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND NOT temporary ORDER BY table_name"
        ).fetchall()
        for (name,) in tables:
            cols = [
                c
                for (c, kind) in con.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                    "AND database_name = current_database() ORDER BY column_index",
                    [name],
                ).fetchall()
                if not (name.startswith("kpitree_") and kind.startswith("TIMESTAMP"))
            ]
            text = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)
            order = ", ".join(str(i + 1) for i in range(len(cols)))
            rows = con.execute(f'SELECT {text} FROM "{name}" ORDER BY {order}').fetchall()
            # Paths of rejected rows' files name the warehouse's own folder.
            folder = str(wh.path.parent)
            out[name] = [tuple(v and v.replace(folder, "<wh>") for v in r) for r in rows]
    return out


def _counts(results: list[ImportResult]) -> list[Any]:
    return [(r.import_id, r.rows_read, r.rejected, r.tables, r.file_hash) for r in results]


def _both(
    tmp_path: Path, files: list[Path], mapping: Mapping, *, skip_invalid: bool = True
) -> tuple[Warehouse, Warehouse, list[Any], list[Any]]:
    """The files imported into two new warehouses, through Arrow and in place."""
    arrow = Warehouse(tmp_path / "arrow" / "warehouse.duckdb")
    place = Warehouse(tmp_path / "place" / "warehouse.duckdb")
    batches = [read_and_map(f, mapping) for f in files]
    by_arrow = arrow.apply_many(batches, skip_invalid=skip_invalid)
    kept, by_place = place.import_files([str(f) for f in files], mapping, skip_invalid=skip_invalid)
    assert _counts(by_place) == _counts(by_arrow)
    for a, b in zip(batches, kept, strict=True):
        assert [(r.row, r.column, r.value, r.reason) for r in b.rejects] == [
            (r.row, r.column, r.value, r.reason) for r in a.rejects
        ]
        assert b.rejected_rows == a.rejected_rows
        same = ("mapping_hash", "file_hash", "rows_read")
        assert [getattr(b, k) for k in same] == [getattr(a, k) for k in same]
        assert b.warnings == a.warnings
    return arrow, place, by_arrow, by_place


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_in_place_gives_the_same_warehouse(tmp_path: Path, encoding: str) -> None:
    mapping = _mapping(tmp_path)
    first = _write(tmp_path / "leads.csv", _rows(1500, 1, bad=True), encoding)
    arrow, place, by_arrow, _ = _both(tmp_path, [first], mapping)
    assert by_arrow[0].rejected == 3  # the bad date, the bad stage date, the repeated id
    leads = {c.table: c for c in by_arrow[0].tables}["leads"]
    assert leads.inserted == 1500 - 3  # the first row with the repeated id is kept
    wanted = _snapshot(arrow)
    assert wanted["leads"] and wanted["accounts"] and wanted["lead_stage_history"]
    assert _snapshot(place) == wanted
    # The rejected rows' files are the same too.
    for r_a, r_p in zip(arrow.imports(), place.imports(), strict=True):
        assert (r_a.rejected, r_a.status) == (r_p.rejected, r_p.status)
    for name in ("leads.rejected.csv", "leads.rejected.txt"):
        a = (arrow.rejects_dir / "import-1" / name).read_bytes()
        p = (place.rejects_dir / "import-1" / name).read_bytes()
        assert a.replace(str(arrow.path.parent).encode(), b"") == p.replace(
            str(place.path.parent).encode(), b""
        )
    # A newer export: rows changed, added, the same; both warehouses update alike.
    newer = _write(tmp_path / "newer.csv", _rows(1700, 2, bad=False), encoding)
    batch = read_and_map(newer, mapping)
    second_arrow = arrow.apply_many([batch], skip_invalid=False)
    _, second_place = place.import_files([str(newer)], mapping)
    assert _counts(second_place) == _counts(second_arrow)
    counts = {c.table: c for c in second_arrow[0].tables}
    # 200 more rows, and the 3 rejected by the first import.
    assert counts["leads"].updated > 0 and counts["leads"].inserted == 200 + 3
    assert _snapshot(place) == _snapshot(arrow)
    # And undoing the second import restores the same state in both.
    arrow.undo(2)
    place.undo(2)
    assert _snapshot(place) == _snapshot(arrow)


def test_two_files_in_one_import(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    one = _write(tmp_path / "one.csv", _rows(300, 3, bad=False), "utf-8")
    two = _write(tmp_path / "two.csv", _rows(400, 4, bad=True), "utf-8")
    arrow, place, _, by_place = _both(tmp_path, [one, two], mapping)
    assert [r.import_id for r in by_place] == [1, 2]
    assert _snapshot(place) == _snapshot(arrow)


def test_a_rejected_file_writes_nothing_and_says_the_same(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    good = _write(tmp_path / "good.csv", _rows(50, 5, bad=False), "utf-8")
    bad = _write(tmp_path / "bad.csv", _rows(50, 6, bad=True), "cp932")
    arrow = Warehouse(tmp_path / "arrow" / "warehouse.duckdb")
    place = Warehouse(tmp_path / "place" / "warehouse.duckdb")
    with pytest.raises(DataError) as by_arrow:
        batches = [read_and_map(good, mapping), read_and_map(bad, mapping)]
        arrow.apply_many(batches, skip_invalid=False)
    with pytest.raises(DataError) as by_place:
        place.import_files([str(good), str(bad)], mapping)
    assert by_place.value.diagnostics == by_arrow.value.diagnostics
    spans = [(d.code, d.span) for d in by_place.value.diagnostics if d.span is not None]
    assert spans[0][1] == Span(str(bad), 7, 2)  # file, row and column of the bad date
    assert spans[0][0] == by_arrow.value.diagnostics[0].code
    assert place.row_counts() == dict.fromkeys(place.row_counts(), 0)
    assert _snapshot(place) == _snapshot(arrow)  # two failed imports logged, nothing else
    assert [r.status for r in place.imports()] == ["failed", "failed"]


def test_a_failure_while_writing_writes_nothing(tmp_path: Path) -> None:
    """The rejected rows' folder cannot be made (a file is in its place): the
    write fails after the first file's rows went in, and all of it is undone."""
    mapping = _mapping(tmp_path)
    good = _write(tmp_path / "good.csv", _rows(300, 7, bad=False), "utf-8")
    bad = _write(tmp_path / "bad.csv", _rows(300, 8, bad=True), "utf-8")
    place = Warehouse(tmp_path / "place" / "warehouse.duckdb")
    place.migrate()
    place.rejects_dir.write_text("in the way", encoding="utf-8")
    with pytest.raises(OSError):
        place.import_files([str(good), str(bad)], mapping, skip_invalid=True)
    assert place.row_counts() == dict.fromkeys(place.row_counts(), 0)
    assert place.imports() == []
    # The connection was given back as it was: the next import works.
    place.rejects_dir.unlink()
    _, results = place.import_files([str(good)], mapping)
    assert results[0].import_id == 1 and place.row_counts()["leads"] == 300


def test_a_file_that_cannot_be_read_writes_nothing(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    good = _write(tmp_path / "good.csv", _rows(30, 9, bad=False), "utf-8")
    broken = tmp_path / "broken.csv"
    broken.write_text(",".join(HEADERS) + '\nL1,"2026/01/01\n', encoding="utf-8")
    place = Warehouse(tmp_path / "place" / "warehouse.duckdb")
    with pytest.raises(DataError) as err:
        place.import_files([str(good), str(broken)], mapping)
    assert "broken.csv" in str(err.value)
    assert place.row_counts() == dict.fromkeys(place.row_counts(), 0)


def test_the_import_command_loads_neither_pyarrow_nor_numpy(tmp_path: Path) -> None:
    """A CSV into the embedded warehouse needs no Arrow (a value map included)."""
    _mapping(tmp_path)
    _write(tmp_path / "leads.csv", _rows(200, 10, bad=False), "utf-8")
    code = (
        "import sys\n"
        "from kpitree.cli import main\n"
        "try:\n"
        "    main(['import', 'leads.csv', '--mapping', 'mapping.yaml', '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('pyarrow', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr


_DASHBOARD_READ = """\
import sys
from kpitree.engines import open_engine
with open_engine(sys.argv[1], read_only=True, lock_timeout=3.0) as engine:
    print(engine.con.execute("SELECT count(*) FROM leads").fetchall()[0][0])
"""


def test_readers_read_the_warehouse_while_the_import_reads_its_file(tmp_path: Path) -> None:
    """The file is read and parsed in the import's own database: a reader in
    another process (as the dashboard opens the warehouse) reads the rows of
    the last import meanwhile, and is kept out only while the import writes."""
    mapping = _mapping(tmp_path)
    first = _write(tmp_path / "first.csv", _rows(300, 11, bad=False), "utf-8")
    newer = _write(tmp_path / "newer.csv", _rows(500, 12, bad=False), "utf-8")
    place = Warehouse(tmp_path / "place" / "warehouse.duckdb")
    place.import_files([str(first)], mapping)
    seen: list[str] = []

    def read_by_dashboard() -> None:
        done = subprocess.run(
            [sys.executable, "-c", _DASHBOARD_READ, str(place.path)],
            capture_output=True,
            text=True,
        )
        seen.append(done.stdout.strip() or done.stderr.strip().splitlines()[-1])

    @contextmanager
    def reading(_: str) -> Iterator[Progress]:
        def progress(done: int, total: int | None) -> None:
            if total is not None and done == total:  # the text is loaded, then parsed
                read_by_dashboard()

        yield progress

    _, results = place.import_files(
        [str(newer)], mapping, reading=reading, read=lambda _: read_by_dashboard()
    )
    # While the file was parsed, and once parsed (before the write): the first import's rows.
    assert seen == ["300", "300"]
    assert results[0].import_id == 2
    read_by_dashboard()
    assert seen[-1] == "500"


def test_text_with_a_space_at_one_end_only_is_trimmed_the_same(tmp_path: Path) -> None:
    """Every space character, at the start only, at the end only, alone, and
    before a combining mark (not trimmed there): the same rows both ways."""
    from kpitree.data.fields import ZS

    mapping = _mapping(tmp_path)
    rows = _rows(4 * len(ZS) + 2, 12, bad=False)
    for i, code in enumerate(ZS):
        space = chr(code)
        rows[4 * i][3] = f"{space}佐藤"
        rows[4 * i + 1][3] = f"鈴木{space}"
        rows[4 * i + 2][5] = f"株式会社{i}{space}"
        rows[4 * i + 3][7] = space
    rows[-2][3] = "髙橋\u3000\u0301"
    rows[-1][7] = "\u3000"
    path = _write(tmp_path / "spaces.csv", rows, "utf-8")
    arrow, place, _, _ = _both(tmp_path, [path], mapping)
    snapshot = _snapshot(place)
    assert snapshot == _snapshot(arrow)
    owners = {r[0]: r for r in snapshot["leads"]}
    assert owners["L00000"][4] == "佐藤" and owners["L00001"][4] == "鈴木"


def test_a_repeated_id_alone_is_found_after_the_text_is_given_back(tmp_path: Path) -> None:
    """No other bad cell: the text is detached before the repeat check, and the
    file is read again to name the repeated rows, as the Arrow path names them."""
    mapping = _mapping(tmp_path)
    rows = _rows(300, 13, bad=False)
    rows[250][0] = rows[7][0]
    rows[299][0] = rows[7][0]
    path = _write(tmp_path / "repeats.csv", rows, "utf-8")
    arrow, place, _, by_place = _both(tmp_path, [path], mapping)
    assert by_place[0].rejected == 2  # the later rows with that id
    assert _snapshot(place) == _snapshot(arrow)


def test_a_file_changed_before_it_is_read_again_is_refused(tmp_path: Path) -> None:
    """Another program writes the file while it is imported: read again (to name
    a repeated id), it is no longer the file that was parsed."""
    mapping = _mapping(tmp_path)
    rows = _rows(100, 14, bad=False)
    rows[60][0] = rows[2][0]
    path = _write(tmp_path / "growing.csv", rows, "utf-8")
    extra = _write(tmp_path / "extra.csv", _rows(101, 14, bad=False)[100:], "utf-8")

    def progress(done: int, total: int | None) -> None:
        if done and done == total:  # the first read is done: the file grows
            with path.open("ab") as fh:
                fh.write(extra.read_bytes().split(b"\r\n", 1)[1])

    @contextmanager
    def reading(_: str) -> Iterator[Progress]:
        yield progress

    place = Warehouse(tmp_path / "place" / "warehouse.duckdb")
    with pytest.raises(DataError) as err:
        place.import_files([str(path)], mapping, skip_invalid=True, reading=reading)
    diag = err.value.diagnostics[0]
    assert diag.code == "KT574" and "growing.csv" in diag.message()
    assert place.row_counts() == dict.fromkeys(place.row_counts(), 0)


def test_dates_read_by_the_fast_formats_equal_the_general_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From 1,000 rows the formats most cells are written in are parsed first with
    strptime: every instant equals what the general parser gives alone, around
    the zone's history (Japan's summer time until 1951) and the range's ends."""
    from kpitree.data import transform

    mapping = _mapping(tmp_path)
    rows = _rows(1500, 15, bad=False)
    odd = ["1950/07/01 12:00", "1951/09/08 23:59", "1970/01/02 08:59", "1970/01/02 09:00"]
    odd += ["2099/12/31 23:59", "2100/01/01 09:00", " 2026/02/03 4:05 ", "2026/2/3 4:05"]
    for i, text in enumerate(odd):
        rows[1100 + i][1] = text
        rows[1200 + i][9] = text
    path = _write(tmp_path / "dates.csv", rows, "utf-8")
    fast = Warehouse(tmp_path / "fast" / "warehouse.duckdb")
    fast.import_files([str(path)], mapping)
    monkeypatch.setattr(transform, "_FAST_FROM", 10**9)  # the general parser only
    general = Warehouse(tmp_path / "general" / "warehouse.duckdb")
    general.import_files([str(path)], mapping)
    assert _snapshot(fast) == _snapshot(general)


def test_calendar_dates_read_by_the_fast_formats_equal_the_general_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpitree.data import transform

    (tmp_path / "deals.yaml").write_text(
        "mapping: 1\ntables:\n  deals:\n    deal_id: ID\n    created_at: Created\n"
        "    close_date: Closed\n    status: {value: open}\n",
        encoding="utf-8",
    )
    mapping = load_mapping(tmp_path / "deals.yaml")
    lines = ["ID,Created,Closed"]
    odd = ["1950/07/01", "1951/09/08", "1970/01/01", "1970/01/02", "2099/12/31", "2100/01/01"]
    odd += [" 2026/02/03 ", "2026/2/3", "2026年2月3日", "2026-02-03", ""]
    for i in range(1300):
        closed = odd[i % len(odd)] if i % 97 == 0 else f"2026/{1 + i % 12:02d}/{1 + i % 28:02d}"
        lines.append(f"D{i:05d},2026/01/{1 + i % 28:02d} 10:{i % 60:02d},{closed}")
    path = tmp_path / "deals.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast = Warehouse(tmp_path / "fast" / "warehouse.duckdb")
    fast.import_files([str(path)], mapping)
    monkeypatch.setattr(transform, "_FAST_FROM", 10**9)
    general = Warehouse(tmp_path / "general" / "warehouse.duckdb")
    general.import_files([str(path)], mapping)
    assert _snapshot(fast) == _snapshot(general)
    assert fast.row_counts()["deals"] == 1300
