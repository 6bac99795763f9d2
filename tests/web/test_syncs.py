"""The server's syncs: schedules, "sync now" (API and roles), the project's sync
lock, and HubSpot's signed webhook. The sources are fakes on loopback; waits are
for conditions, never fixed times."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fakes.hubspot import Portal
from fakes.hubspot import serve as serve_hubspot
from fakes.hubspot_company import Company
from fakes.kintone import Domain
from fakes.kintone import serve as serve_kintone
from fakes.kintone_company import MAPPING, DealsApp
from kpitree.connectors.lock import sync_lock
from kpitree.web.app import create_app
from kpitree.web.hooks import sign
from web.conftest import PASSWORD, add_users

KINTONE_ENV = "KPITREE_TEST_WEB_KINTONE_TOKEN"
HUBSPOT_ENV = "KPITREE_TEST_WEB_HUBSPOT_TOKEN"
SECRET_ENV = "KPITREE_TEST_WEB_HUBSPOT_SECRET"
SECRET = "app-client-secret-5f0c2a"
TREE = (
    "kpitree: 1\nname: synced\nnodes:\n"
    "  revenue: {label: Revenue, kind: kgi, unit: currency, assume: 1000}\n"
)
HOOK = "http://localhost/hooks/hubspot"


def _project(folder: Path, sources: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mappings").mkdir(exist_ok=True)
    (folder / "mappings" / "kintone-deals.yaml").write_text(MAPPING, encoding="utf-8")
    (folder / "kpitree.yaml").write_text(TREE + "sources:\n" + sources, encoding="utf-8")
    return folder


def _kintone_source(url: str, schedule: str = "") -> str:
    return (
        f"  crm:\n    type: kintone\n    base_url: {url}\n{schedule}"
        f"    apps: {{deals: {{app: 12, token_env: {KINTONE_ENV}, "
        "mapping: mappings/kintone-deals.yaml}}\n"
    )


def wait_for(condition: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("the condition never came")


def log_in(client: TestClient, name: str) -> str:
    """Log in as ``name``; the session's CSRF token."""
    token = client.get("/api/session").json()["csrf_token"]
    form = {"name": name, "password": PASSWORD, "next": "/data", "csrf_token": token}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    found: str = client.get("/api/session").json()["csrf_token"]
    return found


def held(client: TestClient) -> int:
    """Records the first source holds, as the server shows them."""
    answer = client.get("/api/sources")
    assert answer.status_code == 200, answer.text
    [source] = answer.json()["sources"]
    return sum(o["records"] for o in source["objects"])


def settled(client: TestClient) -> dict[str, Any] | None:
    """The first source once no sync of it runs or waits."""
    [source] = client.get("/api/sources").json()["sources"]
    return None if source["running"] or source["queued"] else source


@pytest.fixture
def kintone_domain(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DealsApp, str]]:
    domain = Domain()
    deals = DealsApp(domain, deals=600)
    monkeypatch.setenv(KINTONE_ENV, deals.token)
    monkeypatch.setenv("KPITREE_SYNC_BACKOFF", "0.01")
    with serve_kintone(domain) as url:
        yield deals, url


@contextmanager
def running(project: Path) -> Iterator[TestClient]:
    """The app with its lifespan (and so its sync runner) running."""
    app = create_app(project)
    with TestClient(app, base_url="http://localhost", headers={"accept-language": "en"}) as c:
        c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf_token"]
        yield c


def test_a_scheduled_source_syncs_when_due_then_waits_its_interval(
    kintone_domain: tuple[DealsApp, str], tmp_path: Path
) -> None:
    deals, url = kintone_domain
    project = _project(tmp_path / "p", _kintone_source(url, "    schedule: {every: 5m}\n"))
    with running(project) as client:
        # Never synced: due as the server starts.
        source = wait_for(lambda: held(client) == len(deals.records) and settled(client))
        assert source["schedule"] == "5m" and source["last_error"] is None
        assert source["objects"] == [
            {"object": "deals", "cursor": source["objects"][0]["cursor"], "records": 600}
        ]
        attempt = datetime.fromisoformat(source["last_attempt_at"])
        assert datetime.fromisoformat(source["next_run_at"]) == attempt + timedelta(minutes=5)
        assert client.app.state.syncs.runs == 1  # type: ignore[attr-defined]
    # A restarted server remembers the last attempt: not due again yet.
    with running(project) as client:
        [source] = client.get("/api/sources").json()["sources"]
        assert datetime.fromisoformat(source["next_run_at"]) == attempt + timedelta(minutes=5)
        assert client.app.state.syncs.runs == 0  # type: ignore[attr-defined]


