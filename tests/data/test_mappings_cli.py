"""``kpitree mappings list | show | detect`` through the real entry point, on
export files written here; and the closest-header hint of ``kpitree import``."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kpitree.cli import main
from kpitree.data.mapping import preset_names
from kpitree.source import parse_yaml

HUBSPOT_CONTACTS_EN = [
    ["Record ID", "First Name", "Last Name", "Email", "Create Date", "Lifecycle Stage"],
    ["101", "Taro", "Yamada", "t@example.jp", "2026-01-07 09:05", "Lead"],
]
SALESFORCE_OPPS_JA = [
    ["商談 所有者", "取引先名", "商談名", "フェーズ", "金額", "完了予定日", "作成日", "商談 ID"],
    ["佐藤 花子", "株式会社サンプル", "サンプル 100席", "成立", "1,200,000", "2026/03/31",
     "2026/01/07", "0065g00000XyZ01"],
]  # fmt: skip


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def kpitree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPITREE_LANG", "en")

    def run(*args: str) -> Run:
        capsys.readouterr()
        code: Any = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return Run(code or 0, captured.out, captured.err)

    return run


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> str:
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh).writerows(rows)
    return path.name


def test_list_names_every_preset_with_a_description(kpitree: Any) -> None:
    run = kpitree("mappings", "list")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert [line.split()[0] for line in lines] == preset_names()
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)
    listed = kpitree("mappings", "list", "--json").json()["presets"]
    assert [p["name"] for p in listed] == preset_names()
    assert all(p["description"] for p in listed)


def test_show_prints_a_preset_that_imports_as_a_copied_file(kpitree: Any, tmp_path: Path) -> None:
    run = kpitree("mappings", "show", "hubspot-contacts")
    assert run.code == 0, run.err
    assert parse_yaml(run.out, "shown").data["name"] == "hubspot-contacts"
    assert kpitree("mappings", "show", "hubspot-contacts", "--json").json()["yaml"] == run.out
    (tmp_path / "my-contacts.yaml").write_text(run.out, encoding="utf-8")
    f = _csv(tmp_path / "contacts.csv", HUBSPOT_CONTACTS_EN)
    imported = kpitree("import", f, "--mapping", "my-contacts.yaml", "--json")
    assert imported.code == 0, imported.err
    assert imported.json()["imports"][0]["tables"][0] == {
        "table": "leads",
        "rows": 1,
        "inserted": 1,
        "updated": 0,
        "unchanged": 0,
    }


def test_show_an_unknown_preset_says_did_you_mean(kpitree: Any) -> None:
    run = kpitree("mappings", "show", "hubspot-deal")
    assert run.code == 1
    assert "KT364" not in run.out
    assert "did you mean 'hubspot-deals'" in run.err
    assert "Traceback" not in run.err


def test_detect_ranks_the_fitting_preset_first(kpitree: Any, tmp_path: Path) -> None:
    f = _csv(tmp_path / "contacts.csv", HUBSPOT_CONTACTS_EN)
    run = kpitree("mappings", "detect", f)
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "contacts.csv: best fit: hubspot-contacts"
    ranked = kpitree("mappings", "detect", f, "--json").json()
    assert ranked["headers"] == HUBSPOT_CONTACTS_EN[0]
    first, *rest = ranked["presets"]
    assert (first["name"], first["fits"], first["missing"]) == ("hubspot-contacts", True, [])
    assert first["columns_read"] == ["Record ID", "Create Date", "Lifecycle Stage"]
    assert not any(p["fits"] for p in rest)
    assert sorted(p["name"] for p in ranked["presets"]) == preset_names()


def test_detect_reads_shift_jis_and_xlsx(kpitree: Any, tmp_path: Path) -> None:
    f = _csv(tmp_path / "商談.csv", SALESFORCE_OPPS_JA, encoding="cp932")
    first = kpitree("mappings", "detect", f, "--json").json()["presets"][0]
    assert (first["name"], first["fits"]) == ("salesforce-opportunities", True)

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [
        ["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Create Date"],
        ["9001", "Acme", "Closed Won", "1200000", "2026-03-31", "2026-01-07 10:00"],
    ]:
        sheet.append(row)
    book.save(tmp_path / "deals.xlsx")
    first = kpitree("mappings", "detect", "deals.xlsx", "--json").json()["presets"][0]
    assert (first["name"], first["fits"]) == ("hubspot-deals", True)


def test_detect_names_the_missing_columns_and_the_closest_headers(
    kpitree: Any, tmp_path: Path
) -> None:
    f = _csv(
        tmp_path / "contacts.csv",
        [["Record Id", "Created Date", "Lifecycle Stage"], ["1", "2026-01-07", "Lead"]],
    )
    run = kpitree("mappings", "detect", f)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].startswith("contacts.csv: no preset fits")
    assert lines[1] == "  hubspot-contacts: does not fit (1/2 required columns, reads 2 columns)"
    assert lines[2] == (
        "      missing leads.created_at: Create Date / 作成日; "
        "closest header in the file: 'Created Date'"
    )
    opps = next(
        p
        for p in kpitree("mappings", "detect", f, "--json").json()["presets"]
        if p["name"] == "salesforce-opportunities"
    )
    deal_id = next(m for m in opps["missing"] if m["target"] == "deals.deal_id")
    assert deal_id["closest"] is None


def test_detect_a_missing_file_is_a_located_error(kpitree: Any) -> None:
    run = kpitree("mappings", "detect", "nope.csv")
    assert run.code == 1
    assert run.err.startswith("nope.csv:1:1: error:")
    assert "Traceback" not in run.err


def test_import_with_a_preset_that_does_not_fit_names_the_closest_header(
    kpitree: Any, tmp_path: Path
) -> None:
    # The file's id header is like the preset's Japanese spelling, not its first
    # (English) one: the hint looks at every spelling the preset accepts.
    f = _csv(
        tmp_path / "leads.csv",
        [["リードID番号", "作成日", "リード状況"], ["L1", "2026/01/07", "リード"]],
    )
    run = kpitree("import", f, "--mapping", "salesforce-leads")
    assert run.code == 1
    assert "leads.csv has no column 'Lead ID' (needed for leads.lead_id)" in run.err
    assert "(closest header in the file: 'リードID番号')" in run.err
    assert "Traceback" not in run.err


def test_detect_reads_only_the_header_row(kpitree: Any, tmp_path: Path) -> None:
    """Excel's "Unicode text" (UTF-16, tabs) is read; and only the header row is
    read, so a large export answers at once (a broken byte further down is for
    the import to report)."""
    text = "\n".join("\t".join(r) for r in SALESFORCE_OPPS_JA) + "\n"
    (tmp_path / "unicode.txt").write_bytes(text.encode("utf-16"))
    first = kpitree("mappings", "detect", "unicode.txt", "--json").json()["presets"][0]
    assert (first["name"], first["fits"]) == ("salesforce-opportunities", True)

    body = "\n".join(",".join(r) for r in HUBSPOT_CONTACTS_EN).encode("utf-8") + b"\n102,\xff\n"
    (tmp_path / "contacts.csv").write_bytes(body)
    run = kpitree("mappings", "detect", "contacts.csv")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "contacts.csv: best fit: hubspot-contacts"
    imported = kpitree("import", "contacts.csv", "--mapping", "hubspot-contacts")
    assert imported.code == 1
    assert imported.err.startswith("contacts.csv:3:2: error: contacts.csv: byte 0xFF at row 3")
