"""A ``kpitree sync`` killed (SIGKILL) at any point leaves the warehouse as it
was, and the next sync resumes and reaches the source's truth."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from connectors.conftest import HubSpotSetup, warehouse_funnel
from connectors.processes import start_sync, wait_for
from kpitree.connectors.sync import sync_project
from kpitree.data.warehouse import PAUSE_ENV


def _snapshot(setup: HubSpotSetup) -> object:
    if not setup.warehouse.exists():
        return None
    return warehouse_funnel(setup.warehouse)


@pytest.mark.slow
def test_kill_at_random_points_then_resume(hubspot: HubSpotSetup) -> None:
    rng = random.Random(11)
    company = hubspot.company
    for round_ in range(3):
        before = _snapshot(hubspot)
        if round_:
            company.advance(25)
            company.archive(3)
            company.create(4)
        goal = len(hubspot.portal.calls) + rng.randint(1, 4)
        proc = start_sync(hubspot.project, hubspot.env)
        killed = wait_for(lambda goal=goal: len(hubspot.portal.calls) >= goal, proc)
        if killed:
            time.sleep(rng.uniform(0, 0.05))
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if killed and proc.returncode == -signal.SIGKILL:
            assert _snapshot(hubspot) == before
        [resumed] = sync_project(hubspot.project)
        assert resumed.error is None
        assert warehouse_funnel(hubspot.warehouse) == company.truth()


def test_kill_just_before_the_commit_then_resume(hubspot: HubSpotSetup, tmp_path: Path) -> None:
    sync_project(hubspot.project)
    before = _snapshot(hubspot)
    hubspot.company.advance(30)
    hubspot.company.archive(5)
    marker = tmp_path / "paused"
    proc = start_sync(hubspot.project, hubspot.env, {PAUSE_ENV: str(marker)})
    assert wait_for(marker.exists, proc), "the sync ended before its commit"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert _snapshot(hubspot) == before
    [resumed] = sync_project(hubspot.project)
    assert resumed.error is None
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()
