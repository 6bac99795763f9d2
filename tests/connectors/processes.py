"""``kpitree sync`` in its own process, for the tests that kill it mid-way."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def start_sync(
    project: Path, env: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``kpitree sync PROJECT`` with the source's ``env`` (and ``extra``)."""
    full = {**os.environ, **env, "KPITREE_SYNC_BACKOFF": "0.01", **(extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "kpitree", "sync", str(project)],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 120
) -> bool:
    """Poll until ``condition`` holds (True) or the process ends first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError("the condition never came")
