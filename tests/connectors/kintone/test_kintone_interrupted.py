"""A kintone sync killed (SIGKILL) at any point leaves the warehouse as it was,
and the next sync resumes and reaches the app's truth."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest

from connectors.kintone.conftest import KintoneSetup, warehouse_deals
from connectors.processes import start_sync, wait_for
from kpitree.connectors.sync import sync_project
from kpitree.data.warehouse import PAUSE_ENV

pytestmark = pytest.mark.slow


def _snapshot(setup: KintoneSetup) -> object:
    return warehouse_deals(setup.warehouse) if setup.warehouse.exists() else None


def test_kill_at_random_points_then_resume(kintone: KintoneSetup) -> None:
    rng = random.Random(3)
    for round_ in range(3):
        before = _snapshot(kintone)
        if round_:
            kintone.deals.advance(20)
            kintone.deals.delete(3)
            kintone.deals.create(4)
        target = len(kintone.domain.calls) + rng.randint(1, 3)
        proc = start_sync(kintone.project, kintone.env)
        killed = wait_for(lambda t=target: len(kintone.domain.calls) >= t, proc)
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if killed and proc.returncode == -signal.SIGKILL:
            assert _snapshot(kintone) == before
        [resumed] = sync_project(kintone.project)
        assert resumed.error is None
        assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()


def test_kill_just_before_the_commit_then_resume(kintone: KintoneSetup, tmp_path: Path) -> None:
    sync_project(kintone.project)
    before = _snapshot(kintone)
    kintone.deals.advance(10)
    kintone.deals.delete(6)
    marker = tmp_path / "paused"
    proc = start_sync(kintone.project, kintone.env, {PAUSE_ENV: str(marker)})
    assert wait_for(marker.exists, proc), "the sync ended before its commit"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert _snapshot(kintone) == before
    [resumed] = sync_project(kintone.project)
    assert resumed.error is None and resumed.objects[0].removed == 6
    assert warehouse_deals(kintone.warehouse) == kintone.deals.truth()
