"""Target accounts from tiers, from an imported list (法人番号, domain, name),
or both; membership on any day; list problems located."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from kpitree.abm import keys
from kpitree.abm.targets import read_target_list, target_membership
from kpitree.engines import open_engine
from kpitree.errors import UserError

from .company import abm_spec, at, load

DAY = dt.date(2026, 6, 30)

MODEL = """\
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands: [{min: 1000, points: 30}, {min: 100, max: 1000, points: 10}]
    engagement:
      max_points: 20
      window_days: 30
      signals: [{activity: meeting, points: 10}]
  tiers: {A: 30, B: 10}
  targets: {tiers: [A], file: targets.csv, mode: MODE}
"""

LIST = """\
法人番号,domain,会社名,from,to
7000-0120-50002,,,,
,https://www.beta.example.co.jp/ja/,,2026-06-01,
,,ガンマ(株),,2026-06-15
,,存在しない会社,,
"""


def _company() -> dict[str, list[dict[str, Any]]]:
    return {
        "accounts": [
            # Tier A by size; on the list by its 法人番号 (full-width digits in the CRM).
            {"account_id": "ALPHA", "name": "株式会社アルファ", "employees": 5000,
             "attributes": json.dumps({"法人番号": "７００００１２０５０００２"})},
            # Tier B; on the list by domain from June.
            {"account_id": "BETA", "name": "ベータ", "employees": 200,
             "attributes": json.dumps({"website": "beta.example.co.jp"})},
            # No tier; on the list by name until 06-15.
            {"account_id": "GAMMA", "name": "ｶﾞﾝﾏ 株式会社"},
            # Tier A by size and a meeting, not on the list.
            {"account_id": "DELTA", "name": "デルタ", "employees": 100},
        ],
        "activities": [
            {"activity_id": "M1", "type": "meeting", "occurred_at": at(DAY), "account_id": "DELTA"},
            {"activity_id": "M2", "type": "meeting", "occurred_at": at(DAY - dt.timedelta(days=1)),
             "account_id": "DELTA"},
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "day", "want"),
    [
        ("union", DAY, {"ALPHA": {"tier", "list"}, "BETA": {"list"}, "DELTA": {"tier"}}),
        ("union", dt.date(2026, 6, 10),
         {"ALPHA": {"tier", "list"}, "BETA": {"list"}, "GAMMA": {"list"}}),
        ("union", dt.date(2026, 5, 31), {"ALPHA": {"tier", "list"}, "GAMMA": {"list"}}),
        ("intersection", DAY, {"ALPHA": {"tier", "list"}}),
    ],
)  # fmt: skip
def test_membership_on_a_day(
    tmp_path: Path, mode: str, day: dt.date, want: dict[str, set[str]]
) -> None:
    abm = abm_spec(tmp_path, MODEL.replace("MODE", mode))
    (tmp_path / "targets.csv").write_text(LIST, encoding="utf-8")
    with open_engine("duckdb://", timezone="Asia/Tokyo") as engine:
        load(engine, _company())
        got = target_membership(engine, abm, tmp_path, [day])[day]
    assert {a: set(r) for a, r in got.accounts.items()} == want
    assert [e.label for e in got.unmatched] == ["存在しない会社"]


def test_membership_over_time_follows_the_tiers(tmp_path: Path) -> None:
    abm = abm_spec(tmp_path, MODEL.replace("MODE", "union").replace(", file: targets.csv", ""))
    days = [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1), DAY]
    with open_engine("duckdb://", timezone="Asia/Tokyo") as engine:
        load(engine, _company())
        over = target_membership(engine, abm, tmp_path, days)
    # DELTA reaches tier A (10 + 20 = 30) only once both meetings happened.
    assert [sorted(over[d].accounts) for d in days] == [["ALPHA"], ["ALPHA"], ["ALPHA", "DELTA"]]


@pytest.mark.parametrize(
    ("text", "code", "message", "line", "column"),
    [
        ("name,to\nアルファ,2026-13-01\n", "KT262",
         "to: '2026-13-01' is not a date; write YYYY-MM-DD (e.g. 2026-04-01)", 2, 2),
        ("法人番号\n1000012050002\n", "KT262",
         "'1000012050002' is not a corporate number (法人番号: 13 digits with a correct check "
         "digit); check it on the National Tax Agency's corporate number site", 2, 1),
        ("name,domain\n株式会社,\n", "KT261",
         "line 2 has no corporate number, domain or name; give one of them or remove the line",
         2, 1),
        ("company\nアルファ\n", "KT261",
         "the target list {file} has none of the columns corporate_number (法人番号), domain "
         "and name (header: company)", 1, 1),
    ],
)  # fmt: skip
def test_list_problems_are_located(
    tmp_path: Path, text: str, code: str, message: str, line: int, column: int
) -> None:
    path = tmp_path / "targets.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        read_target_list(path)
    (diag,) = caught.value.diagnostics
    assert diag.code == code
    assert diag.message("en") == message.replace("{file}", str(path))
    assert diag.span is not None and (diag.span.line, diag.span.column) == (line, column)
    assert diag.message("ja")


def test_a_shift_jis_list_says_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_bytes("会社名\nアルファ\n".encode("cp932"))
    with pytest.raises(UserError) as caught:
        read_target_list(path)
    assert caught.value.diagnostics[0].code == "KT260"
    assert "CSV UTF-8" in caught.value.diagnostics[0].message("en")


def test_keys() -> None:
    assert keys.company_name("株式会社 アルファ") == keys.company_name("ｱﾙﾌｧ㈱") == "アルファ"
    assert keys.company_name("Alpha Co., Ltd.") == keys.company_name("ALPHA Inc.") == "alpha"
    assert keys.company_name("株式会社") is None
    assert keys.corporate_number("7000012050002") == "7000012050002"
    assert keys.corporate_number("7000012050003") is None  # wrong check digit
    assert keys.domain("HTTPS://WWW.Example.co.jp:443/path") == "example.co.jp"
    assert keys.domain("not a domain") is None
