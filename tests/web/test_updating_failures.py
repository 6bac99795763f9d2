"""A page of new data that fails to compute is not hidden behind the previous
data's figures: while the warehouse is only being written (its lock held) the
previous figures show, marked as updating; any other failure reaches the user
as it did before pages of the previous data were shown. And an answer that
waits for new data (a download, a JSON twin without ``max-stale``) reads its
address with the new data's custom dimensions."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from starlette.requests import Request

from kpitree.cli import main
from kpitree.web.cache import PageCache

PAGE = ("project", "tree", "en")


def _settled(cache: PageCache) -> None:
    """Wait until no page of new data is computed in the background."""
    deadline = time.monotonic() + 120
    while cache.updating():
        assert time.monotonic() < deadline, "the background computation never ended"
        time.sleep(0.01)


def _first(cache: PageCache) -> dict[str, int]:
    value = {"won": 1}
    assert cache.get(("v1", PAGE), lambda: value, PAGE, lambda: 100.0) is value
    return value


def test_new_data_that_cannot_be_computed_shows_its_error_not_the_old_figures() -> None:
    cache = PageCache()
    old = _first(cache)
    calls: list[int] = []

    def broken() -> dict[str, int]:
        calls.append(1)
        raise ValueError("the new data's page cannot be computed")

    # At once: the previous figures, while the new ones compute in the background.
    assert cache.current_or_previous(("v2", PAGE), PAGE, broken, lambda: 200.0) == (old, 100.0)
    _settled(cache)
    assert calls == [1]
    # That failed: the next request computes in the foreground and gets the error,
    # instead of the old figures marked "updating" for ever.
    with pytest.raises(ValueError, match="cannot be computed"):
        cache.current_or_previous(("v2", PAGE), PAGE, broken, lambda: 200.0)
    assert cache.updating() == 0
    # Once it computes, it is the page.
    new = {"won": 2}
    assert cache.current_or_previous(("v2", PAGE), PAGE, lambda: new, lambda: 200.0) == (
        new,
        None,
    )


def test_a_warehouse_being_written_keeps_the_previous_figures(tmp_path: Path) -> None:
    import duckdb

    from kpitree.engines.opening import open_engine

    path = tmp_path / "warehouse.duckdb"
    cache = PageCache()
    old = _first(cache)
    writer = duckdb.connect(str(path))  # an import holding the file

    def held() -> dict[str, int]:
        open_engine(path, lock_timeout=0.0)  # KT514: the file is busy
        raise AssertionError("opened a file another connection writes")

    try:
        for _ in range(2):  # busy: tried again, the previous figures meanwhile
            assert cache.current_or_previous(("v2", PAGE), PAGE, held, lambda: 200.0) == (
                old,
                100.0,
            )
            _settled(cache)
    finally:
        writer.close()


MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: 商談ID
    created_at: 作成日
    close_date: {column: 完了日, optional: true}
    amount: 金額
    stage: フェーズ
    status: {column: フェーズ, map: {受注: won, 失注: lost}, else: open}
    owner_id: 担当者
"""
AGENCY = "dimensions:\n  agency: {column: 代理店, label: {ja: 代理店, en: Agency}}\n"
PROJECT = """\
kpitree: 1
name: Agencies
fiscal_year: 2026
nodes:
  won_deals: {kind: kgi, unit: count, metric: won_deals}
"""
DEALS = (
    "商談ID,作成日,完了日,金額,フェーズ,担当者,代理店\n"
    "D1,2026/05/01,2026/05/03,100000,受注,R1,東京代理店\n"
    "D2,2026/05/02,2026/05/04,200000,受注,R2,大阪パートナーズ\n"
)


def _import(folder: Path, mapping: str) -> None:
    (folder / "deals.yaml").write_text(mapping, encoding="utf-8")
    try:
        main(
            [
                "import",
                str(folder / "deals.csv"),
                "-m",
                str(folder / "deals.yaml"),
                "-p",
                str(folder),
            ]
        )
    except SystemExit as exc:
        assert not exc.code


