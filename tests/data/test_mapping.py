"""Mapping files are validated like the tree: all problems at once, located, with
did-you-mean; source headers are checked against the file at read time."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map
from kpitree.errors import DataError
from kpitree.i18n import set_lang


@pytest.fixture(autouse=True)
def _english() -> object:
    set_lang("en")
    yield
    set_lang(None)


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_mapping(path)
    return [f"{d.span.line}:{d.span.column} {d.message('en')}" for d in info.value.diagnostics]


def test_all_problems_located_with_did_you_mean(tmp_path: Path) -> None:
    text = """\
mapping: 1
sourse: {sheet: x}
values:
  stages: {MQL: mql}
tables:
  leds:
    lead_id: ID
  leads:
    lead_id: ID
    created: Created
    current_stage: {column: Stage, map: stagse}
    channel: {column: Source, value: web}
  deals:
    deal_id: ID
    stages: {won: Won}
"""
    assert _errors(tmp_path, text) == [
        "2:1 unknown key 'sourse' (did you mean 'source'?)",
        "6:3 unknown canonical table 'leds' (did you mean 'leads'?)",
        "10:5 table 'leads' has no column 'created' (did you mean 'created_at'?)",
        "11:41 no value map named 'stagse' under 'values' (did you mean 'stages'?)",
        "12:14 tables.leads.channel: give either 'column' (a source header) or 'value' "
        "(a constant), not both or neither",
        "8:3 table 'leads' needs 'created_at': map it to a source column or give a 'value'",
        "15:5 'stages' is only allowed in lead_stage_history and deal_stage_history",
        "13:3 table 'deals' needs 'created_at': map it to a source column or give a 'value'",
        "13:3 table 'deals' needs 'status': map it to a source column or give a 'value'",
    ]


def test_column_rule_keys_and_values(tmp_path: Path) -> None:
    text = """\
mapping: 1
source: {delimiter: ":", timezone: Asia/Tokio}
tables:
  leads:
    lead_id: {colum: ID}
    created_at: {column: Created, unmapped: drop}
"""
    errors = _errors(tmp_path, text)
    assert errors[0] == "2:21 invalid value for 'delimiter': :"
    assert errors[1] == "2:36 unknown time zone 'Asia/Tokio'; use an IANA name such as Asia/Tokyo"
    assert "5:15 unknown key 'colum' (did you mean 'column'?)" in errors
    assert "6:45 invalid value for 'unmapped': drop" in errors


def test_history_needs_stages(tmp_path: Path) -> None:
    text = "mapping: 1\ntables:\n  lead_stage_history:\n    lead_id: ID\n    stage: S\n"
    assert _errors(tmp_path, text) == [
        "3:3 'lead_stage_history' needs 'stages' (one source column per stage) or both "
        "'stage' and 'entered_at'"
    ]


def test_version_duplicates_and_empty(tmp_path: Path) -> None:
    assert _errors(tmp_path, "mapping: 2\ntables: {}\n") == [
        "1:10 invalid value for 'mapping': 2",
    ]
    errors = _errors(
        tmp_path,
        "mapping: 1\ntables:\n  leads:\n    lead_id: A\n    lead_id: B\n    created_at: C\n",
    )
    assert errors == ["5:5 duplicate key 'lead_id' (first given on line 4)"]
    assert _errors(tmp_path, "mapping: 1\ntables: {}\n") == [
        "2:9 the mapping feeds no table: add at least one under 'tables'"
    ]


def test_unknown_preset(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_mapping("hubspot-contact")
    assert "(did you mean 'hubspot-contacts'?)" in str(info.value)


def test_messages_in_japanese(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("mapping: 1\ntables:\n  leds: {lead_id: ID}\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_mapping(path)
    message = info.value.diagnostics[0].message("ja")
    assert message.startswith("不明な正規テーブル 'leds' です")
    assert "leads" in message


MAPPING = """\
mapping: 1
tables:
  leads:
    lead_id: リードID
    created_at: "Create Date"
    channel: {column: ["Original Source", 流入経路]}
    owner_id: {column: Owner, optional: true}
