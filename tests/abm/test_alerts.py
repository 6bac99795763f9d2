"""Tier changes and engagement surges as alert conditions: they fire once per
account, do not repeat while they hold, and resolve when the next period
starts from the new tier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project
from kpitree.alerts.messages import link, summary
from kpitree.definition.resolve import check_definition

JST = dt.timezone(dt.timedelta(hours=9))

DEFINITION = """\
kpitree: 1
name: abm alerts
timezone: Asia/Tokyo
nodes:
  revenue: {kind: kgi, unit: count, metric: won_deals}
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands: [{min: 1000, points: 30}]
    engagement:
      max_points: 40
      window_days: 14
      signals: [{activity: meeting, points: 10}]
  tiers: {A: 50, B: 30}
notifications:
  channels: {app: {type: in_app}}
alerts:
  tier_moves:
    condition: tier_change
    period: week
    notify: [app]
  surges:
    condition: engagement_surge
    threshold: 15
    period: week
    notify: [app]
"""


def jst(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=JST)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse

    (tmp_path / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    rows: dict[str, list[dict[str, Any]]] = {
        "accounts": [
            {"account_id": "ACME", "name": "アクメ株式会社", "employees": 1500},
            {"account_id": "BETA", "name": "ベータ", "employees": 2000},
        ],
        "activities": [
            {"activity_id": "M1", "type": "meeting", "occurred_at": jst("2026-06-02"),
             "account_id": "ACME"},
            {"activity_id": "M2", "type": "meeting", "occurred_at": jst("2026-06-03"),
             "account_id": "ACME"},
        ],
    }  # fmt: skip
    arrow = {}
    for name, table_rows in rows.items():
        schema = arrow_schema(name)
        full = [{c: r.get(c) for c in schema.names} for r in table_rows]
        arrow[name] = pa.Table.from_pylist(full, schema=schema)
    Warehouse(tmp_path / ".kpitree" / "warehouse.duckdb").bulk_load(arrow, label="abm")
    return Project.load(tmp_path)


def test_tier_change_fires_once_and_resolves(project: Project) -> None:
    # Tuesday: one meeting, 40 points, still B as at the end of last week.
    quiet = project.alerts_run(now=jst("2026-06-02", 18))
    assert quiet.events == []
    # Wednesday: two meetings, 50 points: ACME moves up to A; +20 is a surge.
    run = project.alerts_run(now=jst("2026-06-03", 18))
    got = sorted((e.rule, e.kind, dict(e.segment)["account"]) for e in run.events)
    assert got == [("surges", "fired", "ACME"), ("tier_moves", "fired", "ACME")]
    tier = next(e for e in run.events if e.rule == "tier_moves")
    assert tier.facts["tier_before"] == "B" and tier.facts["tier_after"] == "A"
    event = {"facts": tier.facts, "segment": [list(p) for p in tier.segment],
             "node": tier.node, "kind": "fired", "period": tier.period}  # fmt: skip
    assert summary(event, "en") == (
        "アクメ株式会社: tier moved from B to A (score 30.0 → 50.0, 2026-W23)"
    )
    assert summary(event, "ja").startswith("アクメ株式会社: ティアが B から A に変わりました")
    assert link(event, "https://kpi.example.co.jp") == "https://kpi.example.co.jp/accounts/ACME"
    # Thursday: still holding, nothing new.
    assert project.alerts_run(now=jst("2026-06-04", 18)).events == []
    # Next Monday: the week starts from A; both resolve.
    monday = project.alerts_run(now=jst("2026-06-08", 18))
    assert sorted((e.rule, e.kind) for e in monday.events) == [
        ("surges", "resolved"),
        ("tier_moves", "resolved"),
    ]
    # Two weeks on, the meetings have left the 14-day window: down to B.
    later = project.alerts_run(now=jst("2026-06-17", 18))
    assert [(e.rule, e.kind, e.facts["tier_after"]) for e in later.events] == [
        ("tier_moves", "fired", "B")
    ]
    history = project.alert_events()
    assert all(dict(e.segment)["account"] == "ACME" for e in history)


def test_direction_up_ignores_a_fall(project: Project) -> None:
    text = DEFINITION.replace(
        "    condition: tier_change\n", "    condition: tier_change\n    direction: up\n"
    )
    (project.path / "kpitree.yaml").write_text(text, encoding="utf-8")
    project = Project.load(project.path)
    assert project.alerts_run(now=jst("2026-06-03", 18)).events
    assert project.alerts_run(now=jst("2026-06-08", 18)).events  # resolved
    assert project.alerts_run(now=jst("2026-06-17", 18)).events == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("tiers: {A: 50, B: 30}\n", ""), None),
        (("  tier_moves:\n    condition: tier_change\n",
          "  tier_moves:\n    condition: tier_change\n    by: team\n"),
         "alert 'tier_moves': condition tier_change is evaluated per account; by does not apply"),
        (("threshold: 15", "threshold: 0"),
         "alert 'surges': the threshold of engagement_surge is the engagement points gained "
         "since the previous period; give a number above 0 (got 0)"),
    ],
)  # fmt: skip
def test_account_rules_are_checked(tmp_path: Path, change: Any, message: str | None) -> None:
    text = DEFINITION.replace(*change)
    if message is None:  # no abm: at all
        text = text.split("abm:")[0] + "notifications:" + text.split("notifications:")[1]
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    found = [d for d in check_definition(str(tmp_path)).diagnostics if d.code == "KT259"]
    assert found, text
    if message is None:
        assert {d.params["rule"] for d in found} == {"tier_moves", "surges"}
        assert found[0].message("en").endswith("define the scoring under abm:")
    else:
        assert [d.message("en") for d in found] == [message]


def test_the_alerts_page_links_to_the_account(project: Project) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    project.alerts_run(now=jst("2026-06-03", 18))
    with TestClient(create_app(project.path), base_url="http://localhost") as client:
        page = client.get("/alerts", params={"lang": "en"})
    assert page.status_code == 200
    assert page.text.count('href="/accounts/ACME"') == 2  # the tier move and the surge
    assert "/nodes/abm" not in page.text
