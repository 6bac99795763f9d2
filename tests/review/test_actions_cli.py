"""``kpitree actions add|list|done|import`` on the planted company, and the
review pack's next-actions table read back from a filled XLSX."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project
from kpitree.reports import build_report, render

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


def test_add_list_done(planted: Path, cli: Any) -> None:
    added = cli(
        "actions", "add", "mql_rate", "--owner", "マーケ 佐藤", "--effect", "+5pt by 2025-11",
        "-m", "ナーチャリングメール", "--start", "2025-10-01", "-p", planted, "--author", "sato",
        "--json",
    )  # fmt: skip
    assert added.code == 0, added.err
    action = added.json()
    assert action["due"] == "2025-11-30" and action["created_by"] == "sato"
    listed = cli("actions", "list", "-p", planted, "--as-of", "2025-12-31", "--json")
    (row,) = listed.json()
    assert row["outcome"]["state"] == "met"
    assert row["outcome"]["before"]["volume"] > 500
    text = cli("actions", "list", "-p", planted, "--as-of", "2025-12-31", lang="ja")
    assert "達成: 実績 +" in text.out and "期待 +5.0pt" in text.out
    done = cli(
        "actions", "done", "1", "--note", "継続", "-p", planted, "--as-of", "2025-12-31", "--json"
    )
    assert done.code == 0, done.err
    history = done.json()["history"]
    assert [h["change"] for h in history] == ["created", "done"]
    assert history[1]["fields"]["outcome"]["state"] == "met"
    assert cli("actions", "list", "-p", planted, "--json").json() == []
    assert len(cli("actions", "list", "--all", "-p", planted, "--json").json()) == 1
    again = cli("actions", "done", "1", "-p", planted)
    assert again.code == 1 and "KT218" not in again.out and "done already" in again.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["mql_rat", "--effect", "+3pt", "--due", "2026-01"], "did you mean 'mql_rate'"),
        (["mql_rate", "--effect", "+3", "--due", "2026-01"], "points (pt) apply to rates only"),
        (["leads", "--effect", "lots", "--due", "2026-01"], "Cannot read the expected effect"),
        (["leads", "--effect", "+10%"], "needs an owner, a description and a due day"),
        (["leads", "--effect", "+10%", "--due", "2026-13"], "'2026-13' is not a day"),
    ],
)
def test_mistakes_say_what_to_write(
    planted: Path, cli: Any, args: list[str], expected: str
) -> None:
    result = cli("actions", "add", *args, "--owner", "x", "-m", "y", "-p", planted)
    assert result.code == 1
    assert expected in result.err
    assert "Traceback" not in result.err


def _fill(xlsx: bytes, rows: list[list[Any]]) -> bytes:
    """Write ``rows`` into the blank rows of the pack's next-actions table."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx))
    sheet = next(ws for ws in book.worksheets if ws.title in ("ネクストアクション", "Next actions"))
    header = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "No.")
    row = header + 1
    while sheet.cell(row, 2).value:  # past the actions listed already
        row += 1
    for values in rows:
        for j, value in enumerate(values, start=1):
            sheet.cell(row, j).value = value
        row += 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_pack_table_round_trips_through_xlsx(planted: Path, cli: Any, tmp_path: Path) -> None:
    cli("actions", "add", "leads", "--owner", "web", "--effect", "+10%", "--due", "2025-12-31",
        "-m", "LP改善", "--start", "2025-10-01", "-p", planted)  # fmt: skip
    project = Project.load(planted)
    report = build_report(project, "2025-11", lang="ja", as_of=dt.date(2025, 11, 30))
    assert [(a.id, a.state) for a in report.actions] == [(1, "in_progress")]
    filled = _fill(
        render(report, "xlsx"),
        [
            ["", "MQL化率", "", "IS 田中", "架電スクリプト改善", "+3pt", dt.datetime(2027, 1, 31)],
            ["", "calls", "", "IS 鈴木", "架電数増", "+20%", "2027-02"],
        ],
    )
    file = tmp_path / "pack.xlsx"
    file.write_bytes(filled)
    result = cli("actions", "import", file, "-p", planted, "--json")
    assert result.code == 0, result.err
    assert result.json() == {"created": [2, 3], "updated": []}
    actions = {a["id"]: a for a in cli("actions", "list", "-p", planted, "--json").json()}
    assert actions[2]["node"] == "mql_rate" and actions[2]["due"] == "2027-01-31"
    assert actions[3]["node"] == "calls" and actions[3]["due"] == "2027-02-28"
    # The next pack lists all three; edit one in it and import again.
    report = build_report(Project.load(planted), "2025-12", lang="en", as_of=dt.date(2025, 12, 31))
    assert [a.id for a in report.actions] == [1, 2, 3]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(render(report, "xlsx")))
    sheet = book["Next actions"]
    header = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "No.")
    assert sheet.cell(header + 2, 1).value == 2
    sheet.cell(header + 2, 6).value = "+4pt"
    book.save(file)
    result = cli("actions", "import", file, "-p", planted, "--json")
    assert result.json() == {"created": [], "updated": [2]}
    assert cli("actions", "list", "-p", planted, "--json").json()[1]["expected_effect"] == "+4pt"


