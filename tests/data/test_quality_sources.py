"""Freshness per source (``stale_source``, KT849) on a company built so the
answer is known: two exports feed ``leads``. HubSpot's (``hubspot.yaml``) was
last exported and imported 20 days before today, its newest lead from that day;
Salesforce's (``salesforce.yaml``) was imported today, its newest lead from
yesterday. The newest lead of the whole table is yesterday's, so only a check
per source finds that HubSpot stopped.

The HubSpot import is moved 20 days back in the import log, as if it had run
then: the only way to have an import of 20 days ago in a test that runs today.
"""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from kpitree.compute.quality import check_quality
from kpitree.errors import UserError
from kpitree.project import Project
from kpitree.web.app import create_app

from .quality_company import cli_runner, write

STOPPED = 20
LEADS_MAP = "mapping: 1\ntables:\n  leads:\n    lead_id: ID\n    created_at: Created\n"
QUALITY = "data:\n  quality:\n"


@pytest.fixture
def kpitree(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KPITREE_LANG", "en")
    return cli_runner(capsys)


def _leads(today: dt.date, prefix: str, ago: list[int]) -> str:
    rows = [f"{prefix}{i},{(today - dt.timedelta(days=d)).isoformat()}" for i, d in enumerate(ago)]
    return "ID,Created\n" + "\n".join(rows) + "\n"


@pytest.fixture
def company(tmp_path: Path, kpitree: Any) -> tuple[Path, dt.date]:
    project = tmp_path / "co"
    assert kpitree("init", str(project)).code == 0
    today = Project.load(project).today()
    for name, prefix, ago in (
        ("hubspot", "H", [40, 30, STOPPED]),
        ("salesforce", "S", [10, 5, 2, 1]),
    ):
        csv = write(tmp_path, f"{name}.csv", _leads(today, prefix, ago))
        mapping = write(tmp_path, f"{name}.yaml", LEADS_MAP)
        done = kpitree("import", csv, "--mapping", mapping, "--project", str(project))
        assert done.code == 0, done.err
    con = duckdb.connect(str(project / ".kpitree" / "warehouse.duckdb"))
    try:
        moved = con.execute(
            f"UPDATE kpitree_imports SET started_at = started_at - INTERVAL {STOPPED} DAY, "
            f"finished_at = finished_at - INTERVAL {STOPPED} DAY "
            "WHERE mapping_name LIKE '%hubspot.yaml' RETURNING import_id"
        ).fetchall()
    finally:
        con.close()
    assert len(moved) == 1
    return project, today


def _configure(project: Path, quality: str) -> None:
    yaml = project / "kpitree.yaml"
    base = yaml.read_text(encoding="utf-8").partition(QUALITY)[0]
    yaml.write_text(base + QUALITY + quality, encoding="utf-8")


def _day(today: dt.date, ago: int) -> str:
    return (today - dt.timedelta(days=ago)).isoformat()


def test_a_source_that_stopped_is_stale_beside_a_fresh_one(
    company: tuple[Path, dt.date], kpitree: Any
) -> None:
    project, today = company
    run = kpitree("data", "check", str(project), "--json")
    report = run.json()
    leads = [fr for fr in report["freshness"] if fr["table"] == "leads"]
    assert leads == [
        {
            "table": "leads",
            "source": "hubspot.yaml",
            "rows": 3,
            "newest": _day(today, STOPPED),
            "delivered": _day(today, STOPPED),
            "days": STOPPED,
            "stale_after": 7,
            "stale": True,
        },
        {
            "table": "leads",
            "source": "salesforce.yaml",
            "rows": 4,
            "newest": _day(today, 1),
            "delivered": today.isoformat(),
            "days": 0,
            "stale_after": 7,
            "stale": False,
        },
    ]
    [stale] = [f for f in report["findings"] if f["rule"] == "stale_source"]
    project_ = Project.load(project)
    counting = [
        nid
        for nid in project_.tree.order
        if (m := project_.catalogue.metrics.get(project_.tree.nodes[nid].metric or ""))
        and m.entity is not None
        and m.entity.table == "leads"
    ]
    assert counting  # the template measures leads
    assert stale["code"] == "KT849" and stale["level"] == "warning"
    assert (stale["table"], stale["count"]) == ("leads", 3)
    assert stale["detail"] == {
        "newest": _day(today, STOPPED),
        "days": STOPPED,
        "stale_after": 7,
        "source": "hubspot.yaml",
        "delivered": _day(today, STOPPED),
        "since": _day(today, STOPPED),
    }
    assert set(counting) <= set(stale["nodes"])
    assert run.code == 0  # a warning
    assert kpitree("data", "check", str(project), "--fail-on", "warning").code == 1
    text = kpitree("data", "check", str(project)).out
    assert (
        f"warning KT849 leads: 3 rows from hubspot.yaml: nothing new for {STOPPED} days "
        f"(newest fact or delivery {_day(today, STOPPED)}; more than 7)"
    ) in text
    assert (
        f"  leads  hubspot.yaml     newest {_day(today, STOPPED)}, last delivery "
        f"{_day(today, STOPPED)} ({STOPPED} days; stale after 7): stale"
    ) in text


def test_the_check_speaks_japanese(
    company: tuple[Path, dt.date], kpitree: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, today = company
    monkeypatch.setenv("KPITREE_LANG", "ja")
    text = kpitree("data", "check", str(project)).out
    assert (
        f"警告 KT849 leads: 3 件: 行（ソース hubspot.yaml）: {STOPPED} 日間新しいデータがありません"
        f"（最新の事実または取り込み {_day(today, STOPPED)}。7 日超）"
    ) in text
    assert f"最新 {_day(today, 1)}、最終取り込み {today.isoformat()}（0 日前。" in text


def test_thresholds_per_source_win_over_the_table(
    company: tuple[Path, dt.date], kpitree: Any
) -> None:
    project, _ = company
    _configure(project, "    stale_after: {leads: 30, hubspot.yaml: 10}\n")
    report = kpitree("data", "check", str(project), "--json").json()
    limits = {fr["source"]: (fr["stale_after"], fr["stale"]) for fr in report["freshness"]}
    assert limits == {"hubspot.yaml": (10, True), "salesforce.yaml": (30, False)}
    _configure(project, "    stale_after: {hubspot.yaml: 21}\n")
    report = kpitree("data", "check", str(project), "--json").json()
    assert [f for f in report["findings"] if f["rule"] == "stale_source"] == []


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("en", "data.quality.stale_after: 'hubspt.yaml' names no table and no source"),
        ("ja", "data.quality.stale_after: 'hubspt.yaml' はテーブルでもソースでもありません"),
    ],
)
def test_an_unknown_source_is_refused_with_the_closest_name(
    company: tuple[Path, dt.date],
    kpitree: Any,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    says: str,
) -> None:
    project, _ = company
    monkeypatch.setenv("KPITREE_LANG", lang)
    _configure(project, "    stale_after: {hubspt.yaml: 3}\n")
    run = kpitree("data", "check", str(project))
    assert run.code != 0
    assert says in run.err and "Traceback" not in run.err
    assert "'hubspot.yaml'" in run.err  # did you mean
    assert "salesforce.yaml" in run.err
    loaded = Project.load(project)
    with loaded.engine() as engine, pytest.raises(UserError) as refused:
        check_quality(engine, loaded.catalogue, loaded.tree, loaded.today())
    assert [d.code for d in refused.value.diagnostics] == ["KT122"]


