"""Syncing a HubSpot portal (the loopback fake) into a PostgreSQL warehouse: the
sync writes through the same path as imports, so PostgreSQL holds the portal's
true funnel through changes, deletions and an undo, as the embedded warehouse
does (tests/connectors/test_hubspot_sync.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from connectors.conftest import (
    CONTACTS,
    HubSpotSetup,
    Run,
    verify_follows_hubspot,
    write_project,
)
from kpitree.connectors.sync import sync_project

pytestmark = pytest.mark.postgres


def _database(postgres_url: str) -> str:
    server, _ = postgres_url.rsplit("/", 1)
    name = f"sync_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def _ms(column: str) -> str:
    return f"floor(extract(epoch FROM {column}) * 1000)::bigint"


def pg_funnel(url: str) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
    """Leads and stage entries as stored, in the shape of ``Company.truth()``."""
    names = ("created_at", "channel", "owner_id", "current_stage", "industry", "region")
    with psycopg.connect(url) as con:
        leads = {
            r[0]: dict(zip(names, r[1:], strict=True))
            for r in con.execute(
                f"SELECT lead_id, {_ms('created_at')}, channel, owner_id, current_stage, "
                "industry, region FROM leads"
            ).fetchall()
        }
        history = {
            (r[0], r[1], str(r[2]))
            for r in con.execute(
                f"SELECT lead_id, stage, {_ms('entered_at')} FROM lead_stage_history"
            ).fetchall()
        }
    return leads, history


def _everything(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every canonical table and the sync registry, as text, sorted."""
    from kpitree.data.deletions import SYNC_RECORDS
    from kpitree.data.schema import TABLES

    out = {}
    with psycopg.connect(url) as con:
        for t in (*TABLES, SYNC_RECORDS):
            rows = con.execute(f"SELECT CAST({t.name} AS TEXT) FROM {t.name}").fetchall()
            out[t.name] = sorted(rows)
    return out


@pytest.fixture
def pg_hubspot(hubspot: HubSpotSetup, postgres_url: str) -> tuple[HubSpotSetup, str]:
    url = _database(postgres_url)
    write_project(hubspot.project, hubspot.url, f"data:\n  warehouse: {url}\n")
    return hubspot, url


def test_syncs_into_postgres_follow_the_portal_and_undo_exactly(
    pg_hubspot: tuple[HubSpotSetup, str], kpitree: Callable[..., Run]
) -> None:
    hubspot, url = pg_hubspot
    [first] = sync_project(hubspot.project)
    assert first.error is None and first.import_id == 1
    assert pg_funnel(url) == hubspot.company.truth()
    after_first = _everything(url)

    company = hubspot.company
    company.advance(15)
    company.create(4)
    archived = company.archive(3)
    [second] = sync_project(hubspot.project)
    assert second.error is None and second.import_id == 2
    assert pg_funnel(url) == company.truth()
    assert not set(archived) & set(pg_funnel(url)[0])

    listed = kpitree("imports", "--project", hubspot.project, "--json").json()["imports"]
    assert [(i["kind"], i["status"]) for i in listed] == [("sync", "applied")] * 2
    undone = kpitree("imports", "undo", "2", "--project", hubspot.project)
    assert undone.code == 0, undone.err
    assert _everything(url) == after_first  # the deleted leads are back, the new ones gone
    [again] = sync_project(hubspot.project)  # the cursor was cleared: everything again
    assert next(o for o in again.objects if o.object == "contacts").read == CONTACTS + 4 - 3
    assert pg_funnel(url) == company.truth()
    assert not (hubspot.project / ".kpitree" / "warehouse.duckdb").exists()


def test_a_failing_sync_stores_nothing_in_postgres(pg_hubspot: tuple[HubSpotSetup, str]) -> None:
    hubspot, url = pg_hubspot
    sync_project(hubspot.project)
    before = _everything(url)
    hubspot.company.advance(10)
    with psycopg.connect(url, autocommit=True) as con:  # the database fails mid-sync
        con.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'out of disk (test)'; END $$"
        )
        con.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON lead_stage_history "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    [failed] = sync_project(hubspot.project)
    assert failed.error is not None
    assert failed.error.diagnostics[0].code == "KT571"  # type: ignore[attr-defined]
    assert _everything(url) == before
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP TRIGGER refuse ON lead_stage_history")
        error = con.execute("SELECT last_error_code FROM kpitree_sources").fetchall()
    assert error == [("KT571",)]
    [resumed] = sync_project(hubspot.project)
    assert resumed.error is None
    assert pg_funnel(url) == hubspot.company.truth()


def test_sources_verify_counts_a_postgres_warehouse_as_the_embedded_one(
    pg_hubspot: tuple[HubSpotSetup, str], kpitree: Callable[..., Run]
) -> None:
    hubspot, _ = pg_hubspot
    verify_follows_hubspot(hubspot, kpitree)