def test_an_import_with_a_wrong_row_writes_nothing(planted: Path, cli: Any, tmp_path: Path) -> None:
    report = build_report(Project.load(planted), "2025-11", lang="en", as_of=dt.date(2025, 11, 30))
    file = tmp_path / "pack.xlsx"
    file.write_bytes(
        _fill(
            render(report, "xlsx"),
            [
                ["", "leads", "", "web", "LP", "+10%", "2027-01"],
                ["", "leeds", "", "web", "LP", "+10%", "2027-01"],
                ["", "leads", "", "web", "LP", "+3pt", "2027-01"],
            ],
        )
    )
    result = cli("actions", "import", file, "-p", planted)
    assert result.code == 1
    lines = result.err.splitlines()
    assert any("[Next actions]:" in line and "did you mean 'leads'" in line for line in lines)
    assert any("points (pt)" in line for line in lines)
    assert cli("actions", "list", "-p", planted, "--json").json() == []


def _type_into_html(page: str, rows: list[list[str]]) -> str:
    """What a browser saves after typing into the pack's editable blank rows."""
    import html
    import re

    texts = iter([text for row in rows for text in row])

    def typed(match: re.Match[str]) -> str:
        text = next(texts, "")
        return f'<td class="" contenteditable="true">{html.escape(text)}</td>'

    return re.sub(r'<td class="" contenteditable="true"></td>', typed, page)


def test_the_html_pack_round_trips_saved_from_the_browser(
    planted: Path, cli: Any, tmp_path: Path
) -> None:
    report = build_report(Project.load(planted), "2025-11", lang="ja", as_of=dt.date(2025, 11, 30))
    page = render(report, "html").decode("utf-8")
    assert page.count('contenteditable="true"') == 6 * report.next_action_rows
    assert "<script" not in page
    filled = _type_into_html(
        page, [["MQL化率", "", "IS 田中", "架電 & <スクリプト>", "+3pt", "2027-01"]]
    )
    file = tmp_path / "pack.html"
    file.write_text(filled, encoding="utf-8")
    result = cli("actions", "import", file, "-p", planted, "--json")
    assert result.code == 0, result.err
    assert result.json() == {"created": [1], "updated": []}
    (action,) = cli("actions", "list", "-p", planted, "--json").json()
    assert (action["node"], action["owner"], action["description"], action["due"]) == (
        "mql_rate", "IS 田中", "架電 & <スクリプト>", "2027-01-31",
    )  # fmt: skip
    from kpitree.reports.html import render_html

    assert "contenteditable" not in render_html(report, for_print=True)  # the PDF's page


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_a_csv_of_the_table_imports_and_a_wrong_cell_is_located(
    planted: Path, cli: Any, tmp_path: Path, encoding: str
) -> None:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["メモ"])
    writer.writerow(
        ["No.", "ノード", "セグメント", "担当", "施策", "期待効果", "期限", "進捗・結果"]
    )
    writer.writerow(["", "calls", "", "IS 鈴木", "架電数増", "+20%", "2027-02", ""])
    writer.writerow(["", "leeds", "", "web", "LP", "+10%", "2027-01", ""])
    file = tmp_path / "table.csv"
    file.write_bytes(buffer.getvalue().encode(encoding))
    result = cli("actions", "import", file, "-p", planted)
    assert result.code == 1
    assert f"{file}:4:2: error:" in result.err and "did you mean 'leads'" in result.err
    assert cli("actions", "list", "-p", planted, "--json").json() == []
    file.write_bytes(buffer.getvalue().replace("leeds", "leads").encode(encoding))
    result = cli("actions", "import", file, "-p", planted, "--json")
    assert result.json() == {"created": [1, 2], "updated": []}
    no_table = tmp_path / "other.html"
    no_table.write_text("<table><tr><th>a</th></tr></table>", encoding="utf-8")
    assert "No next-actions table" in cli("actions", "import", no_table, "-p", planted).err


def test_the_next_pack_shows_last_months_outcome_and_open_progress(planted: Path, cli: Any) -> None:
    """December's pack: the action whose window ended in November with its
    measured outcome and the volume behind it; the running one with the share
    of its window passed."""
    cli("actions", "add", "mql_rate", "--owner", "web", "--effect", "+5pt", "--due", "2025-11-30",
        "-m", "nurture", "--start", "2025-10-01", "-p", planted)  # fmt: skip
    cli("actions", "add", "leads", "--owner", "web", "--effect", "+5%", "--due", "2026-01-31",
        "-m", "LP", "--start", "2025-12-01", "-p", planted)  # fmt: skip
    project = Project.load(planted)
    report = build_report(project, "2025-12", lang="en", as_of=dt.date(2025, 12, 31))
    ended, running = report.actions
    assert (ended.state, running.state) == ("met", "in_progress")
    listed = cli("actions", "list", "-p", planted, "--as-of", "2025-12-31", "--json").json()
    before, after = (listed[0]["outcome"][w]["volume"] for w in ("before", "after"))
    assert f"volume {before:,.0f} before, {after:,.0f} after" in ended.outcome
    assert running.outcome.startswith("In progress (50% of the window): realised ")
    md = render(report, "md").decode()
    assert ended.outcome.replace("|", "\\|") in md or ended.outcome in md
    ja = build_report(project, "2025-12", lang="ja", as_of=dt.date(2025, 12, 31))
    assert "母数 前" in ja.actions[0].outcome and "期間の50%経過" in ja.actions[1].outcome
