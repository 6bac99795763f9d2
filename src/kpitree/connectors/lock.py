"""One sync of a project at a time, across processes: ``kpitree sync`` from cron,
the server's schedule, its "sync now" button and webhooks all take the project's
sync lock first.

The lock is an advisory ``flock`` on ``.kpitree/sync.lock`` in the project
folder, held for the whole sync (reading the sources and writing the
warehouse). The operating system releases it when the process ends, however it
ends (``kill -9`` included), so a crashed sync never leaves it behind. A second
sync does not wait: it fails at once with KT957 (the running one brings the
same data).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from kpitree.errors import DataError

__all__ = ["lock_busy", "lock_path", "sync_lock"]


def lock_path(project_dir: Path) -> Path:
    return project_dir / ".kpitree" / "sync.lock"


@contextlib.contextmanager
def sync_lock(project_dir: Path) -> Iterator[None]:
    """Hold the project's sync lock; KT957 when another sync holds it."""
    path = lock_path(project_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise DataError.of(
                "KT957", "sources.sync_running", path=str(project_dir), pid=holder
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_busy(project_dir: Path) -> bool:
    """Whether another sync holds the project's lock at this moment."""
    try:
        with sync_lock(project_dir):
            return False
    except DataError:
        return True
