"""Pages on a database server (PostgreSQL, Spark, ClickHouse) still follow new
data: with no file to watch, the data version that keys page caches and live
updates moves on every ``SERVER_DATA_TTL`` seconds."""

from __future__ import annotations

from pathlib import Path

from kpitree.project import Project
from kpitree.web.live import SERVER_DATA_TTL, data_version


def test_a_server_warehouse_version_moves_on_after_its_time_to_live(tmp_path: Path) -> None:
    definition = Project.init(tmp_path / "p")
    text = definition.read_text("utf-8")
    url = "postgresql://kpitree@db:5432/crm"
    definition.write_text(f"{text}\ndata:\n  warehouse: {url}\n", "utf-8")
    project = Project.load(definition.parent)
    start = 1_000 * SERVER_DATA_TTL
    first = data_version(project, clock=lambda: start)
    assert first.startswith("server:")
    assert data_version(project, clock=lambda: start + SERVER_DATA_TTL - 1) == first
    later = data_version(project, clock=lambda: start + SERVER_DATA_TTL)
    assert later != first  # pages computed before are computed again
    assert SERVER_DATA_TTL == 300.0  # the time-to-live docs/web.md states
