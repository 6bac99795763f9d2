"""Freshness per source with a sync (``stale_source``, KT849): a scheduled
sync that ran but found nothing new still delivered, so its source is not
stale however old its newest fact (the fake portal's newest lead is months old).

The first sync is moved 20 days back (import log and sync state), as if it had
run then: the only way to have a sync of 20 days ago in a test that runs today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import duckdb

from connectors.conftest import HubSpotSetup, Run
from kpitree.project import Project

AGO = 20


def _leads(report: dict[str, Any]) -> dict[str, Any]:
    [leads] = [f for f in report["freshness"] if f["table"] == "leads"]
    return leads  # type: ignore[no-any-return]


def test_a_sync_that_found_nothing_new_still_delivered(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    definition = hubspot.project / "kpitree.yaml"
    definition.write_text(
        definition.read_text(encoding="utf-8")
        + "nodes:\n  leads: {kind: kgi, unit: count, metric: leads, target: 100}\n",
        encoding="utf-8",
    )
    today = Project.load(hubspot.project).today()
    assert kpitree("sync", hubspot.project).code == 0
    leads = _leads(kpitree("data", "check", hubspot.project, "--json").json())
    assert (leads["source"], leads["delivered"], leads["days"]) == ("hubspot", today.isoformat(), 0)
    # The portal's newest lead is older than the sync moved back and the threshold.
    assert leads["newest"] < (today - dt.timedelta(days=AGO + 7)).isoformat()
    con = duckdb.connect(str(hubspot.warehouse))
    try:
        con.execute(
            f"UPDATE kpitree_imports SET started_at = started_at - INTERVAL {AGO} DAY, "
            f"finished_at = finished_at - INTERVAL {AGO} DAY"
        )
        con.execute(
            f"UPDATE kpitree_sources SET last_success_at = last_success_at - INTERVAL {AGO} DAY, "
            f"last_attempt_at = last_attempt_at - INTERVAL {AGO} DAY"
        )
    finally:
        con.close()
    report = kpitree("data", "check", hubspot.project, "--json").json()
    leads = _leads(report)
    ago = (today - dt.timedelta(days=AGO)).isoformat()
    assert (leads["delivered"], leads["days"], leads["stale"]) == (ago, AGO, True)
    stale = {
        (f["table"], f["detail"]["source"])
        for f in report["findings"]
        if f["rule"] == "stale_source"
    }
    assert ("leads", "hubspot") in stale and ("deals", "hubspot") in stale
    again = kpitree("sync", hubspot.project)
    assert again.code == 0 and "hubspot: nothing changed" in again.out
    con = duckdb.connect(str(hubspot.warehouse), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM kpitree_imports").fetchall() == [(1,)]
    finally:
        con.close()
    report = kpitree("data", "check", hubspot.project, "--json").json()
    leads = _leads(report)
    assert (leads["delivered"], leads["days"], leads["stale"]) == (today.isoformat(), 0, False)
    assert [f for f in report["findings"] if f["rule"] == "stale_source"] == []
