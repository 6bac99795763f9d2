"""While new data's pages compute, a real ``kpitree serve`` answers a page at
once with the previous data's figures and a banner saying so (the time of that
data), each user their own page; once the new data can be read, the page shows
the new figures, equal to ``kpitree status`` in its own process, and no banner.
A JSON twin waits for the new figures unless it asks ``Cache-Control: max-stale``."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from .conftest import PASSWORD, add_users
from .updating_data import status_actual, won_deal_held

ACTUAL = re.compile(r'data-node-id="won_deals".*?data-field="actual" data-value="([\d.]+)"', re.S)
USER = re.compile(r'data-testid="user-name">([^<]*)<')
BANNER = 'data-testid="data-updating"'
HEADER = "x-kpitree-data-updating"


def signed_in(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, headers={"accept-language": "en"}, timeout=120)
    token = client.get("/api/session").json()["csrf_token"]
    answer = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "next": "/", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def actual(html: str) -> float:
    return float(ACTUAL.findall(html)[0])


def written_at(project: Path) -> str:
    """The warehouse's last write, as the banner shows it (Tokyo time)."""
    path = project / ".kpitree" / "warehouse.duckdb"
    times = [p.stat().st_mtime for p in (path, path.with_name(path.name + ".wal")) if p.exists()]
    return dt.datetime.fromtimestamp(max(times), ZoneInfo("Asia/Tokyo")).strftime("%H:%M")


def test_a_page_during_new_data_shows_the_previous_figures_marked_then_the_new(
    demo_copy: Path, start_server: Callable[..., str]
) -> None:
    add_users(demo_copy)
    url = start_server(demo_copy)
    viewer, editor = signed_in(url, "viewer"), signed_in(url, "editor")
    with closing(viewer), closing(editor):
        first = viewer.get("/")
        assert first.status_code == 200 and BANNER not in first.text
        assert HEADER not in first.headers
        old = actual(first.text)
        assert viewer.get("/api/tree").json()["nodes"]["won_deals"]["actual"] == old
        assert editor.get("/").status_code == 200
        assert BANNER not in viewer.get("/data").text  # its reports computed
        assert BANNER not in viewer.get("/sla").text
        shown_time = written_at(demo_copy)
        waited: dict[str, Any] = {}
        with won_deal_held(demo_copy):
            # Answered while the server cannot read the new data.
            page = viewer.get("/")
            other = editor.get("/")
            twin = viewer.get("/api/tree", headers={"cache-control": "max-stale"})
            # Without max-stale a twin waits for the new figures.
            asked = threading.Thread(
                target=lambda: waited.update(answer=viewer.get("/api/tree")), daemon=True
            )
            asked.start()
            for answer in (page, other, twin):
                assert answer.status_code == 200, answer.text
                # The time of the previous data, the same instant as the banner's.
                shown = dt.datetime.fromisoformat(answer.headers[HEADER])
                assert f"{shown.astimezone(ZoneInfo('Asia/Tokyo')):%H:%M}" == shown_time
            for html in (page.text, other.text):
                assert BANNER in html
                assert f"Updating data: the figures shown are the data as of {shown_time}" in html
                assert actual(html) == old
            assert twin.json()["nodes"]["won_deals"]["actual"] == old
            # The Data page's quality and links reports and the SLA page: the
            # previous data's, marked.
            for part in ("/data/quality", "/data/links", "/sla"):
                report = viewer.get(part)
                assert report.status_code == 200 and HEADER in report.headers, part
                assert report.text.count(BANNER) == 1, part
            # Each user their own page, though both show the same previous figures.
            assert USER.findall(page.text) == ["viewer (viewer)"]
            assert USER.findall(other.text) == ["editor (editor)"]
        deadline = time.monotonic() + 120
        while BANNER in (page := viewer.get("/")).text:
            assert time.monotonic() < deadline, "the page never showed the new data"
            time.sleep(0.05)
        asked.join(120)
        assert HEADER not in page.headers
        assert actual(page.text) == old + 1 == status_actual(demo_copy, "won_deals")
        assert HEADER not in waited["answer"].headers
        assert waited["answer"].json()["nodes"]["won_deals"]["actual"] == old + 1
        for part in ("/data/quality", "/data/links", "/sla"):
            while BANNER in (report := viewer.get(part)).text:
                assert time.monotonic() < deadline, f"{part} never showed the new data"
                time.sleep(0.05)
            assert HEADER not in report.headers
        data = viewer.get("/data")
        assert data.status_code == 200 and BANNER not in data.text
        mine = editor.get("/")
        assert BANNER not in mine.text and USER.findall(mine.text) == ["editor (editor)"]
        assert actual(mine.text) == old + 1
