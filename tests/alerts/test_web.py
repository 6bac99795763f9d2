"""The alerts and SLA pages and their JSON twins, in-process over the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .company import NOW
from .conftest import HttpReceiver, SmtpReceiver
from .test_run import project_at


@pytest.fixture
def client(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    project = project_at(tmp_path, http_receiver.port, smtp_receiver.port)
    project.alerts_run(now=NOW)
    with TestClient(create_app(tmp_path), base_url="http://localhost") as test_client:
        yield test_client


def test_alerts_page_and_api(client: Any) -> None:
    data = client.get("/api/alerts", params={"since": "2026-10-01", "lang": "en"}).json()
    assert sorted(a["segment"]["rep"] for a in data["open"]) == ["r1", "r2"]
    assert len(data["history"]) == 2 and data["pending"] == 0
    assert data["history"][0]["at_local"] == "2026-10-14 12:00"
    page = client.get("/alerts", params={"since": "2026-10-01", "lang": "ja"})
    assert page.status_code == 200
    html = page.text
    assert "発生中" in html and "初回対応率の低下" in html and "担当者: 佐藤" in html  # r1, by name
    assert 'href="/nodes/first_touch?period=2026-10"' in html
    assert html.count('data-kind="fired"') == 4  # open list + history
    # The default range is the last 30 days from now: October 2026 is not in it.
    assert client.get("/api/alerts").json()["history"] == []


def test_sla_page_and_api(client: Any) -> None:
    data = client.get("/api/sla", params={"period": "2026-10"}).json()
    rule = data["rules"][0]
    # The page measures "now": every October case is decided by now.
    assert rule["cases"] == 8 and rule["open"] == 0
    assert rule["met"] + rule["breached"] == 8
    teams = client.get("/api/sla", params={"period": "2026-10", "by": "team"}).json()
    assert {r["team"] for r in teams["rules"][0]["rows"]} == {"東日本", "西日本"}
    html = client.get("/sla", params={"period": "2026-10", "lang": "ja"}).text
    assert (
        "MQL初回対応" in html
        and "遵守率" in html
        and 'data-testid="breaches-mql_first_touch"' in html
    )
    bad = client.get("/api/sla", params={"by": "channel"})
    assert bad.status_code == 400 and "KT761" in bad.text


def test_sla_page_at_a_moment(client: Any) -> None:
    """``?at=`` shows the cases as they stood then (the hand-worked table's
    moment), the same at every asking; a moment that cannot be read is a 400."""
    at = {"period": "2026-10", "at": "2026-10-14T12:00"}  # NOW, in the project's zone
    rule = client.get("/api/sla", params=at).json()["rules"][0]
    assert (rule["cases"], rule["breached"], rule["about_to_breach"]) == (8, 3, 1)
    assert rule["met"] + rule["breached"] + rule["open"] == 8 and rule["open"] >= 2
    assert client.get("/api/sla", params=at).json()["now"] == "2026-10-14T03:00:00+00:00"
    # The same moment written in UTC: the same cases.
    utc = client.get("/api/sla", params={**at, "at": "2026-10-14T03:00:00+00:00"}).json()
    assert utc["rules"][0] == rule
    # Now every October case is decided.
    assert client.get("/api/sla", params={"period": "2026-10"}).json()["rules"][0]["open"] == 0
    html = client.get("/sla", params={**at, "lang": "en"}).text
    assert (
        'data-testid="breaches-mql_first_touch"' in html
        and "at=2026-10-14T03%3A00%3A00%2B00%3A00" in html
    )
    for path in ("/api/sla", "/sla"):
        bad = client.get(path, params={**at, "at": "yesterday"})
        assert bad.status_code == 400 and "KT730" in bad.text, path


def test_sla_page_is_computed_once_per_data_version(client: Any, tmp_path: Path) -> None:
    import os
    import time

    from kpitree.project import Project

    cache = client.app.state.page_cache
    if time.time() % 60 > 55:  # the entry is kept for the minute: stay within one
        time.sleep(60 - time.time() % 60 + 0.1)
    first = client.get("/api/sla", params={"period": "2026-10"}).json()
    # Only the SLA page's own entries count: the warm-up computes other pages
    # beside the requests, the more so after new data.
    misses = cache.misses_by_kind["sla"]
    assert client.get("/sla", params={"period": "2026-10"}).status_code == 200
    assert client.get("/api/sla", params={"period": "2026-10"}).json() == first
    assert cache.misses_by_kind["sla"] == misses  # the page and its twin read the same entry
    later = time.time() + 5  # new data
    os.utime(Project.load(tmp_path).warehouse_target, (later, later))
    again = client.get("/api/sla", params={"period": "2026-10"}).json()["rules"]
    assert _settled(again) == _settled(first["rules"])
    assert cache.misses_by_kind["sla"] == misses + 1


def _settled(value: Any) -> Any:
    """The report without the hours an open case has run or has left: the
    recomputation measures them from its own moment."""
    if isinstance(value, dict):
        return {
            k: _settled(v)
            for k, v in value.items()
            if k not in {"elapsed_hours", "remaining_hours"} or value.get("response")
        }
    if isinstance(value, list):
        return [_settled(v) for v in value]
    return value


def test_the_server_runs_the_alerts_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deliveries left pending by an outage go out from the server's own run."""
    import time

    from fastapi.testclient import TestClient

    from kpitree.web import routes_alerts
    from kpitree.web.app import create_app

    from .conftest import free_port

    http, smtp = HttpReceiver(free_port()), SmtpReceiver(free_port())
    project = project_at(tmp_path, http.port, smtp.port)
    assert len(project.alerts_run(now=NOW).pending) == 4  # receivers down
    http.start()
    smtp.start()
    monkeypatch.setattr(routes_alerts, "_FIRST_RUN_DELAY", 0.0)
    try:
        with TestClient(create_app(tmp_path), base_url="http://localhost") as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(http.posts) + len(smtp.messages) < 4:
                time.sleep(0.1)
            pending = client.get("/api/alerts", params={"since": "2026-10-01"}).json()["pending"]
        assert len(http.posts) == 2 and len(smtp.messages) == 2 and pending == 0
    finally:
        http.stop()
        smtp.stop()


