"""The SLA cases behind the SLA page's counts on the demo company: every count
on the page, per owner, team and department, opens a list with as many cases
as the number, in HTML, JSON and CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import TYPE_CHECKING

import pytest

from .conftest import without_warm_up

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

LINK = re.compile(r'href="(/sla/cases\?[^"]+)"[^>]*data-records="(\w+)" data-count="(\d+)"')


@pytest.mark.parametrize("by", ["owner", "team", "department"])
def test_every_count_on_the_sla_page_opens_as_many_cases(client: TestClient, by: str) -> None:
    checked = 0
    for period in ("this-month", "last-month") if by == "owner" else ("last-month",):
        page = client.get(f"/sla?period={period}&by={by}&lang=ja").text
        links = LINK.findall(page)
        view = client.get(f"/api/sla?period={period}&by={by}").json()
        per_rule = 4 + 5 * max(1, len(view["rules"][0]["rows"]))
        assert len(links) >= per_rule, (period, by)
        for href, status, number in links:
            address = html.unescape(href)
            got = client.get(address.replace("/sla/cases", "/api/sla/cases")).json()
            assert got["count"] == got["total"] == int(number), address
            assert got["status"] == status
            shown = {r["values"]["status"] for r in got["rows"]}
            if status in ("met", "breached", "open"):
                assert shown <= {status}
            checked += int(number)
        href, _, number = max(links, key=lambda link: int(link[2]))
        answer = client.get(html.unescape(href) + "&format=csv")
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert len(rows) - 1 == int(number)
    assert checked > 0


def test_a_case_links_to_its_lead_in_hubspot(demo_copy: object) -> None:
    from pathlib import Path

    import yaml
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    folder = Path(str(demo_copy))
    definition = folder / "kpitree.yaml"
    doc = yaml.safe_load(definition.read_text("utf-8"))
    doc["sources"] = {"crm": {"type": "hubspot", "token_env": "HUBSPOT_TOKEN", "portal_id": 4711}}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    with without_warm_up(), TestClient(create_app(folder), base_url="http://localhost") as client:
        got = client.get("/api/sla/cases?period=last-month").json()
        row = got["rows"][0]
        lead = row["values"]["id"]
        assert row["source_url"] == f"https://app.hubspot.com/contacts/4711/record/0-1/{lead}"
        page = client.get("/sla/cases?period=last-month").text
        assert f'href="{row["source_url"]}"' in page
