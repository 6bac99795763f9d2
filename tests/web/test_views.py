"""View models, the page cache and the scenario writer, without a server."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from kpitree.definition.scenarios import save_scenario
from kpitree.errors import UserError
from kpitree.project import Project
from kpitree.web.cache import PageCache
from kpitree.web.views import DirectSource, PageQuery, tree_view
from kpitree.web.views.funnel import funnel_steps
from kpitree.web.views.plan import parse_sets
from kpitree.web.views.tree import layout
from kpitree.web.warmer import Warmer


@pytest.fixture(scope="module")
def template_tree(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("template")
    Project.init(folder)
    return Project.load(folder)


def test_layout_shows_every_node_once(template_tree: Project) -> None:
    tree = template_tree.tree
    boxes: list[str] = []
    refs: list[str] = []

    def walk(entries: list[dict[str, object]]) -> None:
        for e in entries:
            (refs if e["ref"] else boxes).append(str(e["id"]))
            walk(e["children"])  # type: ignore[arg-type]

    entries = layout(tree)
    walk(entries)
    assert entries[0]["id"] == tree.kgi
    assert sorted(boxes) == sorted(tree.nodes)
    # renewable_arr feeds two KSFs: one box, one reference.
    assert refs == ["renewable_arr"]
    drivers = [c for c in entries[0]["children"] if c["link"] == "driver"]  # type: ignore[union-attr]
    assert drivers == []


def test_funnel_steps_follow_the_tree(template_tree: Project) -> None:
    steps = funnel_steps(template_tree.tree)
    assert [(s.from_node, s.rate_node, s.to_node) for s in steps] == [
        ("leads", "mql_rate", "mqls"),
        ("mqls", "opportunity_rate", "opportunities"),
        ("opportunities", "win_rate", "won_deals"),
    ]


def test_query_from_url_parameters() -> None:
    query = PageQuery.from_params(
        {
            "period": "2026-10",
            "team": ["east,west"],
            "by": "team",
            "drill": "field_sales/",
            "x": "1",
        },
        "en",
    )
    assert query.period == "2026-10" and query.by == "team" and query.drill == ("field_sales",)
    assert query.filter_map == {"team": ["east", "west"]}
    assert query.params(period=None, format="csv") == {
        "team": "east,west",
        "by": "team",
        "drill": "field_sales",
        "lang": "en",
        "format": "csv",
    }
    assert PageQuery.from_params({"period": "2026-10"}, "ja") == PageQuery("2026-10", lang="ja")


def test_parse_sets() -> None:
    assert parse_sets(["win_rate=25%", "revenue=300,000,000", " "]) == {
        "win_rate": 0.25,
        "revenue": 300_000_000.0,
    }
    with pytest.raises(UserError) as caught:
        parse_sets(["win_rate", "x=abc"])
    assert [d.code for d in caught.value.diagnostics] == ["KT692", "KT692"]


def test_page_cache_computes_once_for_concurrent_askers() -> None:
    cache = PageCache(max_entries=2)
    calls: list[int] = []
    gate = threading.Event()

    def slow() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert results == [42] * 8 and len(calls) == 1
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    assert len(cache) == 2  # "k" evicted, least recently used
    assert cache.get("k", lambda: 7) == 7

    def broken() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get("bad", broken)
    assert cache.get("bad", lambda: 3) == 3  # errors are not kept


def test_cached_status_follows_the_data_version(demo_copy: Path) -> None:
    project = Project.load(demo_copy)
    cache = PageCache()
    first = cache.source(project).status(None, explain=False)
    again = cache.source(project).status(None, explain=False)
    assert again is first and cache.hits == 1
    warehouse = Path(project.warehouse_target)
    later = time.time() + 5
    os.utime(warehouse, (later, later))  # what a write does to the file
    fresh = cache.source(project).status(None, explain=False)
    assert fresh is not first
    assert [r.actual for r in fresh.rows] == [r.actual for r in first.rows]


def test_views_answer_the_same_through_the_cache(demo_project: Path) -> None:
    project = Project.load(demo_project)
    query = PageQuery(lang="en")
    direct = tree_view(DirectSource(project), query)
    cached = tree_view(PageCache().source(project), query)
    assert direct == cached


def test_warmer_fills_the_cache_and_warms_again_after_a_change(demo_copy: Path) -> None:
    project = Project.load(demo_copy)
    cache = PageCache()
    warmer = Warmer(lambda: project, cache, interval=0.05, langs=("ja",))
    warmer.start()
    try:
        deadline = time.monotonic() + 120
        while warmer.rounds < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert warmer.rounds == 1
        source = cache.source(project)
        hits = cache.hits
        source.cached(("view", "tree", PageQuery(lang="ja")), lambda: pytest.fail("not warm"))
        assert cache.hits == hits + 1
        later = time.time() + 5
        os.utime(project.warehouse_target, (later, later))
        while warmer.rounds < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert warmer.rounds == 2
    finally:
        warmer.stop()


def test_warmer_leaves_a_round_when_the_data_changes(demo_copy: Path) -> None:
    """New data in the middle of a round: the rest of the old round is not
    computed, and the next round starts with this period's pages."""
    project = Project.load(demo_copy)
    cache = PageCache()
    warmer = Warmer(lambda: project, cache, interval=0.05, langs=("ja",))
    computed: list[str] = []
    real_get = cache.get

    def spy(key: object, compute: object, *page: object) -> object:
        label = str(key[-1])[:60]  # type: ignore[index]
        if "'tree'" in label and not any("'tree'" in c for c in computed):
            later = time.time() + 5  # new data while the first page is computed
            os.utime(project.warehouse_target, (later, later))
        computed.append(label)
        return real_get(key, compute, *page)  # type: ignore[arg-type]

    cache.get = spy  # type: ignore[method-assign]
    assert warmer.warm(project) is False
    assert not any("FY" in c for c in computed)  # the fiscal year was left alone
    assert warmer.warm(project) is True
    assert any("FY" in c for c in computed)


