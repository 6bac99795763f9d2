"""A company master keyed by 法人番号 enriches accounts (by 法人番号, then
domain, then name; ambiguous keys left alone; the account's own values
first) and changes their scores exactly as computed by hand; its problems
are located and all reported at once, and a bad file writes nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project
from kpitree.abm import score_accounts
from kpitree.cli import main
from kpitree.data.company_master import MASTER_TABLE, read_company_master
from kpitree.errors import DataError

from .company import TABLES, at

AS_OF = dt.date(2026, 6, 30)

DEFINITION = """\
kpitree: 1
name: abm master
timezone: Asia/Tokyo
nodes:
  revenue: {kind: kgi, unit: currency, metric: revenue}
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands: [{min: 1000, points: 30}, {min: 100, max: 1000, points: 15}]
    industry:
      field: industry
      match: jsic
      max_points: 25
      values: {"39": 25, G: 10}
    revenue:
      field: annual_revenue
      max_points: 20
      bands: [{min: 10000000000, points: 20}, {min: 1000000000, points: 10}]
  tiers: {A: 60, B: 30}
"""


def number(base: str) -> str:
    """A 法人番号 with its check digit in front of the 12 digits ``base``."""
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(base)))
    return f"{9 - total % 9}{base}"


ALPHA, BETA, GAMMA, DELTA1, DELTA2 = (number(f"{k:012d}") for k in (1201, 1202, 1203, 1204, 1205))


def _accounts() -> list[dict[str, Any]]:
    made = at(dt.date(2026, 1, 5))
    return [
        # By 法人番号 (written with hyphens in the CRM); nothing of its own.
        {"account_id": "A", "name": "アルファ", "created_at": made,
         "attributes": json.dumps({"法人番号": f"{ALPHA[:4]}-{ALPHA[4:8]}-{ALPHA[8:]}"})},
        # By domain; its own employees (50) stay, the master's 800 do not count.
        {"account_id": "B", "name": "Beta", "employees": 50, "industry": " ",
         "created_at": made, "attributes": json.dumps({"website": "https://www.beta.example.jp/"})},
        # By name: ｶﾞﾝﾏ 株式会社 is ガンマ(株).
        {"account_id": "C", "name": "ｶﾞﾝﾏ 株式会社", "created_at": made},
        # Two companies of the master have this name: left as it is.
        {"account_id": "D", "name": "デルタ", "created_at": made},
        # Nothing in the master.
        {"account_id": "E", "name": "イプシロン", "employees": 2000, "created_at": made},
    ]  # fmt: skip


MASTER = f"""\
法人番号,会社名,ドメイン,従業員数,業種,売上高
{ALPHA},株式会社アルファ,,"5,000",3911,12000000000円
{BETA},ベータ株式会社,beta.example.jp,800人,G,
{GAMMA},ガンマ(株),,150,,2500000000
{DELTA1},デルタ株式会社,,3000,39,
{DELTA2},デルタ,,10,,
"""


def _project(folder: Path) -> Project:
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse

    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    arrow = {}
    for name in TABLES:
        schema = arrow_schema(name)
        rows = _accounts() if name == "accounts" else []
        arrow[name] = pa.Table.from_pylist(
            [{c: r.get(c) for c in schema.names} for r in rows], schema=schema
        )
    Warehouse(folder / ".kpitree" / "warehouse.duckdb").bulk_load(arrow, label="crm")
    return Project.load(folder)


def _points(project: Project) -> dict[str, tuple[dict[str, float], set[str], str | None]]:
    assert project.tree.abm is not None
    with project.engine() as engine:
        scores = score_accounts(engine, project.tree.abm, AS_OF)
    return {a.account_id: (dict(a.points), set(a.missing), a.tier) for a in scores.accounts}


def test_a_master_enriches_accounts_and_their_scores(tmp_path: Path) -> None:
    project = _project(tmp_path)
    before = _points(project)
    assert before["A"] == ({"size": 0.0, "industry": 0.0, "revenue": 0.0},
                           {"size", "industry", "revenue"}, None)  # fmt: skip
    # The dashboard's kept scores of the day, before the master.
    assert project.accounts(as_of=AS_OF).rows[0].score.account_id == "E"
    (tmp_path / "master.csv").write_text(MASTER, encoding="utf-8")
    assert project.import_company_master(tmp_path / "master.csv") == 5
    after = _points(project)
    # By hand: A gets 5,000 employees (30), 3911 under 39 (25), ¥12bn (20): 75, tier A.
    assert after["A"] == ({"size": 30.0, "industry": 25.0, "revenue": 20.0}, set(), "A")
    # B keeps its 50 employees (0); its blank industry takes G (10); no revenue anywhere.
    assert after["B"] == ({"size": 0.0, "industry": 10.0, "revenue": 0.0}, {"revenue"}, None)
    # C: 150 employees (15), no industry, ¥2.5bn (10): 25, no tier.
    assert after["C"] == ({"size": 15.0, "industry": 0.0, "revenue": 10.0}, {"industry"}, None)
    # D: the name matches two companies: nothing taken.
    assert after["D"] == before["D"]
    assert after["E"] == before["E"] == ({"size": 30.0, "industry": 0.0, "revenue": 0.0},
                                         {"industry", "revenue"}, "B")  # fmt: skip
    # The import is new data: the kept scores of the day follow it.
    overview = project.accounts(as_of=AS_OF)
    top = overview.rows[0].score
    assert (top.account_id, top.score, top.tier) == ("A", 75.0, "A")
    assert top.fields["employees"] == 5000 and top.fields["industry"] == "3911"


def test_a_new_master_replaces_the_old_one(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (tmp_path / "master.csv").write_text(MASTER, encoding="utf-8")
    project.import_company_master(tmp_path / "master.csv")
    (tmp_path / "small.csv").write_text(f"法人番号,従業員数\n{GAMMA},2000\n", encoding="cp932")
    assert project.import_company_master(tmp_path / "small.csv") == 1
    after = _points(project)
    assert after["A"][0] == {"size": 0.0, "industry": 0.0, "revenue": 0.0}
    # GAMMA is matched by name, and the new master has none: C is left as it is.
    assert after["C"][0]["size"] == 0.0


def test_problems_are_located_and_nothing_is_written(tmp_path: Path) -> None:
    project = _project(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "会社名,法人番号,従業員数,売上高\n"
        f"アルファ,{ALPHA},約100,1000\n"
        f"ベータ,{ALPHA[:-1]}9,100,1.2億\n"
        f"ガンマ,{ALPHA},10,\n"
        ",,,\n"
        "デルタ,,5,\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as caught:
        project.import_company_master(bad)
    found = [(d.code, d.span.line, d.span.column) for d in caught.value.diagnostics if d.span]
    assert found == [
        ("KT284", 2, 3),  # 約100
        ("KT282", 3, 2),  # a wrong check digit
        ("KT284", 3, 4),  # 1.2億
        ("KT283", 4, 2),  # the same 法人番号 as line 2
        ("KT282", 6, 2),  # none at all
    ]
    assert all(d.span and d.span.file == str(bad) for d in caught.value.diagnostics)
    assert "約100" in caught.value.diagnostics[0].message("en")
    with project.engine() as engine:
        assert not engine.has_table(MASTER_TABLE)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("会社名,従業員数\nアルファ,10\n", "abm.master.no_number_column"),
        ("法人番号,会社名\n{n},アルファ\n", "abm.master.no_data_column"),
        ("法人番号,従業員数\n", "abm.master.empty"),
    ],
)
def test_files_without_what_a_master_needs(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(text.format(n=ALPHA), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_company_master(path)
    diag = caught.value.diagnostics[0]
    assert (diag.code, diag.key) == ("KT281", key)


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path)
    (tmp_path / "master.csv").write_text(MASTER, encoding="cp932")
    with pytest.raises(SystemExit) as done:
        main(["--lang", "en", "import-master", str(tmp_path / "master.csv"), "-p", str(tmp_path),
              "--json"])  # fmt: skip
    assert done.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert out == {"companies": 5, "accounts_matched": 3,
                   "by": {"corporate_number": 1, "domain": 1, "name": 1}}  # fmt: skip
    (tmp_path / "bad.csv").write_text(f"法人番号,従業員数\n{ALPHA},many\n", encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["--lang", "en", "import-master", str(tmp_path / "bad.csv"), "-p", str(tmp_path)])
    assert done.value.code not in (0, None)
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.csv'}:2:2: error" in err and "Traceback" not in err
