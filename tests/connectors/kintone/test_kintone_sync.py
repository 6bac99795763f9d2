"""kintone through ``kpitree sync``: a full sync equals the app's truth, an
incremental one reads only what changed and removes deleted records, and a
second sync with nothing changed changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from connectors.kintone.conftest import KintoneSetup, warehouse_deals
from fakes.kintone_company import APP_ID
from kpitree.connectors.sync import sync_project


def _imports(setup: KintoneSetup) -> int:
    con = duckdb.connect(str(setup.warehouse), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM kpitree_imports").fetchall()[0][0])
    finally:
        con.close()


def test_full_sync_equals_the_app_then_nothing_changes(kintone: KintoneSetup, kpitree) -> None:
    run = kpitree("sync", kintone.project, "--json")
    assert run.code == 0, run.err
    [source] = run.json()["sources"]
    [deals] = source["objects"]
    assert deals["read"] == 1200
    assert deals["tables"][0] == {"table": "deals", "rows": 1200, "inserted": 1200,
                                  "updated": 0, "unchanged": 0, "deleted": 0}  # fmt: skip
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()
    # 1200 records by the $id seek: three pages of 500 at most, plus the form.
    reads = [c for c in kintone.domain.calls if c[1] == "/k/v1/records.json"]
    assert len(reads) == 3
    [again] = sync_project(kintone.project)
    assert again.error is None and again.import_id is None
    assert _imports(kintone) == 1
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()


def test_incremental_reads_changes_and_removes_deleted(kintone: KintoneSetup) -> None:
    sync_project(kintone.project)
    moved = kintone.deals.advance(30)
    created = kintone.deals.create(6)
    deleted = kintone.deals.delete(9)
    [result] = sync_project(kintone.project)
    assert result.error is None
    [deals] = result.objects
    changed = len(set(moved + created) - set(deleted))
    # What changed, plus the records updated in the minute of the old cursor
    # (kintone keeps times to the minute), read again and found unchanged.
    [counts] = deals.tables
    assert counts.inserted == len(created) and counts.updated == changed - len(created)
    assert counts.deleted == len(deleted) == deals.removed
    assert deals.read == changed + counts.unchanged
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()


def test_a_change_in_the_minute_of_the_cursor_is_not_missed(kintone: KintoneSetup) -> None:
    minute = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    kintone.domain.clock = lambda: minute
    kintone.deals.advance(3)
    [first] = sync_project(kintone.project)
    assert first.objects[0].cursor == '{"updated": "2026-12-01T09:30:00Z"}'
    # Same minute, after the sync: the record's time equals the cursor.
    later = kintone.deals.advance(2)
    [second] = sync_project(kintone.project)
    assert second.objects[0].tables[0].updated == len(later) == 2
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()


def test_full_resync_removes_what_the_app_no_longer_has(kintone: KintoneSetup) -> None:
    sync_project(kintone.project)
    gone = kintone.deals.delete(4)
    [result] = sync_project(kintone.project, full=True)
    assert result.objects[0].removed == len(gone)
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()


def test_rate_limited_requests_are_waited_out(kintone: KintoneSetup) -> None:
    kintone.domain.throttle = 3
    [result] = sync_project(kintone.project)
    assert result.error is None
    assert kintone.domain.throttled == 3
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()


def test_an_empty_app_syncs_to_nothing(kintone: KintoneSetup) -> None:
    for rid in list(kintone.deals.records):
        kintone.domain.delete_record(APP_ID, rid)
    [result] = sync_project(kintone.project)
    assert result.error is None and result.objects[0].read == 0


def test_an_app_in_a_guest_space_is_read_under_its_guest_path(kintone: KintoneSetup) -> None:
    """An app in a guest space answers only under /k/guest/<space>/v1/: without
    ``guest_space`` the sync says what to add (KT970), with it the app syncs
    (and follows changes) like any other."""
    kintone.domain.apps[APP_ID].guest_space = 5
    [refused] = sync_project(kintone.project)
    [diag] = refused.error.diagnostics  # type: ignore[union-attr]
    assert diag.code == "KT970" and "guest_space" in diag.message("en")
    definition = kintone.project / "kpitree.yaml"
    text = definition.read_text(encoding="utf-8")
    definition.write_text(text.replace(f"{{app: {APP_ID},", f"{{app: {APP_ID}, guest_space: 5,"))
    [result] = sync_project(kintone.project)
    assert result.error is None, result.error
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()
    kintone.deals.advance(7)
    [again] = sync_project(kintone.project)
    assert again.error is None
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()
    paths = {p for _, p in kintone.domain.calls}
    assert "/k/guest/5/v1/records.json" in paths and "/k/guest/5/v1/app/form/fields.json" in paths
    # Another space's id is not where the app is.
    definition.write_text(text.replace(f"{{app: {APP_ID},", f"{{app: {APP_ID}, guest_space: 6,"))
    [elsewhere] = sync_project(kintone.project)
    assert elsewhere.error.diagnostics[0].code == "KT952"  # type: ignore[union-attr]