def test_kpitree_check_fails_on_the_stale_source(
    company: tuple[Path, dt.date], kpitree: Any
) -> None:
    project, _ = company
    _configure(project, "    check: warning\n")
    run = kpitree("check", str(project))
    assert run.code == 1
    assert (
        "error: data quality (KT849, leads): rows from hubspot.yaml: nothing new for "
        f"{STOPPED} days"
    ) in run.err
    loaded = Project.load(project)
    codes = {(d.code, d.params["code"]) for d in loaded.quality_errors()}
    assert ("KT863", "KT849") in codes


def test_the_pages_and_the_review_pack_name_the_source(
    company: tuple[Path, dt.date], kpitree: Any
) -> None:
    project, today = company
    cli = kpitree("data", "check", str(project), "--json").json()
    [stale] = [f for f in cli["findings"] if f["rule"] == "stale_source"]
    with closing(
        TestClient(
            create_app(project), base_url="http://localhost", headers={"accept-language": "en"}
        )
    ) as client:
        assert client.get("/api/data/quality").json() == cli
        fragment = client.get("/data/quality").text
        tree = client.get("/api/tree").json()
        node = client.get(f"/nodes/{stale['nodes'][0]}").text
    assert (
        '<tr data-rule="stale_source" data-table="leads" data-level="warning" '
        'data-source="hubspot.yaml">'
    ) in fragment
    assert '<tr data-table="leads" data-stale="true" data-source="hubspot.yaml"' in fragment
    assert '<tr data-table="leads" data-stale="false" data-source="salesforce.yaml"' in fragment
    for nid in stale["nodes"]:
        assert any(f["rule"] == "stale_source" for f in tree["quality"][nid]["findings"]), nid
    assert f"KT849 leads: rows from hubspot.yaml: nothing new for {STOPPED} days" in node

    from kpitree.reports.quality import quality_section

    loaded = Project.load(project)
    with loaded.engine() as engine:
        section = quality_section(loaded, engine, today, "ja")
    assert any("ソース hubspot.yaml" in line.finding for line in section.lines)


