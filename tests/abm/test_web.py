"""The Accounts and Account pages and their JSON twins, in-process: tiers,
filters, CSV/XLSX downloads, escaping of imported names, 404 for an unknown
account."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .views import build


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from kpitree.web.app import create_app

    folder = build(tmp_path_factory.mktemp("web"))
    with TestClient(create_app(folder), base_url="http://localhost") as c:
        yield c


def test_accounts_twin_and_filters(client: TestClient) -> None:
    data = client.get("/api/accounts", params={"lang": "en"}).json()
    # Today the June meetings are long out of the 30-day window.
    rows = {r["account_id"]: r for r in data["accounts"]}
    assert [r["account_id"] for r in data["accounts"]] == ["ACME", "BETA", "GAMMA"]
    assert rows["ACME"]["tier"] == "B" and rows["ACME"]["score"] == 30
    assert rows["BETA"]["target"] is True and rows["BETA"]["target_reasons"] == ["list"]
    only = client.get("/api/accounts", params={"target": "yes"}).json()
    assert [r["account_id"] for r in only["accounts"]] == ["BETA"]
    tier_b = client.get("/api/accounts", params={"tier": "B"}).json()
    assert [r["account_id"] for r in tier_b["accounts"]] == ["ACME"]
    assert (
        client.get("/api/accounts", params={"q": "ガンマ"}).json()["accounts"][0]["name"]
        == "ガンマ"
    )


def test_accounts_page_and_downloads(client: TestClient) -> None:
    page = client.get("/accounts", params={"lang": "ja"})
    assert page.status_code == 200
    assert 'data-account="ACME"' in page.text and "取引先（ABM）" in page.text
    assert "&lt;b&gt;ベータ&lt;/b&gt;" in page.text and "<b>ベータ</b>" not in page.text
    assert 'data-nav="accounts"' in page.text
    got = client.get("/accounts", params={"format": "csv", "target": "no"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [r["account_id"] for r in rows] == ["ACME", "GAMMA"]
    assert rows[0]["points.size"] == "30" and rows[0]["tier"] == "B"
    xlsx = client.get("/api/accounts", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_account_page_and_twin(client: TestClient) -> None:
    twin = client.get("/api/accounts/ACME", params={"lang": "en"}).json()
    assert twin["breakdown"][0] == {
        "criterion": "size", "label": "Company size", "points": 30.0, "max_points": 30.0,
        "missing": False, "signals": [],
    }  # fmt: skip
    assert [d["deal_id"] for d in twin["deals"]] == ["D1", "D0"]
    assert len(twin["timeline"]) == 4
    page = client.get("/accounts/ACME", params={"lang": "en"})
    assert page.status_code == 200
    assert 'data-testid="breakdown"' in page.text and 'data-deal="D1"' in page.text
    missing = client.get("/api/accounts/NOPE")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "KT265"
    assert client.get("/accounts/NOPE").status_code == 404


def test_a_project_without_abm_answers_400_with_the_fix(tmp_path: Path) -> None:
    from kpitree.web.app import create_app

    (tmp_path / "kpitree.yaml").write_text(
        "kpitree: 1\nname: x\nnodes:\n  r: {kind: kgi, unit: count}\n", encoding="utf-8"
    )
    with TestClient(create_app(tmp_path), base_url="http://localhost") as c:
        got = c.get("/api/accounts", params={"lang": "en"})
    assert got.status_code == 400
    assert got.json()["error"]["code"] == "KT264"


def test_an_unknown_target_filter_is_400(client: TestClient) -> None:
    got = client.get("/api/accounts", params={"target": "null"})
    assert got.status_code == 400 and got.json()["error"]["code"] == "KT266"
    assert client.get("/api/accounts", params={"target": ""}).status_code == 200


def test_a_changed_target_list_is_seen_at_once(tmp_path: Path) -> None:
    from kpitree.web.app import create_app

    folder = build(tmp_path)
    with TestClient(create_app(folder), base_url="http://localhost") as c:
        first = c.get("/api/accounts", params={"target": "yes"}).json()["accounts"]
        assert [r["account_id"] for r in first] == ["BETA"]
        (folder / "targets.csv").write_text("会社名\nガンマ\n", encoding="utf-8")
        import os

        stat = (folder / "targets.csv").stat()
        os.utime(folder / "targets.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        again = c.get("/api/accounts", params={"target": "yes"}).json()["accounts"]
        assert [r["account_id"] for r in again] == ["GAMMA"]


def test_each_count_of_the_accounts_page_opens_the_accounts_it_counts(
    client: TestClient,
) -> None:
    import html
    import re

    everything = client.get("/api/accounts").json()["accounts"]
    for lang in ("ja", "en"):
        page = client.get("/accounts", params={"lang": lang}).text
        links = re.findall(
            r'href="(/accounts\?[^"]+)" data-records="accounts" data-count="(\d+)"', page
        )
        assert len(links) >= 3, links  # a count per tier, "no tier", the target accounts
        for href, number in links:
            address = html.unescape(href)
            listed = client.get(address.replace("/accounts", "/api/accounts", 1)).json()
            assert len(listed["accounts"]) == int(number), address
            # Counted by hand from the unfiltered list.
            key, _, value = address.split("?", 1)[1].partition("=")
            if key == "tier":
                expected = [a for a in everything if (a["tier"] or "none") == value]
            else:
                expected = [a for a in everything if a["target"]]
            assert len(expected) == int(number), address
        assert 'href="/accounts?target=yes"' in page and 'href="/accounts?tier=none"' in page
