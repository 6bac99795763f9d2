"""The Data page's preview is paged: 25 mapped rows and 25 rejected cells a
page, with the count of all of them, as HTML fragments and as JSON; every page
shows instants in the project's zone and amounts as amounts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app

MAPPING = "salesforce-opportunities"
GOOD, BAD = 120, 55


@pytest.fixture(scope="module")
def paged(demo_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client with one upload previewed: 120 valid deals and 55 with a bad amount."""
    import shutil

    project = tmp_path_factory.mktemp("paged") / "demo"
    shutil.copytree(demo_project, project)
    head = "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner"
    rows = [
        f"G-{i:03d},Deal {i},11/05/2026,11/05/2026,{1000 * (i + 1)},Closed Won,rep-1"
        for i in range(GOOD)
    ]
    rows += [f"B-{i:03d},Bad {i},11/05/2026,11/05/2026,abc{i},Closed Won,rep-1" for i in range(BAD)]
    content = "\n".join([head, *rows]).encode()
    app = create_app(project)
    with closing(
        TestClient(app, base_url="http://localhost", headers={"accept-language": "en"})
    ) as client:
        client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf_token"]
        found = client.post(
            "/api/imports/preview",
            files={"file": ("deals.csv", content, "text/csv")},
            data={"mapping": MAPPING},
        ).json()
        page = client.post(
            "/data/preview",
            files={"file": ("deals.csv", content, "text/csv")},
            data={"mapping": MAPPING},
        ).text
        yield client, found, page


def _ids(table: dict[str, Any]) -> list[str]:
    return [row[table["columns"].index("deal_id")] for row in table["preview"]]


def test_the_first_page_holds_25_rows_and_says_how_many_there_are(paged: Any) -> None:
    _, found, page = paged
    deals = next(t for t in found["tables"] if t["table"] == "deals")
    assert deals["rows"] == GOOD
    assert (deals["page"], deals["pages"], deals["per_page"]) == (1, 5, 25)
    assert _ids(deals) == [f"G-{i:03d}" for i in range(25)]
    assert len(found["errors"]) == BAD  # the JSON keeps every rejected cell
    # The page shows 25 of each, with the counts and the way to the next page.
    body = page[page.index('data-testid="preview-deals"') :]
    assert body[: body.index("</table>")].count("<tr>") == 26  # the head and 25 rows
    errors = page[page.index('data-testid="preview-errors"') :]
    assert errors[: errors.index("</table>")].count("<tr>") == 26
    assert "Rows 1–25 of 120" in page and "Page 1 of 5" in page
    assert "Rows 1–25 of 55" in page and "Page 1 of 3" in page
    assert re.search(r'href="/data/preview/[\w-]+/tables/deals\?page=2"', page)


def test_later_pages_as_json_and_as_fragments(paged: Any) -> None:
    client, found, _ = paged
    upload = found["upload_id"]
    last = client.get(f"/api/imports/{upload}/preview/deals?page=5").json()
    assert _ids(last) == [f"G-{i:03d}" for i in range(100, GOOD)]
    assert (last["page"], last["pages"], last["first"], last["last"]) == (5, 5, 101, 120)
    # Shown as the first page is: local times, amounts as amounts.
    shown = dict(zip(last["display"]["columns"], last["display"]["rows"][0], strict=True))
    assert shown["created_at"] == "2026-11-05 00:00" and shown["amount"] == "¥101,000"
    past = client.get(f"/api/imports/{upload}/preview/deals?page=9").json()
    assert past["page"] == 5  # past the end: the last page
    third = client.get(f"/api/imports/{upload}/errors?page=3").json()
    assert third["total"] == BAD and len(third["errors"]) == BAD - 50
    assert third["errors"][0]["row"] == found["errors"][50]["row"]
    assert third["errors"][0]["message"] == found["errors"][50]["message"]
    fragment = client.get(f"/data/preview/{upload}/tables/deals?page=3").text
    assert "G-050" in fragment and "G-049" not in fragment and "G-075" not in fragment
    assert 'rel="prev"' in fragment and 'rel="next"' in fragment
    assert "Rows 51–75 of 120" in fragment
    ja = client.get(f"/data/preview/{upload}/errors?page=3", headers={"accept-language": "ja"})
    assert "55 行中 51〜55 行目" in ja.text
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja.text.split("<tbody>")[1])


def test_an_unknown_table_or_upload_says_what_to_do(paged: Any) -> None:
    client, found, _ = paged
    upload = found["upload_id"]
    unknown = client.get(f"/api/imports/{upload}/preview/nothing")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "KT740"
    sneaky = client.get(f"/api/imports/{upload}/preview/..%2Ferrors")
    assert sneaky.status_code == 404
    gone = client.get("/api/imports/" + "x" * 24 + "/errors")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "KT620"
