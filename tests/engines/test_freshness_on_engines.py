"""Pages on ClickHouse (chDB) and Spark follow new data at once: the data version
keying the dashboard's kept pages is what the engine says of its tables (the
parts of ClickHouse's tables, the files of Spark's), not a five-minute
time-to-live. The demo company is copied to each engine, a page is read, five
leads created today are added to the data and copied again, and the same app
shows them on its next request."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpitree.engines import copy_warehouse, freshness
from kpitree.project import Project

pytestmark = [pytest.mark.engine, pytest.mark.slow]

PAGE = "/api/funnel?lang=en"
ADDED = 5


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kpitree.cli import main

    folder = tmp_path_factory.mktemp("fresh") / "demo"
    with pytest.raises(SystemExit) as done:
        main(["--lang", "en", "demo", str(folder), "--size", "tiny", "--no-serve"])
    assert done.value.code in (0, None)
    return folder


@pytest.fixture(autouse=True)
def _ask_every_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The engine is asked on every data version (not at most every 2 s), so the
    test needs no waiting; what it asks is unchanged."""
    monkeypatch.setattr(freshness, "ENGINE_VERSIONS_EVERY", 0.0)
    yield


def _with_new_leads(demo: Path, folder: Path) -> Path:
    """A copy of the demo's warehouse with ``ADDED`` more leads created today."""
    copy = folder / "changed.duckdb"
    shutil.copy(demo / ".kpitree" / "warehouse.duckdb", copy)
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "INSERT INTO leads SELECT * REPLACE (lead_id || '-new' AS lead_id, "
            "current_timestamp - INTERVAL 1 MINUTE AS created_at) FROM leads "
            f"ORDER BY lead_id LIMIT {ADDED}"
        )
    return copy


def _leads(page: dict[str, Any]) -> int:
    rows = page["tables"]["stages"]["rows"]
    return int(next(row[2] for row in rows if row[0] == "leads"))


def _follows_new_data(demo: Path, folder: Path, url: str) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app
    from kpitree.web.live import data_version

    shutil.copytree(demo, folder, ignore=shutil.ignore_patterns(".kpitree", "app.sqlite*"))
    with (folder / "kpitree.yaml").open("a", encoding="utf-8") as out:
        out.write(f"\ndata:\n  warehouse: {url}\n")
    copy_warehouse(demo / ".kpitree" / "warehouse.duckdb", url)
    project = Project.load(folder)
    client = TestClient(create_app(folder), base_url="http://localhost")
    before = client.get(PAGE)
    assert before.status_code == 200, before.text[:500]
    version = data_version(project)
    assert version.startswith("engine:"), version  # not the time-to-live's server:<n>
    assert data_version(project) == version  # unchanged data: pages stay kept
    copy_warehouse(_with_new_leads(demo, folder.parent), url)
    assert data_version(project) != version
    after = client.get(PAGE)
    assert after.status_code == 200, after.text[:500]
    assert _leads(after.json()) == _leads(before.json()) + ADDED


def test_pages_on_clickhouse_follow_new_data(demo: Path, tmp_path: Path) -> None:
    pytest.importorskip("chdb", reason="the clickhouse extra is not installed")
    _follows_new_data(demo, tmp_path / "ch", f"chdb://{tmp_path / 'chdb'}")


def test_pages_on_spark_follow_new_data(demo: Path, spark_session: Any, tmp_path: Path) -> None:
    # pyspark://local[2] finds the session the tests share (Spark keeps one per process).
    _follows_new_data(demo, tmp_path / "spark", "pyspark://local[2]")
