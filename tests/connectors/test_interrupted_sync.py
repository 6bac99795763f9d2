"""A ``kpitree sync`` killed (SIGKILL) at any point leaves the warehouse as it
was, and the next sync resumes and reaches the source's truth."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.conftest import HubSpotSetup, warehouse_funnel
from kpitree.connectors.sync import sync_project
from kpitree.data.warehouse import PAUSE_ENV


def _start(setup: HubSpotSetup, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **setup.env, "KPITREE_SYNC_BACKOFF": "0.01", **(extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "kpitree", "sync", str(setup.project)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(condition: object, proc: subprocess.Popen[bytes], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError("the condition never came")


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
        proc = _start(hubspot)
        killed = _wait_for(lambda goal=goal: len(hubspot.portal.calls) >= goal, proc)
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
    proc = _start(hubspot, {PAUSE_ENV: str(marker)})
    assert _wait_for(marker.exists, proc), "the sync ended before its commit"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert _snapshot(hubspot) == before
    [resumed] = sync_project(hubspot.project)
    assert resumed.error is None
    assert warehouse_funnel(hubspot.warehouse) == hubspot.company.truth()
