"""The fake kintone answers as Cybozu documents: the tests of the connector are
only as good as the fake's faithfulness."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fakes.kintone import Domain, serve
from fakes.kintone_company import APP_ID, DealsApp


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Domain, DealsApp, httpx.Client]]:
    domain = Domain()
    deals = DealsApp(domain, deals=1100)
    with serve(domain) as url, httpx.Client(base_url=url) as client:
        client.headers["X-Cybozu-API-Token"] = deals.token
        yield domain, deals, client


def test_records_are_typed_fields_and_total_count_is_a_string(served) -> None:
    _, _, client = served
    body = client.get(
        "/k/v1/records.json",
        params={"app": APP_ID, "query": "$id <= 3 order by $id asc", "totalCount": "true"},
    ).json()
    assert body["totalCount"] == "3"
    first = body["records"][0]
    assert first["$id"] == {"type": "__ID__", "value": "1"}
    assert first["金額"]["type"] == "NUMBER" and isinstance(first["金額"]["value"], str)
    assert first["担当者"]["type"] == "USER_SELECT" and "code" in first["担当者"]["value"][0]
    assert first["更新日時"]["value"].endswith(":00Z")
    assert client.get("/k/v1/records.json", params={"app": APP_ID}).json()["totalCount"] is None


def test_seek_fields_and_limits(served) -> None:
    _, _, client = served
    params = {"app": APP_ID, "query": "$id > 500 order by $id asc limit 500", "fields[0]": "$id"}
    records = client.get("/k/v1/records.json", params=params).json()["records"]
    assert [r["$id"]["value"] for r in records[:2]] == ["501", "502"] and len(records) == 500
    assert set(records[0]) == {"$id"}
    too_many = client.get("/k/v1/records.json", params={"app": APP_ID, "query": "limit 501"})
    assert too_many.status_code == 400 and too_many.json()["code"] == "CB_VA01"
    far = client.get("/k/v1/records.json", params={"app": APP_ID, "query": "offset 10001"})
    assert far.status_code == 400
    unknown = client.get("/k/v1/records.json", params={"app": APP_ID, "query": 'x = "1"'})
    assert unknown.status_code == 400 and unknown.json()["code"] == "GAIA_IQ11"
    assert set(unknown.json()) == {"code", "id", "message"}


def test_updated_time_conditions_compare_instants(served) -> None:
    _, deals, client = served
    stamps = sorted(r["更新日時"]["value"] for r in deals.records.values())
    middle = stamps[len(stamps) // 2]
    query = f'更新日時 >= "{middle.replace("Z", "+0000")}"'
    got = client.get(
        "/k/v1/records.json", params={"app": APP_ID, "query": query, "totalCount": "true"}
    ).json()
    assert int(got["totalCount"]) == sum(1 for s in stamps if s >= middle)


def test_tokens_and_permissions(served) -> None:
    domain, deals, client = served
    other = domain.new_token(99)
    no_view = domain.new_token(APP_ID, view=False)
    get = lambda token: client.get(  # noqa: E731
        "/k/v1/records.json", params={"app": APP_ID}, headers={"X-Cybozu-API-Token": token}
    )
    assert get(f"{other},{deals.token}").status_code == 200  # several tokens, comma-separated
    assert get(other).json()["code"] == "GAIA_IA02"
    assert get(no_view).status_code == 403 and get(no_view).json()["code"] == "GAIA_NO01"
    missing = client.get("/k/v1/records.json", params={"app": 404})
    assert missing.status_code == 404 and missing.json()["code"] == "GAIA_AP01"


def test_cursor_pages_then_disappears_and_ten_per_domain(served) -> None:
    domain, _, client = served
    made = client.post(
        "/k/v1/records/cursor.json",
        json={"app": APP_ID, "fields": ["$id"], "query": "$id <= 250", "size": 200},
    ).json()
    assert made["totalCount"] == "250"
    first = client.get("/k/v1/records/cursor.json", params={"id": made["id"]}).json()
    second = client.get("/k/v1/records/cursor.json", params={"id": made["id"]}).json()
    assert (len(first["records"]), first["next"], len(second["records"]), second["next"]) == (
        200, True, 50, False,
    )  # fmt: skip
    gone = client.get("/k/v1/records/cursor.json", params={"id": made["id"]})
    assert gone.status_code == 400
    with_limit = client.post("/k/v1/records/cursor.json", json={"app": APP_ID, "query": "limit 5"})
    assert with_limit.status_code == 400
    ids = [client.post("/k/v1/records/cursor.json", json={"app": APP_ID}).json()["id"]
           for _ in range(10)]  # fmt: skip
    eleventh = client.post("/k/v1/records/cursor.json", json={"app": APP_ID})
    assert eleventh.status_code == 429 and eleventh.json()["code"] == "GAIA_TM12"
    for cid in ids:
        assert client.request("DELETE", "/k/v1/records/cursor.json", json={"id": cid}).is_success
    assert domain.cursors == {}


def test_concurrent_request_limit(served) -> None:
    domain, _, client = served
    domain.throttle = 1
    refused = client.get("/k/v1/app/form/fields.json", params={"app": APP_ID})
    assert refused.status_code == 429 and refused.json()["code"] == "GAIA_TO04"
    fields = client.get("/k/v1/app/form/fields.json", params={"app": APP_ID}).json()
    assert fields["properties"]["更新日時"]["type"] == "UPDATED_TIME"
    assert "$id" not in fields["properties"]