ALERTS = """\
notifications:
  channels:
    app: {type: in_app}
alerts:
  stale:
    label: {ja: 更新の止まったソース, en: Stopped sources}
    condition: data_quality
    level: warning
    rules: [stale_source]
    notify: [app]
"""


def test_the_data_quality_alert_fires_per_source(
    company: tuple[Path, dt.date], kpitree: Any
) -> None:
    project, today = company
    yaml = project / "kpitree.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8") + ALERTS, encoding="utf-8")
    loaded = Project.load(project)
    now = dt.datetime.combine(today, dt.time(9, 0), tzinfo=dt.timezone(dt.timedelta(hours=9)))
    run = loaded.alerts_run(now=now)
    [fired] = run.events
    assert (fired.kind, fired.node) == ("fired", "quality:stale_source:leads@hubspot.yaml")
    assert fired.facts["count"] == 3 and fired.facts["detail"]["source"] == "hubspot.yaml"
    assert f"rows from hubspot.yaml: nothing new for {STOPPED} days" in fired.message("en")
    assert "ソース hubspot.yaml" in fired.message("ja")


@pytest.mark.postgres
def test_a_postgresql_warehouse_tells_the_sources_apart(
    tmp_path: Path, kpitree: Any, postgres_database: str
) -> None:
    """The same company imported into a PostgreSQL warehouse (its own import log)."""
    postgres_url = postgres_database
    import psycopg

    project = tmp_path / "co"
    assert kpitree("init", str(project)).code == 0
    yaml = project / "kpitree.yaml"
    yaml.write_text(
        yaml.read_text(encoding="utf-8") + f"data:\n  warehouse: {postgres_url}\n", encoding="utf-8"
    )
    today = Project.load(project).today()
    for name, prefix, ago in (("hubspot", "H", [30, STOPPED]), ("salesforce", "S", [2, 1])):
        csv = write(tmp_path, f"{name}.csv", _leads(today, prefix, ago))
        mapping = write(tmp_path, f"{name}.yaml", LEADS_MAP)
        done = kpitree("import", csv, "--mapping", mapping, "--project", str(project))
        assert done.code == 0, done.err
    with psycopg.connect(postgres_url) as con:
        con.execute(
            f"UPDATE kpitree_imports SET started_at = started_at - INTERVAL '{STOPPED} days' "
            "WHERE mapping_name LIKE '%hubspot.yaml'"
        )
    report = kpitree("data", "check", str(project), "--json").json()
    leads = {fr["source"]: (fr["rows"], fr["days"], fr["stale"]) for fr in report["freshness"]}
    assert leads == {"hubspot.yaml": (2, STOPPED, True), "salesforce.yaml": (2, 0, False)}