def test_sync_now_brings_changes_and_open_pages_hear_of_it(
    kintone_domain: tuple[DealsApp, str], tmp_path: Path
) -> None:
    deals, url = kintone_domain
    project = _project(tmp_path / "p", _kintone_source(url))
    with running(project) as client:
        [source] = client.get("/api/sources").json()["sources"]
        assert source["schedule"] is None and source["next_run_at"] is None
        assert source["last_success_at"] is None
        answer = client.post("/api/sources/crm/sync")
        assert answer.status_code == 202 and answer.json() == {"source": "crm", "queued": True}
        wait_for(lambda: held(client) == 600)
        version = wait_for(lambda: client.app.state.live.version)  # type: ignore[attr-defined]
        deals.delete(5)
        assert client.post("/api/sources/crm/sync").status_code == 202
        wait_for(lambda: held(client) == 595)
        wait_for(lambda: client.app.state.live.version != version)  # type: ignore[attr-defined]
        source = wait_for(lambda: settled(client))
        assert source["last_success_at"] is not None and source["objects"][0]["records"] == 595
        missing = client.post("/api/sources/nope/sync")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "KT958"


def test_only_editors_sync_and_a_write_needs_the_csrf_token(
    kintone_domain: tuple[DealsApp, str], tmp_path: Path
) -> None:
    _, url = kintone_domain
    project = _project(tmp_path / "p", _kintone_source(url))
    add_users(project)
    with running(project) as client:
        runner = client.app.state.syncs  # type: ignore[attr-defined]
        token = client.headers.pop("X-CSRF-Token")
        anonymous = client.post("/api/sources/crm/sync", headers={"X-CSRF-Token": token})
        assert anonymous.status_code == 401
        token = log_in(client, "viewer")
        assert client.get("/api/sources").status_code == 200
        denied = client.post("/api/sources/crm/sync", headers={"X-CSRF-Token": token})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "KT605"
        page = client.get("/data/sources").text
        assert 'data-testid="source-crm"' in page and 'data-testid="sync-crm"' not in page
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        token = log_in(client, "editor")
        assert 'data-testid="sync-crm"' in client.get("/data/sources").text
        assert client.post("/api/sources/crm/sync").status_code == 403  # no CSRF token
        assert runner.requested == [] and runner.runs == 0
        ok = client.post("/api/sources/crm/sync", headers={"X-CSRF-Token": token})
        assert ok.status_code == 202
        wait_for(lambda: held(client) == 600)


def test_a_sync_running_elsewhere_is_waited_for_not_joined(
    kintone_domain: tuple[DealsApp, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpitree.web import syncs

    monkeypatch.setattr(syncs, "BUSY_RETRY_SECONDS", 0.2)
    _, url = kintone_domain
    project = _project(tmp_path / "p", _kintone_source(url))
    with running(project) as client, sync_lock(project):
        runner = client.app.state.syncs  # type: ignore[attr-defined]
        client.post("/api/sources/crm/sync")
        wait_for(lambda: runner.runs >= 2)  # tried, found the lock held, tried again
        assert held(client) == 0
    with running(project) as client:
        client.post("/api/sources/crm/sync")
        wait_for(lambda: held(client) == 600)


# -- HubSpot webhook -----------------------------------------------------------------------


@pytest.fixture
def hubspot_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Company]]:
    portal = Portal()
    company = Company(portal, contacts=40)
    monkeypatch.setenv(HUBSPOT_ENV, portal.token)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv("KPITREE_SYNC_BACKOFF", "0.01")
    from kpitree.web.routes_sync import HOOK_LIMITER

    HOOK_LIMITER._failures.clear()
    with serve_hubspot(portal) as url:
        source = (
            f"  hubspot:\n    type: hubspot\n    token_env: {HUBSPOT_ENV}\n"
            f"    webhook_secret_env: {SECRET_ENV}\n    base_url: {url}\n"
        )
        yield _project(tmp_path / "p", source), company


