"""The template's ABM KSF (abm.yaml): it checks without errors once included
and plans backwards from its revenue target to the target accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree import Project


def test_the_abm_ksf_plans_backwards(tmp_path: Path) -> None:
    Project.init(tmp_path)
    assert (tmp_path / "abm.yaml").exists()
    text = (tmp_path / "kpitree.yaml").read_text(encoding="utf-8")
    text = text.replace("\nnodes:\n", "\ninclude: [abm.yaml]\n\nnodes:\n", 1)
    text = text.replace(
        "    formula: won_deals * avg_deal_size\n",
        "    formula: won_deals * avg_deal_size\n    drivers: [abm_revenue]\n",
        1,
    )
    text = text.replace("  revops:\n", "  abm:\n    label: {ja: ABM推進, en: ABM}\n  revops:\n", 1)
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    result = Project.check(tmp_path)
    assert result.ok, [d.message("en") for d in result.errors]
    assert not [d for d in result.warnings if d.code == "KT105"]  # connected to the KGI
    plan = Project.load(tmp_path).plan()
    nodes = plan.nodes
    # ¥120M / ¥1.6M average deal = 75 won deals; / 0.15 per account = 500 engaged
    # target accounts; / 60% coverage = 833.3 target accounts.
    assert nodes["abm_won_deals"].value == pytest.approx(75)
    assert nodes["abm_engaged_accounts"].value == pytest.approx(500)
    assert nodes["abm_target_accounts"].value == pytest.approx(500 / 0.6)
    assert nodes["abm_target_accounts"].source == "solved"
