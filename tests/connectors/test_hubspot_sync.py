"""Syncing a HubSpot portal (a faithful fake on loopback) keeps the warehouse
equal to the portal's true funnel through changes, deletions and undo."""

from __future__ import annotations

import json
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


def _stage_funnel(history: set[tuple[str, str, str]]) -> dict[str, int]:
    """Deals that entered each stage."""
    entered: dict[str, set[str]] = {}
    for deal, stage, _ in history:
        entered.setdefault(stage, set()).add(deal)
    return {stage: len(deals) for stage, deals in entered.items()}


def test_the_deal_stage_funnel_has_every_pipeline_stage_by_its_own_label(
    hubspot: HubSpotSetup,
) -> None:
    """Every open stage a deal went through (HubSpot's hs_v2_date_entered_<stage
    id>), named as its pipeline names it; a label two pipelines share ("Contract
    Sent") is one stage of the funnel, read from each deal's own pipeline."""
    company = hubspot.company
    sync_project(hubspot.project)
    _, truth = company.deal_truth()
    _, held = warehouse_deals(hubspot.warehouse)
    assert held == truth
    funnel = _stage_funnel(held)
    assert funnel == _stage_funnel(truth)
    assert {
        "Appointment Scheduled",
        "Qualified To Buy",
        "Contract Sent",
        "初回商談",
        "提案",
    } <= set(funnel)
    assert funnel["opportunity"] == len(company.deal_truth()[0])
    # Deals move on a stage, others close: the next (incremental) sync follows.
    moved = company.advance_deals(8)
    company.close_deals(4)
    [second] = sync_project(hubspot.project)
    assert second.error is None and len(moved) >= 3
    _, held = warehouse_deals(hubspot.warehouse)
    assert held == company.deal_truth()[1]
    assert _stage_funnel(held) == _stage_funnel(company.deal_truth()[1])
    # The intermediate stages cost no request of their own: the stage-entry
    # properties come with the deals.
    deal_calls = {c for c in hubspot.portal.calls if "deals" in c[1]}
    assert deal_calls <= {
        ("GET", "/crm/v3/objects/deals"),
        ("POST", "/crm/v3/objects/deals/search"),
        ("GET", "/crm/v3/properties/deals"),
        ("GET", "/crm/v3/pipelines/deals"),
        ("POST", "/crm/v4/associations/deals/companies/batch/read"),
        ("POST", "/crm/v4/associations/deals/contacts/batch/read"),
    }


def test_an_own_deals_mapping_names_the_stages_it_wants(hubspot: HubSpotSetup) -> None:
    """With the user's own mapping the stages are the ones it names (by the
    derived field of the label); a label no pipeline has is a located error."""
    from kpitree.connectors.hubspot.objects import _MAPPINGS

    text = (_MAPPINGS / "deals.yaml").read_text(encoding="utf-8")
    own = text.replace(
        "      opportunity: createdate\n",
        '      opportunity: createdate\n      proposal: "Stage entered: 提案"\n',
    )
    (hubspot.project / "deals.yaml").write_text(own, encoding="utf-8")
    with (hubspot.project / "kpitree.yaml").open("a", encoding="utf-8") as f:
        f.write("    mappings: {deals: deals.yaml}\n")
    [result] = sync_project(hubspot.project)
    assert result.error is None
    _, held = warehouse_deals(hubspot.warehouse)
    truth = company_truth = hubspot.company.deal_truth()[1]
    assert held == {
        (d, "proposal" if s == "提案" else s, at)
        for d, s, at in company_truth
        if s in ("opportunity", "won", "lost", "提案")
    }
    assert truth
    (hubspot.project / "deals.yaml").write_text(
        own.replace("Stage entered: 提案", "Stage entered: 提 案"), encoding="utf-8"
    )
    [failed] = sync_project(hubspot.project, full=True)
    assert failed.error is not None
    [diag] = failed.error.diagnostics  # type: ignore[attr-defined]
    assert diag.code == "KT919" and "Stage entered: 提案" in diag.message("en")


def test_a_mapping_column_reads_the_first_spelling_the_portal_has(hubspot: HubSpotSetup) -> None:
    """A rule's alternative spellings (``column: [a, b]``) work as for a file's
    headers: the first property the portal has is read (not only the first
    spelling); an optional rule whose property is missing reads blanks; and a
    dimension's column is fetched too."""
    from kpitree.connectors.hubspot.objects import _MAPPINGS

    text = (_MAPPINGS / "contacts.yaml").read_text(encoding="utf-8")
    own = text.replace(
        "    region: country\n",
        "    region: {column: [hs_country_region, country]}\n"
        "    team: {column: hs_team_that_is_not_there, optional: true}\n",
    ).replace(
        "tables:\n",
        "dimensions:\n  industry_dim: {table: leads, column: [ind, industry]}\ntables:\n",
        1,
    )
    assert own != text
    (hubspot.project / "contacts.yaml").write_text(own, encoding="utf-8")
    with (hubspot.project / "kpitree.yaml").open("a", encoding="utf-8") as f:
        f.write("    objects: [contacts]\n    mappings: {contacts: contacts.yaml}\n")
    [result] = sync_project(hubspot.project)
    assert result.error is None, result.error
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()
    asked = [r for r in hubspot.portal.calls if r == ("GET", "/crm/v3/properties/contacts")]
    assert asked  # the portal's properties decide which spelling exists
    con = duckdb.connect(str(hubspot.warehouse), read_only=True)
    try:
        dims = con.execute("SELECT name, keys FROM kpitree_dimensions").fetchall()
        values = dict(
            con.execute(
                "SELECT record_id, value FROM kpitree_dimension_values WHERE value IS NOT NULL"
            ).fetchall()
        )
    finally:
        con.close()
    assert dims == [("industry_dim", '["industry"]')]
    industries = {
        r.id: r.properties["industry"] for r in hubspot.company.live() if r.properties["industry"]
    }
    assert values == industries and values
    # Changes still follow (the incremental search asks for the same spellings).
    hubspot.company.rename_owner(5)
    [second] = sync_project(hubspot.project)
    assert second.error is None
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()


