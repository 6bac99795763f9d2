"""The actions page's volumes (the facts behind each window of an action)
open the records of the action's node and segment over that window: as many
rows as the volume shown, on the planted company."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

LINK = re.compile(
    r'href="(/records/[^"]+)" data-records="(\w+)" data-window="(\w+)" data-count="([\d.]+)"'
)


@pytest.fixture
def client(planted: Path) -> Iterator[TestClient]:
    app = create_app(planted)
    with closing(TestClient(app, base_url="http://localhost")) as c:
        yield c


def test_each_window_volume_opens_as_many_records(client: TestClient) -> None:
    token = client.get("/api/session").json()["csrf_token"]
    bodies = [
        # A rate over the whole company: its volume is the window's entrants.
        {"node": "mql_rate", "expected_effect": "+5pt", "start": "2025-10-01",
         "due": "2025-11-30"},
        # A count in a segment (every planted lead is from the web).
        {"node": "leads", "expected_effect": "+10%", "start": "2025-12-01",
         "due": "2026-01-15", "segment": "channel=web"},
        # A segment without facts: both windows' volumes are 0.
        {"node": "leads", "expected_effect": "+10%", "start": "2025-12-01",
         "due": "2026-01-15", "segment": 'channel="East, West"'},
    ]  # fmt: skip
    for body in bodies:
        added = client.post(
            "/api/actions",
            json={"owner": "IS 田中", "description": "call script", **body},
            headers={"X-CSRF-Token": token},
        )
        assert added.status_code == 201, added.text
    twin = {a["id"]: a for a in client.get("/api/actions", params={"all": "true"}).json()}
    for lang in ("ja", "en"):
        page = client.get("/actions", params={"lang": lang}).text
        links = LINK.findall(page)
        assert len(links) == 2 * len(bodies), links
        assert ("件数" if lang == "ja" else "Volume") in page
        for href, node, window, count in links:
            address = html.unescape(href)
            assert window in ("before", "after") and f"lang={lang}" in address
            got = client.get(address.replace("/records/", "/api/records/", 1))
            assert got.status_code == 200, got.text
            listed = got.json()
            assert listed["count"] == listed["total"] == float(count), (address, listed["count"])
            assert listed["role"] == ("entrants" if node == "mql_rate" else "facts")
            assert address.startswith(f"/records/{node}?")
        volumes = {
            (a["node"], a["outcome"][w]["start"], a["outcome"][w]["volume"])
            for a in twin.values()
            for w in ("before", "after")
        }
        shown = set()
        for href, node, _, count in links:
            period = re.search(r"period=([^&]+)", html.unescape(href))
            assert period is not None
            start = period.group(1).split("..")[0]
            shown.add((node, start, float(count)))
        assert shown == {(n, s, float(v)) for n, s, v in volumes}
    # The rate's after window has entrants; the empty segment shows zeros.
    assert any(float(c) > 100 for _, n, _, c in links if n == "mql_rate")
    assert sum(float(c) for h, _, _, c in links if "East" in html.unescape(h)) == 0
