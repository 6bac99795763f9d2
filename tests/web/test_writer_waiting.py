"""The warm-up (the common pages computed in the background after start and
after new data) gives way to an import: another process waiting to write the
warehouse is seen at once, and its marker is dropped when that process is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kpitree.project import Project
from kpitree.web.live import writer_waiting


def test_another_process_waiting_to_write_is_seen(demo_copy: Path) -> None:
    project = Project.load(demo_copy)
    target = Path(project.warehouse_target)
    assert not writer_waiting(project)
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    marker = target.with_name(f"{target.name}.writer-{other.pid}")
    try:
        marker.write_text(f"{other.pid}\n")
        assert writer_waiting(project)
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(30)
    assert not writer_waiting(project)  # its process ended: the marker is stale
    assert not marker.exists()


def test_the_warm_up_gives_way_to_an_import(demo_copy: Path) -> None:
    """Another process starts waiting to write the warehouse once the warm-up
    has computed its first page: the round stops there (its queries would
    hold the file the import waits for, or wait for the file themselves), and
    the next, after the import, computes every page."""
    from kpitree.web.cache import PageCache
    from kpitree.web.warmer import Warmer

    project = Project.load(demo_copy)
    target = Path(project.warehouse_target)
    cache = PageCache()
    warmer = Warmer(lambda: project, cache, interval=0.05, langs=("ja",))
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    marker = target.with_name(f"{target.name}.writer-{other.pid}")
    computed: list[str] = []
    real_get = cache.get

    def spy(key: object, compute: object, *page: object) -> object:
        label = str(key[-1])[:60]  # type: ignore[index]
        computed.append(label)
        value = real_get(key, compute, *page)  # type: ignore[arg-type]
        if "'tree'" in label and not marker.exists():
            marker.write_text(f"{other.pid}\n")  # an import now waits for the file
        return value

    cache.get = spy  # type: ignore[method-assign]
    try:
        assert warmer.warm(project) is False
        assert not any("FY" in c for c in computed)  # the fiscal year was left alone
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(30)
    assert warmer.warm(project) is True  # the import done: every page
    assert any("FY" in c for c in computed)
