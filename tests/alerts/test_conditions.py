"""The other conditions on the hand-made company: SLA breaches per rep, no
new data, and change vs the previous period."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kpitree import Project

from .company import DEFINITION, JST, NOW, build

RULES = """\
notifications:
  channels:
    app: {type: in_app}
alerts:
  breaches:
    condition: sla_breaches
    sla: mql_first_touch
    threshold: 1
    by: rep
    notify: [app]
  idle:
    node: mqls
    condition: no_data
    days: 3
    notify: [app]
  drop:
    node: mqls
    condition: change
    threshold: 50
    direction: down
    notify: [app]
  by_product:
    node: mqls
    condition: below_pace
    by: product
"""


def kinds(project: Project, at: dt.datetime) -> dict[str, list[tuple[str, str | None]]]:
    out: dict[str, list[tuple[str, str | None]]] = {}
    for e in project.alerts_run(now=at).events:
        rep = dict(e.segment).get("rep")
        out.setdefault(e.rule, []).append((e.kind, rep))
    return out


def test_breaches_idle_and_change(tmp_path: Path) -> None:
    project = Project.load(build(tmp_path, DEFINITION + RULES))
    # At 12:00 on 10-14: r1 has 2 breaches (L3, L7), r2 one (L4; L6 is due at 13:00).
    run = project.alerts_run(now=NOW, dry_run=True)
    # Leads have no product: that rule is reported, the others still run.
    assert [(p["rule"], p["code"]) for p in run.problems] == [("by_product", "KT530")]
    first = kinds(project, NOW)
    assert first["breaches"] == [("fired", "r1")]
    facts = project.alert_events()[0].facts
    assert facts["breaches"] == 2 and facts["cases"] == 4
    assert "idle" not in first  # an MQL arrived today
    # 13:30: L6 is past due, r2 has 2 breaches.
    assert kinds(project, NOW.replace(hour=13, minute=30)) == {"breaches": [("fired", "r2")]}
    # 10-20: the last MQL was on 10-14, 6 days ago.
    later = kinds(project, dt.datetime(2026, 10, 20, 9, 0, tzinfo=JST))
    assert later["idle"] == [("fired", None)]
    idle = next(e for e in project.alert_events() if e.rule == "idle")
    assert idle.facts["idle_days"] == 6 and idle.facts["latest"] == "2026-10-14"
    assert "6 日間新しいデータがありません" in idle.message("ja")
    # November: no lead at all since 10-14, so MQLs have no data (not a drop
    # to zero) and the drop rule cannot say; in November the SLA breaches of
    # October no longer count: resolved.
    november = kinds(project, dt.datetime(2026, 11, 10, 9, 0, tzinfo=JST))
    assert "drop" not in november
    assert sorted(november["breaches"]) == [("resolved", "r1"), ("resolved", "r2")]
