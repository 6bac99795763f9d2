"""Owners named in exports matched to the organisation's reps
(:mod:`kpitree.compute.owners`), and the facts landing in their team and rep."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from kpitree.cli import main
from kpitree.compute.owners import KnownRep, Owner, match_owners, normalise_name


def test_names_compare_without_spaces_width_case_or_honorifics() -> None:
    same = ["佐々木 健", "佐々木　健", "佐々木健", "佐々木 健 様", "佐々木健さん"]
    same += ["佐々木健氏", "佐々木 健殿"]
    assert {normalise_name(n) for n in same} == {"佐々木健"}
    assert normalise_name("ＴＡＮＡＫＡ　Ｈａｎａｋｏ") == normalise_name("tanaka hanako")
    assert normalise_name("Mr. John Smith") == "johnsmith"
    assert normalise_name("様") == "様"  # a name that is only an honorific stays


def test_match_by_id_email_name_and_family_name() -> None:
    known = [
        KnownRep("R1", ("森 沙織",), "Mori@Example.jp"),
        KnownRep("山田　太郎"),
        KnownRep("佐々木"),
    ]
    owners = [
        Owner("R1"),
        Owner("0042", "someone", "mori@example.jp"),
        Owner("山田太郎さん"),
        Owner("佐々木 健", facts=3),
        Owner("鈴木 一郎", facts=2),
    ]
    m = match_owners(known, owners)
    how = {o: (x.rep_id, x.how) for o, x in m.matches.items()}
    assert how == {
        "R1": ("R1", "id"),
        "0042": ("R1", "email"),
        "山田太郎さん": ("山田　太郎", "name"),
        "佐々木 健": ("佐々木", "family_name"),
    }
    assert [u.owner_id for u in m.unmatched] == ["鈴木 一郎"]
    assert m.unmatched[0].facts == 2


def test_family_name_is_never_guessed_between_two_owners() -> None:
    m = match_owners(
        [KnownRep("佐々木"), KnownRep("中村 勇")],
        [Owner("佐々木 健", facts=2), Owner("佐々木 花子", facts=1), Owner("佐々木健")],
    )
    assert m.matches == {}
    assert {u.owner_id for u in m.unmatched} == {"佐々木 健", "佐々木 花子", "佐々木健"}
    assert all(u.candidates == ("佐々木",) for u in m.unmatched)
    # one person however many ids spell the name: matched
    one = match_owners([KnownRep("佐々木")], [Owner("佐々木 健"), Owner("佐々木健様")])
    assert {x.how for x in one.matches.values()} == {"family_name"}


def test_unmatched_owners_get_the_closest_known_names() -> None:
    m = match_owners(
        [KnownRep("高橋 一郎"), KnownRep("高橋 次郎"), KnownRep("伊藤 花子")],
        [Owner("高橋一朗", facts=4)],
    )
    (u,) = m.unmatched
    assert u.facts == 4 and u.closest[0] in ("高橋 一郎", "高橋 次郎")
    assert "伊藤 花子" not in u.closest


PROJECT = """\
kpitree: 1
name: People
fiscal_year: 2026
nodes:
  opportunities: {kind: kgi, unit: count, metric: opportunities, target: {monthly: 10}}
organisation:
  field_sales:
    teams:
      east: {share: 0.5, reps: {"佐々木": 0.5, "山田　太郎": 0.5}}
      west: {share: 0.5, reps: {"ＴＡＮＡＫＡ Ｈａｎａｋｏ": 0.5, "鈴木花子様": 0.5}}
"""

MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: 商談ID
    created_at: 作成日
    stage: フェーズ
    status: {column: フェーズ, map: {受注: won, 失注: lost}, else: open}
    owner_id: 担当者
  reps:
    rep_id: 担当者
    name: 担当者
"""

# export owner -> (team, the organisation's rep) it must land in; None: unmatched
EXPECTED = {
    "佐々木 健": ("east", "佐々木"),
    "山田太郎": ("east", "山田　太郎"),
    "tanaka hanako": ("west", "ＴＡＮＡＫＡ Ｈａｎａｋｏ"),
    "鈴木 花子 さん": ("west", "鈴木花子様"),
    "不明 次郎": None,
}
OWNERS = ["佐々木 健"] * 5 + ["山田太郎"] * 4 + ["tanaka hanako"] * 3 + ["鈴木 花子 さん"] * 2
OWNERS += ["不明 次郎"]


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(["--lang", "en", *map(str, args)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "kpitree.yaml").write_text(PROJECT, encoding="utf-8")
    (tmp_path / "deals.yaml").write_text(MAPPING, encoding="utf-8")
    lines = ["商談ID,作成日,フェーズ,担当者"]
    lines += [f"D{i},2026/05/{i % 27 + 1:02d},提案,{o}" for i, o in enumerate(OWNERS)]
    (tmp_path / "deals.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def _status(capsys: pytest.CaptureFixture[str], folder: Path, by: str) -> dict[Any, float]:
    code, out, err = run(capsys, "status", folder, "-p", "2026-05", "--by", by, "--json")
    assert code == 0, err
    return {
        tuple(sorted(r["segment"].items())): r["actual"]
        for r in json.loads(out)["rows"]
        if r["node"] == "opportunities" and r["segment"]
    }


def test_facts_land_in_the_team_and_rep_of_the_organisation(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "import", folder / "deals.csv", "-m", folder / "deals.yaml", "-p", folder
    )
    assert code == 0, err
    teams: Counter[Any] = Counter()
    reps: Counter[Any] = Counter()
    for owner in OWNERS:  # the independent count
        where = EXPECTED[owner]
        team, rep = where if where else (None, owner)
        dept = "field_sales" if where else None
        teams[(("department", dept), ("team", team))] += 1
        reps[(("department", dept), ("rep", rep), ("team", team))] += 1
    assert _status(capsys, folder, "team") == dict(teams)
    assert _status(capsys, folder, "rep") == dict(reps)
    unassigned = _status(capsys, folder, "team")[(("department", None), ("team", None))]
    assert unassigned == OWNERS.count("不明 次郎") == 1
