"""The accounts overview and one account's page through the façade, and
``kpitree accounts [--json]``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from kpitree import Project
from kpitree.cli import main
from kpitree.errors import UserError

from .views import AS_OF, build


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("views"))


def test_overview_tiers_changes_and_targets(folder: Path) -> None:
    overview = Project.load(folder).accounts(as_of=AS_OF, lang="en")
    assert overview.compared_with == dt.date(2026, 5, 31)
    data = overview.to_json()
    rows = {r["account_id"]: r for r in data["accounts"]}
    assert [r["account_id"] for r in data["accounts"]] == ["ACME", "BETA", "GAMMA"]
    acme = rows["ACME"]
    # 30 for size + 2 meetings (20) + an MQL (5) in June; 30 at the end of May.
    assert (acme["tier_before"], acme["tier"], acme["score"]) == ("B", "A", 55.0)
    assert acme["score_before"] == 30.0 and acme["change"] == 25.0
    assert acme["target"] is True and acme["target_reasons"] == ["tier"]
    assert rows["BETA"]["target_reasons"] == ["list"] and rows["BETA"]["tier"] is None
    assert rows["GAMMA"]["missing"] == ["size"] and rows["GAMMA"]["target"] is False
    assert data["tiers"] == {"A": 1, "B": 0, "none": 2}
    assert data["moves"] == {"up": 1, "down": 0}
    assert data["unmatched_list_rows"] == [{"line": 3, "company": "どこにもない会社"}]
    assert data["criteria"] == {"size": "Company size", "engagement": "Engagement"}
    only = overview.filtered(target=True, query="ベータ")
    assert [r.score.account_id for r in only.rows] == ["BETA"]
    assert [r.score.account_id for r in overview.filtered(tier="none").rows] == ["BETA", "GAMMA"]


def test_account_page(folder: Path) -> None:
    detail = Project.load(folder).account("ACME", as_of=AS_OF, lang="en").to_json()
    breakdown = {b["criterion"]: b for b in detail["breakdown"]}
    assert breakdown["size"]["points"] == 30 and breakdown["size"]["max_points"] == 30
    assert breakdown["engagement"]["signals"] == [
        {"label": "Meetings", "points": 20.0},
        {"label": "lead_stage: mql", "points": 5.0},
    ]
    kinds = [(e["kind"], e["what"]) for e in detail["timeline"]]
    assert kinds == [("deal_stage", "proposal"), ("lead_stage", "mql"),
                     ("activity", "meeting"), ("activity", "meeting")]  # fmt: skip
    assert [d["deal_id"] for d in detail["deals"]] == ["D1", "D0"]
    assert [c["lead_id"] for c in detail["contacts"]] == ["L1"]
    assert detail["kpis"]["open_pipeline"] == 3000000.0
    assert detail["kpis"]["won_revenue"] == 1000000.0  # closed within the last 365 days
    assert detail["kpis"]["renewal_rate"] is None
    with pytest.raises(UserError) as caught:
        Project.load(folder).account("NOPE", as_of=AS_OF)
    assert caught.value.diagnostics[0].code == "KT265"


def _run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("KPITREE_LANG", "en")
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out, out.err


def test_cli_json_and_table(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = _run(
        capsys, monkeypatch, "accounts", str(folder), "--as-of", "2026-06-30", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert [a["account_id"] for a in data["accounts"]] == ["ACME", "BETA", "GAMMA"]
    code, out, _ = _run(capsys, monkeypatch, "accounts", str(folder), "--as-of", "2026-06-30",
                        "--targets", "--json")  # fmt: skip
    assert [a["account_id"] for a in json.loads(out)["accounts"]] == ["ACME", "BETA"]
    code, out, _ = _run(capsys, monkeypatch, "accounts", str(folder), "--as-of", "2026-06-30")
    assert code == 0
    assert "Account scores as of 2026-06-30, compared with 2026-05-31" in out
    assert "B → A" in out and "+25.0" in out
    assert "3: どこにもない会社" in out


def test_cli_without_abm_says_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kpitree.yaml").write_text(
        "kpitree: 1\nname: x\nnodes:\n  r: {kind: kgi, unit: count}\n", encoding="utf-8"
    )
    code, _, err = _run(capsys, monkeypatch, "accounts", str(tmp_path))
    assert code == 1
    assert "this project has no abm: (account scoring)" in err
    assert "Traceback" not in err
