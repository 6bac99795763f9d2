"""A fired SLA breach alert on the alerts page opens the breaches it counted:
its rule's breached cases of its period, as they stood when it fired, of its
rep, team or the whole company (the hand-made company's cases, by hand)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from kpitree import Project

from .company import DEFINITION, NOW, build

RULES = """\
notifications:
  channels:
    app: {type: in_app}
alerts:
  per_rep:
    condition: sla_breaches
    sla: mql_first_touch
    threshold: 1
    by: rep
    notify: [app]
  per_team:
    condition: sla_breaches
    sla: mql_first_touch
    threshold: 0
    by: team
    notify: [app]
  whole:
    condition: sla_breaches
    sla: mql_first_touch
    threshold: 0
    notify: [app]
"""

LINK = re.compile(
    r'<tr data-event="(\d+)" data-kind="fired"[^>]*>.*?'
    r'href="(/sla/cases\?[^"]+)" data-records="breached" data-count="(\d+)"',
    re.S,
)


def test_each_fired_sla_alert_opens_the_breaches_it_counted(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    project = Project.load(build(tmp_path, DEFINITION + RULES))
    project.alerts_run(now=NOW)
    # 13:30: L6 is past due too; r2 now has 2 breaches and fires.
    project.alerts_run(now=NOW.replace(hour=13, minute=30))
    # By hand (company.py): at 12:00 r1 (東日本) has L3 and L7 breached, r2
    # (西日本) L4; at 13:30 r2 has L4 and L6.
    expected = {
        ("per_rep", "r1"): {"L3", "L7"},
        ("per_rep", "r2"): {"L4", "L6"},
        ("per_team", "東日本"): {"L3", "L7"},
        ("per_team", "西日本"): {"L4"},
        ("whole", None): {"L3", "L4", "L7"},
    }
    with TestClient(create_app(tmp_path), base_url="http://localhost") as client:
        for lang in ("ja", "en"):
            params = {"since": "2026-10-01", "lang": lang}
            events = client.get("/api/alerts", params=params).json()["history"]
            by_id = {str(e["id"]): e for e in events}
            page = client.get("/alerts", params={"since": "2026-10-01", "lang": lang}).text
            links = LINK.findall(page)
            # Each alert twice: in the alerts firing now and in the history.
            assert len(links) == 2 * len(expected), links
            seen = set()
            for event_id, href, number in links:
                event = by_id[event_id]
                segment = event["segment"]
                key = (event["rule"], segment.get("rep") or segment.get("team"))
                got = client.get(html.unescape(href).replace("/sla/cases", "/api/sla/cases"))
                assert got.status_code == 200, got.text
                listed = got.json()
                ids = {r["values"]["id"] for r in listed["rows"]}
                assert ids == expected[key], (key, href)
                assert listed["count"] == int(number) == event["facts"]["breaches"]
                assert event["cases_url"] == html.unescape(href)
                seen.add(key)
            assert seen == set(expected)


def test_an_sla_alerts_message_links_to_the_breaches_it_counted(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.alerts.messages import link
    from kpitree.web.app import create_app

    project = Project.load(build(tmp_path, DEFINITION + RULES))
    project.alerts_run(now=NOW)
    events = [e.to_json() for e in project.alert_events()]
    assert len(events) == 4  # r1, 東日本, 西日本, the whole company
    with TestClient(create_app(tmp_path), base_url="http://localhost") as client:
        for event in events:
            url = link(event, "https://kpi.example.co.jp/")
            assert url is not None and url.startswith("https://kpi.example.co.jp/sla/cases?")
            address = url.removeprefix("https://kpi.example.co.jp")
            listed = client.get(address.replace("/sla/cases", "/api/sla/cases")).json()
            assert listed["count"] == event["facts"]["breaches"] > 0, address
