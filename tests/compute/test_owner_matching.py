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
from people import EXPECTED, MAPPING, OWNERS, PROJECT


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
    assert unassigned == 3
    # the SLA clock places the same owners the same way
    code, out, err = run(
        capsys, "sla", folder, "-p", "2026-05", "--by", "team", "--as-of", "2026-06-30", "--json"
    )
    assert code == 0, err
    (rule,) = json.loads(out)["rules"]
    sla_teams = {
        (("department", r["department"]), ("team", r["team"])): float(r["cases"])
        for r in rule["rows"]
    }
    assert sla_teams == dict(teams)
    owners = {b["owner"] for b in rule["breaches"]}
    assert {"佐々木", "山田　太郎", "鈴木花子様", "不明 次郎"} <= owners
    assert "佐々木 健" not in owners


def test_import_and_check_name_the_owners_that_match_nobody(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("import", folder / "deals.csv", "-m", folder / "deals.yaml", "-p", folder)
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    owners = json.loads(out)["imports"][0]["owners"]
    unmatched = {u["owner"]: u for u in owners["unmatched"]}
    assert {o: u["facts"] for o, u in unmatched.items()} == {"山田 太朗": 2, "不明 次郎": 1}
    assert unmatched["山田 太朗"]["closest"][0] == "山田　太郎"
    assert owners["by_family_name"] == [{"owner": "佐々木 健", "rep": "佐々木", "facts": 5}]
    assert owners["matched"] == 4 and owners["unmatched_facts"] == 3
    # the text summary says the same (a later export, rows in another order: nothing new;
    # the very same file again is not even read)
    header, *rows = (folder / "deals.csv").read_text(encoding="utf-8").splitlines()
    again = folder / "deals_again.csv"
    again.write_text("\n".join([header, *reversed(rows)]) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "import", again, "-m", folder / "deals.yaml", "-p", folder)
    assert code == 0, err
    assert "2 owner(s) (facts: 3) match no rep of the organisation" in out
    assert "owner '山田 太朗' (facts: 2)" in out and "closest known names: 山田　太郎" in out
    assert "owner '佐々木 健' (facts: 5) is counted as the organisation's '佐々木'" in out
    code, out, err = run(capsys, "check", folder, "--json")
    assert code == 0, err
    found = [d for d in json.loads(out)["diagnostics"] if d["code"] in ("KT590", "KT591")]
    assert [d["code"] for d in found] == ["KT590", "KT590", "KT591"]
    assert "山田 太朗" in found[0]["message"] and "山田　太郎" in found[0]["message"]
    assert "不明 次郎" in found[1]["message"]
    # the data check counts as unassigned only the owners nobody places
    code, out, err = run(capsys, "data", "check", folder, "--json")
    (finding,) = [f for f in json.loads(out)["findings"] if f["rule"] == "owner_without_assignment"]
    assert (finding["count"], set(finding["examples"])) == (2, {"山田 太朗", "不明 次郎"})


def test_check_without_data_says_nothing_about_owners(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "check", folder, "--json")
    assert code == 0, err
    assert not [d for d in json.loads(out)["diagnostics"] if d["code"].startswith("KT59")]
    assert not (folder / ".kpitree").exists()  # the check creates no warehouse
