"""``kpitree status``, ``explain --period``, ``query`` and ``metrics`` on the
hand-made company of :mod:`test_semantics`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kpitree.cli import main
from kpitree.data.warehouse import Warehouse

from .test_semantics import DEFINITION, TABLES, _table


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("semantics-cli")
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    Warehouse(folder / "warehouse.duckdb").bulk_load(
        {name: _table(name, rows) for name, rows in TABLES.items()}, label="hand-made"
    )
    return folder


def run(
    capsys: pytest.CaptureFixture[str], *args: str | Path, lang: str = "en"
) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(["--lang", lang, *map(str, args)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_status_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "status",
        folder,
        "--period",
        "2026-05",
        "--as-of",
        "2026-06-30",
        "--by",
        "team",
        "--json",
    )
    assert code == 0, err
    payload: dict[str, Any] = json.loads(out)
    # The rows, written a column at a time, are laid out as json.dumps lays them.
    assert out == json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    assert any(r["segment"] for r in payload["rows"])
    rows = {(r["node"], tuple(sorted(r["segment"].items()))): r for r in payload["rows"]}
    assert rows[("revenue", ())]["actual"] == 3_000_000
    assert rows[("revenue", ())]["status"] == "on_track"
    team_b = rows[("won_deals", (("department", "inside_sales"), ("team", "B")))]
    assert team_b["actual"] == 1
    assert payload["levels"] == [[], ["department", "team"]]


def test_status_table_in_japanese(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpitree.cli import render_status

    monkeypatch.setattr(render_status.console, "width", 200)
    code, out, _ = run(
        capsys, "status", folder, "-p", "2026年5月", "--as-of", "2026-06-30", lang="ja"
    )
    assert code == 0
    assert "2026年5月" in out and "順調" in out and "¥3,000,000" in out


def test_explain_actuals_against_target(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "explain", folder, "--period", "2026-05", "--as-of", "2026-06-30", "--json"
    )
    assert code == 0, err
    attribution = json.loads(out)["attribution"]
    # Revenue as the tree computes it: 1 won x 3M = 3M against a 1M target.
    assert attribution["change"] == pytest.approx(2_000_000)
    assert attribution["exact"] is True
    assert sum(attribution["by_input"].values()) == pytest.approx(2_000_000)


def test_bad_period_and_dimension_are_user_errors(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "status", folder, "--period", "2026-13")
    assert code == 1 and "2026-13" in err and "FY2026" in err and "Traceback" not in err
    code, _, err = run(capsys, "status", folder, "--by", "teem", "--as-of", "2026-05-01")
    assert code == 1 and "team" in err and "Traceback" not in err


def test_query_is_read_only(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "query", "-p", folder, "select count(*) as n from leads", "--json")
    assert code == 0 and json.loads(out) == [{"n": 4}]
    code, _, err = run(capsys, "query", "-p", folder, "delete from leads")
    assert code == 1 and "read-only" in err


def test_metrics_lists_builtin_and_project_metrics(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "metrics", folder, "--json")
    listed = json.loads(out)
    assert code == 0
    assert listed["median_cycle"]["builtin"] is False
    assert listed["win_rate"]["builtin"] is True
    assert listed["mql_to_sql_period"]["mode"] == "period"
