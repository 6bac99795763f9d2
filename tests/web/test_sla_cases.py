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
