"""`kpitree plan --from-actuals` on a demo company: past months are the actuals
`kpitree status` shows, the year still reaches the KGI target, and the text
output says what changed, where the year lands and what the plan asks of people."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Cli

AS_OF = "2026-10-06"
CLOSED = ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("replan") / "demo"
    subprocess.run(
        [sys.executable, "-m", "kpitree", "demo", str(folder), "--size", "tiny", "--no-serve"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return folder


@pytest.mark.slow
def test_replan_json_matches_status_and_reaches_the_target(
    demo: Path, kpitree_process: Cli
) -> None:
    result = kpitree_process("plan", demo, "--from-actuals", "--as-of", AS_OF, "--json")
    assert result.code in (0, 1), result.err
    replanned = json.loads(result.out)
    info = replanned["from_actuals"]
    assert info["closed"] == CLOSED and info["as_of_month"] == "2026-10"
    status = kpitree_process(
        "status", demo, *[a for m in CLOSED for a in ("--period", m)], "--as-of", AS_OF, "--json"
    )
    assert status.code == 0, status.err
    company = [r for r in json.loads(status.out)["rows"] if not r["segment"]]
    for row in company:
        if row["actual"] is None:
            continue
        got = replanned["nodes"][row["node"]]["per_period"][row["period"]]
        assert got == pytest.approx(row["actual"], rel=1e-12), (row["node"], row["period"])
    revenue = replanned["nodes"]["revenue"]
    target = info["original"]["revenue"]["value"]
    assert math.isclose(sum(revenue["per_period"].values()), target, rel_tol=1e-9)
    landing = info["landing"]["revenue"]
    assert landing["target"] == pytest.approx(target)
    assert landing["gap"] == pytest.approx(target - landing["run_rate"])
    assert replanned["capacity"][0]["department"] == "inside_sales"


@pytest.mark.slow
def test_replan_text_in_japanese(demo: Path, kpitree_process: Cli) -> None:
    result = kpitree_process("plan", demo, "--from-actuals", "--as-of", AS_OF, lang="ja")
    assert result.code in (0, 1), result.err
    assert "実績からの再計画" in result.out
    assert "リード獲得数: 月" in result.out
    assert "着地する見込みです" in result.out
    assert "インサイドセールス" in result.out and "名相当、現在" in result.out


def test_bad_as_of_is_a_located_message(the_model: Path, kpitree_process: Cli) -> None:
    result = kpitree_process("plan", the_model, "--from-actuals", "--as-of", "10/06")
    assert result.code == 1
    assert "--as-of expects a day like" in result.err and "Traceback" not in result.err


def test_replan_without_data_keeps_the_plan(the_model: Path, kpitree_process: Cli) -> None:
    result = kpitree_process(
        "plan", the_model, "--from-actuals", "--as-of", "2026-10-06", "-y", "2026", "--json"
    )
    assert result.code in (0, 1), result.err
    info = json.loads(result.out)["from_actuals"]
    assert info["closed"] == CLOSED
    assert "revenue" in info["fallback"]["2026-04"]
    # With every past month on plan, the re-plan is the plan.
    payload = json.loads(result.out)
    for node_id, node in payload["nodes"].items():
        original = info["original"][node_id]["per_period"]
        for month, value in node["per_period"].items():
            assert (value is None and original[month] is None) or math.isclose(
                value, original[month], rel_tol=1e-9, abs_tol=1e-9
            ), (node_id, month)
