"""The Records page and its JSON twin: the list behind a number has as many
rows as the number, under the page's period and filters; paged, sorted,
searched, downloadable (escaped), linked from the pages' numbers."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import pytest
import yaml

from .conftest import without_warm_up

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

PERIOD = "FY2026-Q2"


def test_a_count_lists_as_many_records_as_its_number(client: TestClient) -> None:
    for params in (f"period={PERIOD}", f"period={PERIOD}&department=inside_sales"):
        tree = client.get(f"/api/tree?{params}").json()
        for node in ("leads", "mqls", "opportunities", "calls"):
            got = client.get(f"/api/records/{node}?{params}").json()
            actual = tree["nodes"][node]["actual"]
            assert got["lists"][0]["count"] == got["count"] == actual, (node, params)
            assert len(got["rows"]) == min(actual, got["page_size"])


def test_a_rate_shows_its_entrants_and_converted(client: TestClient) -> None:
    tree = client.get(f"/api/tree?period={PERIOD}").json()
    got = client.get(f"/api/records/mql_rate?period={PERIOD}&role=converted").json()
    counts = {item["role"]: item["count"] for item in got["lists"]}
    assert counts == {
        "entrants": tree["nodes"]["leads"]["actual"],
        "converted": tree["nodes"]["mqls"]["actual"],
    }
    assert got["role"] == "converted" and got["count"] == counts["converted"]


def test_a_sum_lists_the_amounts_that_add_up_to_it(client: TestClient) -> None:
    tree = client.get(f"/api/tree?period={PERIOD}").json()
    got = client.get(f"/api/records/new_revenue?period={PERIOD}").json()
    assert got["value_total"] == tree["nodes"]["new_revenue"]["actual"]
    assert {"deal_id", "amount", "owner_name", "team", "account_name"} <= {
        c["key"] for c in got["columns"]
    }


def test_paging_sorting_and_search(client: TestClient) -> None:
    base = f"/api/records/leads?period={PERIOD}"
    first = client.get(base).json()
    second = client.get(base + "&page=2").json()
    ids = [r["values"]["lead_id"] for r in first["rows"] + second["rows"]]
    assert len(ids) == len(set(ids)) == 100 and ids == sorted(ids)
    latest = client.get(base + "&sort=day&desc=true").json()["rows"]
    days = [r["values"]["day"] for r in latest]
    assert days == sorted(days, reverse=True)
    channel = first["rows"][0]["values"]["channel"]
    found = client.get(base + f"&q={channel}").json()
    assert 0 < found["total"] < found["count"] == first["count"]
    assert all(channel in str(r["values"]).lower() for r in found["rows"])


def test_bad_list_or_sort_is_refused(client: TestClient) -> None:
    for query in ("role=nope", "sort=nope"):
        bad = client.get(f"/api/records/leads?period={PERIOD}&{query}")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "KT699"
    missing = client.get("/api/records/leadz")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "KT690"


def test_the_download_holds_every_row_escaped(client: TestClient) -> None:
    got = client.get(f"/api/records/calls?period={PERIOD}").json()
    answer = client.get(f"/records/calls?period={PERIOD}&format=csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) - 1 == got["count"] > 50
    xlsx = client.get(f"/api/records/calls?period={PERIOD}&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_numbers_on_the_pages_link_to_their_records(client: TestClient) -> None:
    for url in ("/", "/funnel", "/departments", "/departments/marketing", "/nodes/leads"):
        page = client.get(url + f"?period={PERIOD}").text
        assert 'href="/records/leads?period=' in page, url
    node = client.get(f"/nodes/leads?period={PERIOD}").text
    assert "/records/leads?period=FY2026-Q2&amp;lang=ja&amp;department=" in node
    page = client.get(f"/records/win_rate?period={PERIOD}&lang=en")
    assert page.status_code == 200 and 'data-role="entrants"' in page.text
    none = client.get(f"/records/revenue?period={PERIOD}").text
    assert 'data-testid="records-none"' in none and "/records/new_revenue?" in none


def test_records_link_to_the_source_system(demo_project: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    folder = tmp_path / "demo"
    shutil.copytree(demo_project, folder)
    definition = folder / "kpitree.yaml"
    doc = yaml.safe_load(definition.read_text("utf-8"))
    pattern = "https://app.hubspot.com/contacts/123/record/0-1/{id}"
    doc.setdefault("data", {})["record_links"] = {"leads": pattern}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    with without_warm_up(), TestClient(create_app(folder), base_url="http://localhost") as client:
        got = client.get(f"/api/records/leads?period={PERIOD}").json()
        row = got["rows"][0]
        assert row["source_url"] == pattern.replace("{id}", row["values"]["lead_id"])
        deals = client.get(f"/api/records/opportunities?period={PERIOD}").json()
        assert deals["rows"][0]["source_url"] is None


def test_synced_records_link_to_hubspot_and_salesforce(demo_project: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    folder = tmp_path / "demo"
    shutil.copytree(demo_project, folder)
    definition = folder / "kpitree.yaml"
    doc = yaml.safe_load(definition.read_text("utf-8"))
    doc["sources"] = {
        "crm": {"type": "hubspot", "token_env": "HUBSPOT_TOKEN", "portal_id": 4711},
        "sfdc": {
            "type": "salesforce",
            "instance_url": "https://acme.my.salesforce.com",
            "objects": ["users", "opportunities"],
            "auth": {
                "flow": "client_credentials",
                "client_id_env": "SF_ID",
                "client_secret_env": "SF_SECRET",
            },
        },
    }
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    with without_warm_up(), TestClient(create_app(folder), base_url="http://localhost") as client:
        leads = client.get(f"/api/records/leads?period={PERIOD}").json()["rows"][0]
        lead_id = leads["values"]["lead_id"]
        assert leads["source_url"] == (
            f"https://app.hubspot.com/contacts/4711/record/0-1/{lead_id}"
        )
        # Both sources fill deals: a row does not say which, so no link.
        deals = client.get(f"/api/records/opportunities?period={PERIOD}").json()["rows"][0]
        assert deals["source_url"] is None
        doc["sources"]["crm"]["objects"] = ["owners", "contacts"]
        definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    with without_warm_up(), TestClient(create_app(folder), base_url="http://localhost") as client:
        deals = client.get(f"/api/records/opportunities?period={PERIOD}").json()["rows"][0]
        deal_id = deals["values"]["deal_id"]
        assert deals["source_url"] == (
            f"https://acme.my.salesforce.com/lightning/r/Opportunity/{deal_id}/view"
        )
        page = client.get(f"/records/opportunities?period={PERIOD}").text
        assert f'href="{deals["source_url"]}"' in page


def test_a_funnel_cohort_lists_its_entrants_and_converted(client: TestClient) -> None:
    funnel = client.get(f"/api/funnel?period={PERIOD}").json()
    page = client.get(f"/funnel?period={PERIOD}").text
    checked = 0
    for step in funnel["steps"]:
        node = step["rate"]["id"]
        if step.get("cohort_entrants") is None:
            continue
        got = client.get(f"/api/records/{node}?period={PERIOD}&view=cohort").json()
        counts = {item["role"]: item["count"] for item in got["lists"]}
        assert counts == {
            "entrants": step["cohort_entrants"],
            "converted": step["cohort_converted"],
        }, node
        entrants = client.get(f"/api/records/{node}?period={PERIOD}&view=cohort&q=&page=1").json()
        assert {r["values"]["converted"] for r in entrants["rows"]} <= {0, 1}
        assert f"/records/{node}?period={PERIOD}&amp;lang=ja&amp;view=cohort" in page
        checked += 1
    assert checked >= 2
    bad = client.get(f"/api/records/leads?period={PERIOD}&view=cohort")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "KT699"
    bad = client.get(f"/api/records/mql_rate?period={PERIOD}&view=nope")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "KT699"


def _hrefs(page: str, prefix: str) -> list[str]:
    import html
    import re

    return [html.unescape(h) for h in re.findall(r'href="(/records/[^"]+)"', page) if prefix in h]


def test_the_node_pages_contributions_open_their_records(client: TestClient) -> None:
    view = client.get(f"/api/nodes/opportunities?period={PERIOD}").json()
    items = [i for i in view["contributions"]["items"] if i.get("records")]
    assert items, view["contributions"]
    page = client.get(f"/nodes/opportunities?period={PERIOD}").text
    table = page[page.index('data-testid="contributions"') :]
    table = table[: table.index("</table>")]
    for item in items:
        links = _hrefs(table, f"/records/{item['node']}?")
        assert links, item["node"]
        got = client.get(links[0].replace("/records/", "/api/records/", 1)).json()
        counts = {x["role"]: x["count"] for x in got["lists"]}
        if set(counts) == {"facts"}:
            assert counts["facts"] == item["actual"], item["node"]
        elif set(counts) == {"entrants", "converted"} and counts["entrants"]:
            assert counts["converted"] / counts["entrants"] == pytest.approx(item["actual"])


def test_a_scorecards_numbers_open_their_reps_records(client: TestClient) -> None:
    from kpitree.filter_text import filter_params

    cards = client.get("/api/review/scorecards?period=last-month").json()
    page = client.get("/review/scorecards?period=last-month").text
    links = set(_hrefs(page, "as_of="))
    checked = 0
    for card in cards["cards"]:
        for kpi in card["kpis"]:
            if kpi["actual"] is None or kpi["unit"] != "count":
                continue
            params = {"period": cards["period"], "as_of": cards["as_of"], "lang": "ja"}
            params.update(filter_params(card["segment"]))
            url = f"/records/{quote(kpi['node'], safe='')}?{urlencode(params, quote_via=quote)}"
            assert url in links, url
            got = client.get(url.replace("/records/", "/api/records/", 1)).json()
            if [x["role"] for x in got["lists"]] == ["facts"]:
                assert got["lists"][0]["count"] == kpi["actual"], (card["segment"], kpi["node"])
                checked += 1
    assert checked >= 5