def _request(app: FastAPI, path: str, query: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": quote(query, safe="=&").encode(),
        "headers": [],
        "app": app,
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("path", "query"),
    [("/", "format=csv&agency=東京代理店"), ("/api/tree", "agency=東京代理店")],
    ids=["download", "json-twin"],
)
def test_an_answer_of_new_data_reads_its_address_with_new_data_dimensions(
    tmp_path: Path, path: str, query: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from kpitree.project import Project
    from kpitree.web.routes_api import page_query

    (tmp_path / "kpitree.yaml").write_text(PROJECT, encoding="utf-8")
    (tmp_path / "deals.csv").write_text(DEALS, encoding="utf-8")
    _import(tmp_path, MAPPING)  # no custom dimension yet
    app = FastAPI()
    cache = app.state.page_cache = PageCache()
    # A page read its address with the data of then: no agency.
    before = page_query(_request(app, "/", "agency=東京代理店"), "en", Project.load(tmp_path))
    assert before.filter_map == {}
    _import(tmp_path, MAPPING + AGENCY)  # the new data declares agency
    # A download or a JSON twin waits for the new data: its filter is the new data's.
    asked = page_query(_request(app, path, query), "en", Project.load(tmp_path))
    assert asked.filter_map == {"agency": ["東京代理店"]}
    _settled(cache)


@pytest.mark.parametrize(
    ("cache_control", "accepted"),
    [
        ("max-stale", True),
        ("Max-Stale", True),
        ("max-stale=3600", True),  # the new data is two minutes old
        ("max-stale=60", False),
        ("max-stale=0", False),
        ('max-stale="3600"', True),
        ("max-stale=soon", False),
        ("no-cache, max-stale", False),
        ("max-age=0", False),
        ("", False),
    ],
)
def test_a_json_twin_takes_the_previous_figures_only_as_stale_as_it_says(
    demo_copy: Path, cache_control: str, accepted: bool
) -> None:
    import os

    from kpitree.web.updating import accepts_previous

    warehouse = demo_copy / ".kpitree" / "warehouse.duckdb"
    written = time.time() - 120  # the new data: written two minutes ago
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        if path.exists():
            os.utime(path, (written, written))
    app = FastAPI()
    app.state.project_path = demo_copy
    request = _request(app, "/api/tree", "")
    request.scope["headers"] = [(b"cache-control", cache_control.encode())]
    assert accepts_previous(request) is accepted
    # A page always may, a download never does.
    assert accepts_previous(_request(app, "/", "")) is True
    assert accepts_previous(_request(app, "/api/tree", "format=csv")) is False


@pytest.mark.parametrize(
    ("cache_control", "accepted"),
    [
        ("max-stale=300", True),  # the previous minute's answer: 30 s out of date
        ("max-stale=20", False),
        ("max-stale", True),
    ],
)
def test_the_sla_twin_after_a_quiet_weekend_takes_the_previous_minute(
    demo_copy: Path, cache_control: str, accepted: bool
) -> None:
    """The SLA page follows the clock a minute at a time: its previous answer is as
    out of date as the minute is old, not as old as the data, which nobody wrote
    over the weekend (three days old here)."""
    import os

    from kpitree.web.updating import accepts_previous

    warehouse = demo_copy / ".kpitree" / "warehouse.duckdb"
    written = time.time() - 3 * 86400
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        if path.exists():
            os.utime(path, (written, written))
    app = FastAPI()
    app.state.project_path = demo_copy
    request = _request(app, "/api/sla", "")
    request.scope["headers"] = [(b"cache-control", cache_control.encode())]
    minute = time.time() - 30  # the new minute began 30 s ago
    assert accepts_previous(request, since=minute) is accepted
    # Nothing follows the clock: the data's time counts (three days old).
    assert accepts_previous(request) is (cache_control == "max-stale")
    # New data written after the minute began counts from its writing.
    fresh = time.time() - 1  # a margin of 19 s under max-stale=20 for a busy machine
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        if path.exists():
            os.utime(path, (fresh, fresh))
    assert accepts_previous(request, since=minute) is True