"""


def test_missing_headers_at_read_time(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    csv = tmp_path / "leads.csv"
    csv.write_text("リード ID,Created Date,Source\nL1,2026/01/07,web\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_and_map(csv, load_mapping(tmp_path / "m.yaml"))
    diags = info.value.diagnostics
    assert [(d.span.line, d.message("en")) for d in diags] == [
        (
            4,
            f"{csv} has no column 'リードID' (needed for leads.lead_id) "
            "(closest header in the file: 'リード ID')",
        ),
        (
            5,
            f"{csv} has no column 'Create Date' (needed for leads.created_at) "
            "(closest header in the file: 'Created Date')",
        ),
        (
            6,
            f"{csv} has no column 'Original Source' (needed for leads.channel) "
            "(closest header in the file: 'Source')",
        ),
    ]
    assert diags[0].span.file == str(tmp_path / "m.yaml")


def test_headers_match_ignoring_case_width_and_alternatives(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    csv = tmp_path / "leads.csv"
    csv.write_text("ﾘｰﾄﾞID,create date,流入経路\nL1,2026/01/07,展示会\n", encoding="utf-8")
    batch = read_and_map(csv, load_mapping(tmp_path / "m.yaml"))
    assert batch.tables["leads"].column("channel").to_pylist() == ["展示会"]
    assert batch.tables["leads"].column("owner_id").to_pylist() == [None]


def test_value_maps_else_default_and_lookup_file(tmp_path: Path) -> None:
    (tmp_path / "teams.csv").write_text(
        "担当者,チーム\n佐藤,IS第1\n鈴木,FS東日本\n", encoding="cp932"
    )
    (tmp_path / "m.yaml").write_text(
        """\
mapping: 1
defaults: {currency: JPY}
values:
  teams: {file: teams.csv, key: 担当者, value: チーム}
  status: {受注: won, 失注: lost}
tables:
  deals:
    deal_id: ID
    created_at: 作成日
    status: {column: フェーズ, map: status, else: open}
    stage: {column: フェーズ, default: 未設定}
    team: {column: 担当者, map: teams, unmapped: "null"}
    owner_id: 担当者
  reps:
    rep_id: 担当者
  rep_assignments:
    rep_id: 担当者
    valid_from: {value: "2026-04-01"}
    team: {column: 担当者, map: teams}
""",
        encoding="utf-8",
    )
    csv = tmp_path / "deals.csv"
    csv.write_text(
        "ID,作成日,フェーズ,担当者,商談名\n"
        "D1,2026/04/01,受注,佐藤,A社\nD2,2026/04/02,提案,鈴木,B社\n"
        "D3,2026/04/03,,田中,C社\nD4,2026/04/04,失注,佐藤,D社\n",
        encoding="utf-8",
    )
    batch = read_and_map(csv, load_mapping(tmp_path / "m.yaml"))
    deals = batch.tables["deals"].to_pydict()
    assert batch.tables["deals"].column("team").to_pylist()[:2] == ["IS第1", "FS東日本"]
    assert batch.tables["deals"].column("currency").to_pylist() == ["JPY"] * 3
    # D3 has a blank stage: status is required, so the row is rejected.
    assert [(r.row, r.column) for r in batch.rejects] == [(4, "フェーズ")]
    assert deals["stage"] == ["受注", "提案", "失注"]
    assert deals["status"] == ["won", "open", "lost"]
    assert sorted(batch.tables["reps"].column("rep_id").to_pylist()) == ["佐藤", "鈴木"]
    assert batch.tables["rep_assignments"].to_pylist()[0]["team"] == "IS第1"


def test_presets_all_load() -> None:
    from kpitree.data.mapping import preset_names

    names = preset_names()
    assert names == [
        "hubspot-companies",
        "hubspot-contacts",
        "hubspot-deals",
        "kintone-deals",
        "marketo-activities",
        "marketo-leads",
        "mazrica-deals",
        "salesforce-accounts",
        "salesforce-api-accounts",
        "salesforce-api-contacts",
        "salesforce-api-leads",
        "salesforce-api-opportunities",
        "salesforce-contacts",
        "salesforce-leads",
        "salesforce-opportunities",
        "satori-customers",
    ]
    for name in names:
        assert load_mapping(name).name == name
