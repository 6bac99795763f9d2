"""Syncing a HubSpot portal (a faithful fake on loopback) keeps the warehouse
equal to the portal's true funnel through changes, deletions and undo."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from connectors.conftest import CONTACTS, HubSpotSetup, Run, warehouse_deals, warehouse_funnel
from kpitree.connectors.sync import ObjectSync, SourceSync, sync_project
from kpitree.data.warehouse import Warehouse


def _versions(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(con.execute("SELECT * FROM kpitree_table_versions").fetchall())
    finally:
        con.close()


def _obj(result: SourceSync, name: str) -> ObjectSync:
    return next(o for o in result.objects if o.object == name)


def _reps(path: Path) -> dict[str, tuple[str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0]: (r[1], r[2]) for r in con.execute("SELECT * FROM reps").fetchall()}
    finally:
        con.close()


def test_a_full_sync_equals_the_known_funnel(hubspot: HubSpotSetup) -> None:
    [result] = sync_project(hubspot.project)
    assert result.error is None and result.import_id == 1
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()
    assert warehouse_deals(hubspot.warehouse) == hubspot.company.deal_truth()
    assert [o.object for o in result.objects] == ["owners", "companies", "contacts", "deals"]
    contacts = _obj(result, "contacts")
    assert contacts.read == CONTACTS
    assert {c.table: c.inserted for c in contacts.tables} == {
        "leads": CONTACTS,
        "lead_stage_history": len(hubspot.company.truth()[1]),
    }
    # The listing pages at HubSpot's documented maximum of 100.
    listings = [c for c in hubspot.portal.calls if c == ("GET", "/crm/v3/objects/contacts")]
    assert len(listings) == 2


def test_incremental_syncs_follow_changes_and_deletions(hubspot: HubSpotSetup) -> None:
    sync_project(hubspot.project)
    company = hubspot.company
    company.advance(20)
    company.rename_owner(7)
    company.create(5)
    archived = company.archive(4)
    before = len(hubspot.portal.calls)
    [result] = sync_project(hubspot.project)
    assert result.error is None and result.import_id == 2
    assert warehouse_funnel(hubspot.warehouse) == company.truth()
    counts = {c.table: c for c in _obj(result, "contacts").tables}
    assert counts["leads"].inserted == 5 and counts["leads"].deleted == 4
    assert _obj(result, "contacts").deleted_in_source == 4
    leads, _ = warehouse_funnel(hubspot.warehouse)
    assert not set(archived) & set(leads)
    # Incremental: a search (and the archive listing), never the whole listing again.
    calls = hubspot.portal.calls[before:]
    assert ("POST", "/crm/v3/objects/contacts/search") in calls
    assert calls.count(("GET", "/crm/v3/objects/contacts")) == 1  # archived=true


def test_a_sync_with_nothing_changed_changes_nothing(hubspot: HubSpotSetup) -> None:
    sync_project(hubspot.project)
    hubspot.company.advance(3)
    sync_project(hubspot.project)
    versions = _versions(hubspot.warehouse)
    imports = Warehouse(hubspot.warehouse).imports()
    funnel = warehouse_funnel(hubspot.warehouse)
    [again] = sync_project(hubspot.project)
    assert again.error is None and again.import_id is None
    assert all(c.inserted == c.updated == c.deleted == 0 for o in again.objects for c in o.tables)
    assert _versions(hubspot.warehouse) == versions
    assert Warehouse(hubspot.warehouse).imports() == imports
    assert warehouse_funnel(hubspot.warehouse) == funnel


@pytest.mark.parametrize("hubspot", [300], indirect=True)
def test_records_sharing_one_modified_time_across_pages_are_all_read(
    hubspot: HubSpotSetup,
) -> None:
    """More changed records than a search page holds, all at one instant: the
    keyset paging pages on within the instant instead of skipping any."""
    sync_project(hubspot.project)
    instant = hubspot.portal.now_ms()
    moved = hubspot.company.advance(230, at=instant)
    assert len(moved) == 230
    [result] = sync_project(hubspot.project)
    assert result.error is None
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()


def test_full_sync_removes_records_deleted_for_good(hubspot: HubSpotSetup) -> None:
    sync_project(hubspot.project)
    purged = hubspot.company.purge(6)
    sync_project(hubspot.project)  # an incremental sync cannot see them
    leads, _ = warehouse_funnel(hubspot.warehouse)
    assert set(purged) <= set(leads)
    [full] = sync_project(hubspot.project, full=True)
    assert _obj(full, "contacts").removed == 6
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()


def test_undo_of_a_sync_restores_the_warehouse_and_the_next_sync_reads_all(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    sync_project(hubspot.project)
    first = warehouse_funnel(hubspot.warehouse)
    hubspot.company.advance(10)
    hubspot.company.archive(3)
    [second] = sync_project(hubspot.project)
    listed = kpitree("imports", "--project", hubspot.project, "--json").json()["imports"]
    assert [(i["kind"], i["file"]) for i in listed] == [("sync", "hubspot"), ("sync", "hubspot")]
    undone = kpitree("imports", "undo", str(second.import_id), "--project", hubspot.project)
    assert undone.code == 0, undone.err
    assert warehouse_funnel(hubspot.warehouse) == first
    # The first sync cannot be undone under the second... which is undone now: it can.
    [again] = sync_project(hubspot.project)
    assert _obj(again, "contacts").read == CONTACTS - 3  # everything again: the cursor was cleared
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()


def test_an_earlier_sync_cannot_be_undone_under_a_later_deletion(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    sync_project(hubspot.project)
    hubspot.company.archive(2)
    sync_project(hubspot.project)
    refused = kpitree("imports", "undo", "1", "--project", hubspot.project)
    assert refused.code == 1 and "KT432" not in refused.out
    assert "import 2" in refused.err or "2" in refused.err


def test_a_429_storm_without_retry_after_is_waited_out(hubspot: HubSpotSetup) -> None:
    hubspot.portal.throttle_every = 2  # every second request, no Retry-After
    sync_project(hubspot.project)
    hubspot.company.advance(15)
    [result] = sync_project(hubspot.project)
    assert result.error is None
    assert hubspot.portal.throttled > 3
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()


def test_empty_pages_that_point_on_are_followed(hubspot: HubSpotSetup) -> None:
    hubspot.portal.empty_pages = True
    [result] = sync_project(hubspot.project)
    assert result.error is None
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()


def test_a_failing_sync_stores_nothing_and_the_next_resumes(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    sync_project(hubspot.project)
    before = warehouse_funnel(hubspot.warehouse)
    hubspot.company.advance(12)
    good = hubspot.portal.token
    hubspot.portal.token = "pat-na1-rotated"  # the token expired mid-way
    [failed] = sync_project(hubspot.project)
    assert failed.error is not None
    assert failed.error.diagnostics[0].code == "KT915"  # type: ignore[attr-defined]
    assert warehouse_funnel(hubspot.warehouse) == before
    listed = kpitree("sources", hubspot.project, "--json").json()["sources"][0]
    assert listed["state"]["last_error"]["code"] == "KT915"
    hubspot.portal.token = good
    [resumed] = sync_project(hubspot.project)
    assert resumed.error is None
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()
    listed = kpitree("sources", hubspot.project, "--json").json()["sources"][0]
    assert listed["state"]["last_error"] is None
    assert {
        "object": "contacts",
        "cursor": _obj(resumed, "contacts").cursor,
        "records": CONTACTS,
    } in (listed["state"]["objects"])


def test_dry_run_counts_but_writes_nothing(hubspot: HubSpotSetup) -> None:
    [dry] = sync_project(hubspot.project, dry_run=True)
    assert dry.error is None and dry.import_id is None
    assert _obj(dry, "contacts").tables[0].inserted == CONTACTS
    assert not Warehouse(hubspot.warehouse).imports()
    [real] = sync_project(hubspot.project)
    assert real.import_id == 1  # the dry run's id was not used up


def test_deals_follow_their_pipeline_stages_and_associations(hubspot: HubSpotSetup) -> None:
    sync_project(hubspot.project)
    deals, _ = warehouse_deals(hubspot.warehouse)
    # Stage labels as the portal writes them, Japanese pipeline included.
    assert {"新規営業パイプライン", "Sales Pipeline"} == {d["pipeline"] for d in deals.values()}
    assert {d["stage"] for d in deals.values()} >= {"受注", "Closed Won"}
    closed = hubspot.company.close_deals(6)
    hubspot.company.archive(2, "deals")
    [second] = sync_project(hubspot.project)
    assert second.error is None
    assert warehouse_deals(hubspot.warehouse) == hubspot.company.deal_truth()
    assert _obj(second, "deals").read >= 6
    deals, _ = warehouse_deals(hubspot.warehouse)
    assert all(deals[d]["status"] in ("won", "lost") for d in closed if d in deals)


def test_owners_become_reps_and_archived_owners_stay(hubspot: HubSpotSetup) -> None:
    sync_project(hubspot.project)
    reps = _reps(hubspot.warehouse)
    assert reps == hubspot.company.reps()
    assert reps["70000"] == ("佐藤 健", "rep0@example.co.jp")
    assert "70006" in reps  # archived in HubSpot, still the owner of old deals


@pytest.mark.parametrize("hubspot", [500], indirect=True)
def test_more_records_at_one_instant_than_search_can_page_stop_the_sync(
    hubspot: HubSpotSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search query pages through at most 10,000 results (a smaller cap here, on
    both sides): records at one modified instant beyond it cannot be read by
    search, so the sync stops and stores nothing instead of skipping them."""
    from kpitree.connectors.hubspot import api

    hubspot.portal.search_cap = 400
    monkeypatch.setattr(api, "SEARCH_CAP", 400)
    sync_project(hubspot.project)
    before = warehouse_funnel(hubspot.warehouse)
    instant = hubspot.portal.now_ms()
    assert len(hubspot.company.advance(450, at=instant)) == 450
    [stopped] = sync_project(hubspot.project)
    assert stopped.error is not None
    assert stopped.error.diagnostics[0].code == "KT917"  # type: ignore[attr-defined]
    assert warehouse_funnel(hubspot.warehouse) == before
    [full] = sync_project(hubspot.project, full=True)
    assert full.error is None
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()