def test_scenario_writer_edits_text_in_place(tmp_path: Path) -> None:
    definition = tmp_path / "kpitree.yaml"
    base = (
        "kpitree: 1\nname: t\nnodes:\n"
        "  revenue: {kind: kgi, unit: currency, formula: deals * price, target: 1000}\n"
        "  deals: {unit: count}\n"
        "  price: {unit: currency, assume: 10}  # yen\n"
    )
    definition.write_text(base, encoding="utf-8")
    save_scenario(definition, "cheap", "安い", {"price": 8})
    assert definition.read_text(encoding="utf-8") == (
        base + '\nscenarios:\n  cheap:\n    label: "安い"\n    set: {price: 8}\n'
    )
    save_scenario(definition, "dear", None, {"price": 12.5})
    save_scenario(definition, "cheap", "とても安い", {"price": 5})
    text = definition.read_text(encoding="utf-8")
    assert text.count("cheap:") == 1 and "とても安い" in text and "dear:" in text
    tree = Project.load(tmp_path).tree
    assert dict(tree.scenarios["cheap"].values) == {"price": 5.0}
    assert dict(tree.scenarios["dear"].values) == {"price": 12.5}

    definition.write_text(base + "scenarios: {}\n", encoding="utf-8")
    save_scenario(definition, "cheap", None, {"price": 8})
    assert dict(Project.load(tmp_path).tree.scenarios["cheap"].values) == {"price": 8.0}

    inline = base + "scenarios: {a: {set: {price: 1}}}\n"
    definition.write_text(inline, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        save_scenario(definition, "cheap", None, {"price": 8})
    assert caught.value.diagnostics[0].code == "KT697"
    assert definition.read_text(encoding="utf-8") == inline


def test_status_words_are_none_without_an_actual(demo_project: Path) -> None:
    result = Project.load(demo_project).status("2019-04", explain=False, compare=False)
    odd = [
        (r.node, r.source, r.status)
        for r in result.rows
        if not isinstance(r.source, str | None) or not isinstance(r.status, str | None)
    ]
    assert odd == []


def test_pages_open_on_the_last_period_with_data(demo_project: Path) -> None:
    import datetime as dt

    from kpitree.compute.coverage import last_fact_day
    from kpitree.web.views.common import resolve_period

    project = Project.load(demo_project)
    today = project.today()
    with project.engine() as engine:
        last = last_fact_day(engine, today)
    assert last is not None and last <= today
    # Three months on, with no new data: the pages open on the month of the last fact.
    later = DirectSource(project, as_of=last + dt.timedelta(days=92))
    shown = resolve_period(later, None)
    assert shown == project.period(None, as_of=last)
    assert tree_view(later, PageQuery())["period"]["key"] == shown.key
    # A period asked for is the one shown; while data runs into today's month, today's.
    asked = project.period(None, as_of=later.today())
    assert resolve_period(later, asked.key) == asked
    assert resolve_period(DirectSource(project, as_of=last), None) == project.period(
        None, as_of=last
    )


def test_a_project_without_data_says_what_to_do_next(tmp_path: Path, demo_project: Path) -> None:
    from contextlib import closing

    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    Project.init(tmp_path / "new", name="FY2026 売上計画", lang="ja")
    with closing(TestClient(create_app(tmp_path / "new"), base_url="http://localhost")) as client:
        for url in ("/", "/funnel", "/departments", "/nodes/leads"):
            page = client.get(url, params={"lang": "ja"})
            assert page.status_code == 200, url
            assert 'data-testid="empty-state"' in page.text, url
            assert 'href="/data"' in page.text and "kpitree import" in page.text, url
        assert client.get("/api/tree").json()["no_data"] is True
        assert "FY2026 売上計画" in client.get("/", params={"lang": "ja"}).text
    with closing(TestClient(create_app(demo_project), base_url="http://localhost")) as client:
        assert 'data-testid="empty-state"' not in client.get("/").text
        assert client.get("/api/tree").json()["no_data"] is False