def _signed(
    body: bytes, *, secret: str = SECRET, age_ms: int = 0, uri: str = HOOK
) -> dict[str, str]:
    stamp = str(int(time.time() * 1000) - age_ms)
    return {
        "X-HubSpot-Signature-v3": sign(secret, "POST", uri, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
        "Content-Type": "application/json",
    }


EVENTS = b'[{"eventId":1,"subscriptionType":"contact.propertyChange","objectId":1001}]'


def test_a_signed_webhook_syncs_its_source_without_a_session(
    hubspot_project: tuple[Path, Company],
) -> None:
    project, company = hubspot_project
    add_users(project)  # sessions are required everywhere else
    with running(project) as client:
        client.headers.pop("X-CSRF-Token")
        answer = client.post("/hooks/hubspot", content=EVENTS, headers=_signed(EVENTS))
        assert answer.status_code == 200, answer.text
        log_in(client, "viewer")
        source = wait_for(lambda: (s := settled(client)) and s["last_success_at"] and s)
        assert source["last_error"] is None
        contacts = {o["object"]: o["records"] for o in source["objects"]}["contacts"]
        assert contacts == len(company.live())


def test_unsigned_bad_or_stale_webhooks_are_refused_and_trigger_nothing(
    hubspot_project: tuple[Path, Company],
) -> None:
    project, _ = hubspot_project
    cases = {
        "unsigned": {"Content-Type": "application/json"},
        "wrong secret": _signed(EVENTS, secret="not-the-secret"),
        "stale": _signed(EVENTS, age_ms=10 * 60 * 1000),
        "from the future": _signed(EVENTS, age_ms=-10 * 60 * 1000),
        "another body": _signed(b"[]"),
        "another address": _signed(EVENTS, uri="http://localhost/hooks/other"),
        "garbage time": {**_signed(EVENTS), "X-HubSpot-Request-Timestamp": "soon"},
    }
    with running(project) as client:
        for case, headers in cases.items():
            answer = client.post("/hooks/hubspot", content=EVENTS, headers=headers)
            assert answer.status_code == 401, case
            error = answer.json()["error"]
            # One message for every cause: it tells an attacker nothing.
            assert error["code"] == "KT960", case
            assert error["message"] == "the request is not signed as this server expects"
            assert SECRET not in answer.text
        runner = client.app.state.syncs  # type: ignore[attr-defined]
        assert runner.requested == [] and runner.runs == 0
        assert held(client) == 0


def test_webhook_limits_size_and_failing_addresses(hubspot_project: tuple[Path, Company]) -> None:
    project, _ = hubspot_project
    with running(project) as client:
        big = b"[" + b" " * (300 * 1024) + b"]"
        assert client.post("/hooks/hubspot", content=big, headers=_signed(big)).status_code == 413
        codes = [
            client.post(
                "/hooks/hubspot", content=EVENTS, headers=_signed(EVENTS, secret="x")
            ).status_code
            for _ in range(21)
        ]
        assert codes[:20] == [401] * 20 and codes[20] == 429
        # Held off even when signed, until the window passes.
        good = client.post("/hooks/hubspot", content=EVENTS, headers=_signed(EVENTS))
        assert good.status_code == 429
        assert client.app.state.syncs.runs == 0  # type: ignore[attr-defined]


def test_no_webhook_secret_means_every_hook_is_refused(
    hubspot_project: tuple[Path, Company], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, _ = hubspot_project
    monkeypatch.delenv(SECRET_ENV)
    with running(project) as client:
        answer = client.post("/hooks/hubspot", content=EVENTS, headers=_signed(EVENTS))
        assert answer.status_code == 401


def test_signature_v3_as_hubspot_documents_it() -> None:
    from kpitree.web.hooks import MAX_AGE_MS, signed_uri, verify

    # The URI is signed with the characters HubSpot lists decoded.
    assert signed_uri("https://a.example/hooks/hubspot?x=%3A%2Fy%40") == (
        "https://a.example/hooks/hubspot?x=:/y@"
    )
    now = 1_800_000_000_000
    stamp = str(now - MAX_AGE_MS)
    good = sign("s3cret", "POST", "https://a.example/h", b"[]", stamp)
    assert verify(["other", "s3cret"], "POST", "https://a.example/h", b"[]", good, stamp, now) == 1
    late = str(now - MAX_AGE_MS - 1)
    stale = sign("s3cret", "POST", "https://a.example/h", b"[]", late)
    assert verify(["s3cret"], "POST", "https://a.example/h", b"[]", stale, late, now) is None
    assert verify(["s3cret"], "GET", "https://a.example/h", b"[]", good, stamp, now) is None


def test_a_schedule_runs_again_and_its_second_run_is_incremental(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``schedule: {every: 1m}``: the server syncs at start, then again a minute
    after, and that second run searches for what changed since the first one's
    cursor (the fake's request log shows no full listing), bringing the change."""
    from connectors.conftest import warehouse_funnel

    portal = Portal(requests=[])
    company = Company(portal, contacts=40)
    monkeypatch.setenv(HUBSPOT_ENV, portal.token)
    monkeypatch.setenv("KPITREE_SYNC_BACKOFF", "0.01")
    with serve_hubspot(portal) as url:
        source = (
            f"  hubspot:\n    type: hubspot\n    token_env: {HUBSPOT_ENV}\n"
            f"    base_url: {url}\n    schedule: {{every: 1m}}\n"
        )
        project = _project(tmp_path / "p", source)
        with running(project) as client:
            runner = client.app.state.syncs  # type: ignore[attr-defined]
            first = wait_for(
                lambda: runner.runs == 1 and (s := settled(client)) and s["last_success_at"] and s
            )
            assert first["last_error"] is None
            assert portal.requests is not None
            mark = len(portal.requests)
            listed = [u for m, u, _ in portal.requests if u.startswith("/crm/v3/objects/contacts?")]
            assert any("archived=false" in u for u in listed)  # the first run lists all
            moved = company.advance(4)
            second = wait_for(
                lambda: (
                    runner.runs == 2
                    and (s := settled(client))
                    and s["last_success_at"] != first["last_success_at"]
                    and s
                ),
                timeout=240.0,
            )
            assert second["last_error"] is None
            attempt = datetime.fromisoformat(first["last_attempt_at"])
            assert datetime.fromisoformat(second["last_attempt_at"]) >= attempt + timedelta(
                minutes=1
            )
        later = portal.requests[mark:]
        contacts = [(m, u) for m, u, _ in later if u.startswith("/crm/v3/objects/contacts")]
        assert ("POST", "/crm/v3/objects/contacts/search") in contacts
        assert all("archived=false" not in u for _, u in contacts)  # no full listing again
        [search] = [
            b for m, u, b in later if u == "/crm/v3/objects/contacts/search" and b is not None
        ][:1]
        [flt] = search["filterGroups"][0]["filters"]
        cursor = next(o["cursor"] for o in first["objects"] if o["object"] == "contacts")
        assert flt["operator"] == "GTE" and int(flt["value"]) < int(cursor)  # the look-back
        leads, _ = warehouse_funnel(project / ".kpitree" / "warehouse.duckdb")
        truth, _ = company.truth()
        assert moved and all(leads[i] == truth[i] for i in moved)


def test_a_webhook_syncs_the_records_its_events_name_even_before_search_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events' objects are synced (not the others), and the records they
    name are read directly: HubSpot's search shows a write only moments later
    (here: ten minutes later), the batch read at once. Polling stays the truth:
    the search from the cursor runs too."""
    from connectors.conftest import warehouse_funnel

    portal = Portal(requests=[])
    company = Company(portal, contacts=40)
    monkeypatch.setenv(HUBSPOT_ENV, portal.token)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv("KPITREE_SYNC_BACKOFF", "0.01")
    from kpitree.web.routes_sync import HOOK_LIMITER

    HOOK_LIMITER._failures.clear()
    with serve_hubspot(portal) as url:
        source = (
            f"  hubspot:\n    type: hubspot\n    token_env: {HUBSPOT_ENV}\n"
            f"    webhook_secret_env: {SECRET_ENV}\n    base_url: {url}\n"
        )
        project = _project(tmp_path / "p", source)
        warehouse = project / ".kpitree" / "warehouse.duckdb"
        with running(project) as client:
            runner = client.app.state.syncs  # type: ignore[attr-defined]
            assert client.post("/api/sources/hubspot/sync").status_code == 202
            wait_for(lambda: runner.runs == 1 and (s := settled(client)) and s["last_success_at"])
            assert runner.commands[-1] == [str(project), "--source", "hubspot", "--json"]
            portal.search_lag_ms = 10 * 60 * 1000
            moved = company.advance(3)
            truth, _ = company.truth()
            assert all(warehouse_funnel(warehouse)[0][i] != truth[i] for i in moved)
            assert portal.requests is not None
            mark = len(portal.requests)
            events = [
                {"eventId": 1, "subscriptionType": "contact.propertyChange",
                 "objectId": int(moved[0]), "propertyName": "lifecyclestage"},
                {"eventId": 2, "subscriptionType": "object.propertyChange",
                 "objectTypeId": "0-1", "objectId": int(moved[1])},
                {"eventId": 3, "subscriptionType": "contact.merge",
                 "primaryObjectId": int(moved[2]), "mergedObjectIds": []},
                {"eventId": 4, "subscriptionType": "ticket.creation", "objectId": 77},
            ]  # fmt: skip
            body = json.dumps(events).encode()
            answer = client.post("/hooks/hubspot", content=body, headers=_signed(body))
            assert answer.status_code == 200 and answer.json()["objects"] == ["contacts"]
            wait_for(lambda: runner.runs == 2 and settled(client))
            assert runner.commands[-1][-2:] == ["--records", "contacts=" + ",".join(sorted(moved))]
            leads, _ = warehouse_funnel(warehouse)
            assert all(leads[i] == truth[i] for i in moved)
            later = [(m, u) for m, u, _ in portal.requests[mark:]]
            assert ("POST", "/crm/v3/objects/contacts/search") in later
            assert ("POST", "/crm/v3/objects/contacts/batch/read") in later
            assert not [u for _, u in later if "deals" in u or "companies" in u or "owners" in u]
            # Events of objects the source does not sync trigger nothing.
            body = json.dumps([events[3]]).encode()
            answer = client.post("/hooks/hubspot", content=body, headers=_signed(body))
            assert answer.status_code == 200 and answer.json()["objects"] == []
            assert runner.requested == [] and runner.runs == 2


def test_webhook_events_name_their_records() -> None:
    from kpitree.web.hooks import changed_records

    body = json.dumps(
        [
            {"subscriptionType": "deal.creation", "objectId": 11},
            {"subscriptionType": "object.deletion", "objectTypeId": "0-2", "objectId": 12},
            {"subscriptionType": "company.merge", "primaryObjectId": 13,
             "mergedObjectIds": [14, 15]},
            {"subscriptionType": "object.creation", "objectTypeId": "0-5", "objectId": 16},
            {"subscriptionType": "contact.privacyDeletion", "objectId": 17},
            {"subscriptionType": "contact.creation", "objectId": "not an id"},
        ]
    ).encode()  # fmt: skip
    assert changed_records(body) == {
        "deals": {"11"},
        "companies": {"12", "13", "14", "15"},
        "contacts": {"17"},
    }
    # Not a list of events: the whole source is synced.
    assert changed_records(b'{"objectId": 1}') is None
    assert changed_records(b"not json") is None
    assert changed_records(b"[1, 2]") is None


def test_a_webhook_request_merges_with_one_waiting() -> None:
    from kpitree.web.syncs import SyncRunner

    runner = SyncRunner(Path())
    assert runner.request("hubspot", {"contacts": {"1"}})
    assert not runner.request("hubspot", {"contacts": {"2"}, "deals": {"3"}})
    assert runner.records["hubspot"] == {"contacts": {"1", "2"}, "deals": {"3"}}
    assert not runner.request("hubspot")  # the whole source wins
    assert not runner.request("hubspot", {"deals": {"4"}})
    assert runner.records["hubspot"] is None and runner.requested == ["hubspot"]