def test_alerts_page_shows_failing_deliveries_with_their_error(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    from .conftest import free_port

    project = project_at(tmp_path, free_port(), free_port())  # both receivers down
    assert project.alerts_run(now=NOW).failed == 4
    with TestClient(create_app(tmp_path), base_url="http://localhost") as client:
        page = client.get("/alerts", params={"since": "2026-10-01", "lang": "en"}).text
        data = client.get("/api/alerts", params={"since": "2026-10-01"}).json()
    assert "mail: failing (2 attempts): mail: ConnectionRefusedError" in page
    deliveries = [d for e in data["history"] for d in e["deliveries"]]
    assert sum(d["failing"] for d in deliveries) == 4
    assert {e["delivery_state"] for e in data["history"]} == {"failing"}


def test_alerts_and_sla_tables_download_as_csv_and_xlsx(client: Any) -> None:
    import csv
    import io

    from openpyxl import load_workbook

    asked = {"since": "2026-10-01", "lang": "en", "format": "csv", "table": "history"}
    history = client.get("/api/alerts", params=asked)
    assert history.status_code == 200
    assert history.headers["content-type"] == "text/csv; charset=utf-8"
    assert "kpitree-alerts-history" in history.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(history.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["When", "Severity", "Event", "Rule"]
    events = client.get("/api/alerts", params={"since": "2026-10-01", "lang": "en"}).json()
    assert [r[0] for r in rows[1:]] == [e["at_local"] for e in events["history"]]
    assert [r[4] for r in rows[1:]] == [e["node"] for e in events["history"]]
    page = client.get("/alerts", params={**asked, "format": "xlsx", "table": "open"})
    sheet = load_workbook(io.BytesIO(page.content)).active
    assert sheet is not None and sheet.max_row == 1 + len(events["open"])

    sla = client.get("/api/sla", params={"period": "2026-10", "format": "xlsx", "lang": "en"})
    assert sla.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(sla.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("Rule", "Owner", "Cases")
    rule = client.get("/api/sla", params={"period": "2026-10"}).json()["rules"][0]
    assert [v[2] for v in values[1:]] == [r["cases"] for r in rule["rows"]]  # numbers stay numbers
    breaches = client.get(
        "/sla", params={"period": "2026-10", "format": "csv", "table": "breaches", "by": "team"}
    )
    lines = breaches.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + len(rule["breaches"])
    unknown = client.get("/api/sla", params={"format": "csv", "table": "nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "KT694"


def test_every_sla_count_opens_the_cases_it_counts(client: Any) -> None:
    """At the moment of the hand-worked table (NOW), each count of the SLA
    page opens exactly its cases."""
    import html
    import re

    at = "2026-10-14T12:00"  # NOW, in the project's zone
    base = {"period": "2026-10", "rule": "mql_first_touch", "at": at}

    def ids(**params: str) -> list[str]:
        got = client.get("/api/sla/cases", params={**base, **params})
        assert got.status_code == 200, got.text
        view = got.json()
        assert view["total"] == len(view["rows"])
        assert view["count"] == view["total"] or "q" in params  # a search keeps the count
        return sorted(r["values"]["id"] for r in view["rows"])

    assert ids() == ["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8"]
    assert ids(status="breached") == ["L3", "L4", "L7"]
    assert ids(status="open", owner="r2") == ["L5", "L6"]
    assert ids(status="about_to_breach") == ["L6"]
    assert ids(status="met", owner="r1") == ["L1", "L2"]
    assert ids(status="met", department="inside_sales", team="西日本") == ["L8"]
    assert ids(owner="") == []  # the unassigned: none
    assert ids(status="breached", q="r1") == ["L3", "L7"]
    first = client.get("/api/sla/cases", params={**base, "status": "open"}).json()["rows"][0]
    assert first["values"]["status"] == "open" and first["values"]["response"] is None
    assert first["display"]["start"] == "2026-10-13 14:00"  # L6, in JST, the earliest start

    # The page's links carry its moment: each count opens as many cases.
    page = client.get("/sla", params={"period": "2026-10", "lang": "en"}).text
    links = re.findall(r'href="(/sla/cases\?[^"]+)"[^>]*data-count="(\d+)"', page)
    assert len(links) == 4 + 2 * 5  # the summary's four, five per owner
    for href, number in links:
        got = client.get(html.unescape(href).replace("/sla/cases", "/api/sla/cases")).json()
        assert got["count"] == int(number), href
    listed = client.get("/sla/cases", params={**base, "status": "breached", "lang": "ja"})
    assert listed.status_code == 200 and listed.text.count('data-testid="record-row"') == 3
    assert "違反" in listed.text and "2026-10-07 09:00" in listed.text

    csv = client.get("/sla/cases", params={**base, "format": "csv", "lang": "en"})
    lines = csv.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("Case,Owner,") and len(lines) == 1 + 8
    xlsx = client.get("/api/sla/cases", params={**base, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    for bad in ({"status": "nope"}, {"sort": "nope"}, {"at": "yesterday"}):
        refused = client.get("/api/sla/cases", params={**base, **bad})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "KT730", bad
    unknown = client.get("/api/sla/cases", params={**base, "rule": "nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "KT731"
