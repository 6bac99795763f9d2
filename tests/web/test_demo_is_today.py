"""The demo project is the company as it stands today: its data check is clean."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_kpitree


def test_the_demo_has_no_fact_after_today(demo_project: Path) -> None:
    run = run_kpitree("data", "check", demo_project, "--json", check=False)
    findings = json.loads(run.stdout)["findings"]
    assert [f["code"] for f in findings if f["level"] == "error"] == []
    assert run.returncode == 0, run.stderr
    assert "KT843" not in {f["code"] for f in findings}