def test_an_expired_token_is_read_again_from_its_file(
    hubspot: HubSpotSetup, tmp_path: Path
) -> None:
    """A 401 in the middle of a sync makes the connector read its token again
    once (a token helper rewrote the ``token_file`` when the token expired) and
    retry; the sync completes and equals the portal."""
    secret = tmp_path / "secrets" / "hubspot-token"
    secret.parent.mkdir()
    secret.write_text(hubspot.portal.token + "\n", encoding="utf-8")
    definition = hubspot.project / "kpitree.yaml"
    text = definition.read_text(encoding="utf-8")
    definition.write_text(
        text.replace("token_env: KPITREE_TEST_HUBSPOT_TOKEN", f"token_file: {secret}"),
        encoding="utf-8",
    )
    fresh = "pat-na1-99999999-8888-7777-6666-555555555555"
    hubspot.portal.rotate = (6, fresh, lambda new: secret.write_text(new, encoding="utf-8"))
    [result] = sync_project(hubspot.project)
    assert result.error is None, result.error
    assert hubspot.portal.token == fresh and hubspot.portal.rotate is None
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()
    # A token that stays refused still stops the sync (KT915), naming the file.
    hubspot.portal.token = "pat-na1-00000000-0000-0000-0000-000000000000"
    [refused] = sync_project(hubspot.project)
    [diag] = refused.error.diagnostics  # type: ignore[union-attr]
    assert diag.code == "KT915" and str(secret) in diag.message("en")
    assert fresh not in diag.message("en") and fresh not in json.dumps(refused.to_json())


def test_sync_records_reads_only_that_object_and_those_records(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    """``kpitree sync --records contacts=ID,...`` (what the server runs for a
    webhook): only contacts, from their cursor, plus those records by id, which
    a search does not show yet."""
    assert kpitree("sync", hubspot.project, "--json").code == 0
    hubspot.portal.search_lag_ms = 10 * 60 * 1000
    moved = hubspot.company.advance(3)
    before = len(hubspot.portal.calls)
    run = kpitree("sync", hubspot.project, "--records", "contacts=" + ",".join(moved), "--json")
    assert run.code == 0, run.err
    [source] = run.json()["sources"]
    assert [o["object"] for o in source["objects"]] == ["contacts"]
    leads, _ = warehouse_funnel(hubspot.warehouse)
    truth, _ = hubspot.company.truth()
    assert all(leads[i] == truth[i] for i in moved)
    calls = hubspot.portal.calls[before:]
    assert ("POST", "/crm/v3/objects/contacts/batch/read") in calls
    assert not [c for c in calls if "deals" in c[1] or "owners" in c[1]]
    unknown = kpitree("sync", hubspot.project, "--records", "tickets=1", "--json")
    assert unknown.code == 1 and "KT914" in unknown.out
    bad = kpitree("sync", hubspot.project, "--records", "contacts")
    assert bad.code == 2 and "OBJECT=ID" in bad.err


def test_an_incremental_sync_with_nothing_changed_stays_light(hubspot: HubSpotSetup) -> None:
    """Its fixed cost: a fresh ``kpitree sync`` process with nothing to bring
    maps only the objects that read records (not the empty ones), never imports
    pandas (Arrow built from Python lists would, about half a second), and
    changes nothing."""
    import subprocess
    import sys

    sync_project(hubspot.project)
    probe = (
        "import json, sys\n"
        "from kpitree.data import records\n"
        "calls = []\n"
        "real = records.map_records\n"
        "def spy(table, *args, **kwargs):\n"
        "    calls.append(args[1])\n"
        "    return real(table, *args, **kwargs)\n"
        "records.map_records = spy\n"
        "from kpitree.connectors.sync import sync_project\n"
        "[result] = sync_project(__import__('pathlib').Path(sys.argv[1]))\n"
        "print(json.dumps({'pandas': 'pandas' in sys.modules, 'mapped': calls,\n"
        "    'import_id': result.import_id, 'error': str(result.error or ''),\n"
        "    'read': {o.object: o.read for o in result.objects},\n"
        "    'tables': {o.object: [c.table for c in o.tables] for o in result.objects}}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(hubspot.project)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["error"] == "" and found["import_id"] is None
    assert found["pandas"] is False
    mapped = {label.split("/")[1] for label in found["mapped"]}
    assert mapped == {o for o, n in found["read"].items() if n}
    assert found["read"]["companies"] == 0 and "companies" not in mapped
    # An object that read nothing still reports its tables, as before.
    assert found["tables"]["companies"] == ["accounts"]
