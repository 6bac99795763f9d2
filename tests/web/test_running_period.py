"""The period still running is said to be partial beside its name on every
page that shows its numbers (tree, funnel, departments, node, records, the
wall screen), in the page's language; a closed period is not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

PAGES = (
    "/",
    "/funnel",
    "/departments",
    "/departments/field_sales",
    "/nodes/leads",
    "/records/leads",
    "/tv",
    "/tv/departments/inside_sales",
)
MARK = 'data-testid="period-running"'


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_running_period_is_marked_partial_on_every_page(client: TestClient, lang: str) -> None:
    tree = client.get(f"/api/tree?period=this-month&lang={lang}").json()
    as_of, end = tree["as_of"], tree["period"]["end"]
    assert as_of < end, "the demo's data ends today, inside this month"
    words = {"ja": f"（途中: {as_of}まで）", "en": f"(running: to {as_of})"}[lang]
    for path in PAGES:
        page = client.get(f"{path}?period=this-month&lang={lang}").text
        assert MARK in page and words in page, path
        closed = client.get(f"{path}?period=FY2025&lang={lang}").text
        assert MARK not in closed, path


def test_the_wall_screen_names_its_filters_by_their_labels(client: TestClient) -> None:
    page = client.get("/tv?department=field_sales&channel=paid_search&lang=ja").text
    chips = page[page.index('data-testid="kiosk-filter"') :]
    chips = chips[: chips.index("</p>")]
    assert "department" not in chips and "paid_search" not in chips and "field_sales" not in chips
