"""The dashboard pages and their JSON twins, in process (TestClient over the
tiny demo company). Numbers are checked against independent computations:
SQL over the warehouse, ``Project.status`` / ``Project.plan`` called directly,
and arithmetic identities of the tree."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kpitree.project import Project

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from kpitree.compute.periods import Period


@pytest.fixture(scope="module")
def pages(demo_project: Path) -> Iterator[TestClient]:
    """One app for the module, without its lifespan (no background warm-up
    competing for the CPU): pages compute what they need and share the cache."""
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    with closing(TestClient(create_app(demo_project), base_url="http://localhost")) as client:
        yield client


@pytest.fixture(scope="module")
def project(demo_project: Path) -> Project:
    return Project.load(demo_project)


@pytest.fixture(scope="module")
def last_month(project: Project) -> Period:
    """A complete month (every fact of it is in the data)."""
    return project.period(None).previous()


def _sql(project: Project, query: str, *params: Any) -> Any:
    import duckdb

    with duckdb.connect(project.warehouse_target, read_only=True) as con:
        return con.execute(query, list(params)).fetchone()[0]


def test_tree_numbers_match_sql_over_the_warehouse(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    view = pages.get("/api/tree", params={"period": last_month.key, "lang": "en"}).json()
    nodes = view["nodes"]
    start, end = last_month.start, last_month.end
    local = "(created_at AT TIME ZONE 'Asia/Tokyo')::DATE"
    leads = _sql(project, f"SELECT count(*) FROM leads WHERE {local} BETWEEN ? AND ?", start, end)
    won = "FROM deals WHERE status = 'won' AND close_date BETWEEN ? AND ?"
    won_count = _sql(project, f"SELECT count(*) {won}", start, end)
    won_amount = _sql(project, f"SELECT coalesce(sum(amount), 0) {won}", start, end)
    assert nodes["leads"]["actual"] == leads > 0
    assert nodes["won_deals"]["actual"] == won_count
    assert nodes["new_revenue"]["actual"] == pytest.approx(won_amount, rel=1e-12)
    assert nodes["avg_deal_size"]["actual"] == pytest.approx(won_amount / won_count, rel=1e-12)
    # The KGI is computed from its KSFs.
    ksfs = ["new_revenue", "renewal_revenue", "expansion_revenue"]
    assert nodes["revenue"]["actual"] == pytest.approx(sum(nodes[k]["actual"] for k in ksfs))
    # Formatted for people: money in yen, rates in percent.
    assert nodes["new_revenue"]["display"]["actual"] == f"¥{won_amount:,.0f}"
    assert nodes["mql_rate"]["display"]["actual"].endswith("%")


def test_tree_matches_project_status(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    view = pages.get("/api/tree", params={"period": last_month.key}).json()
    status = project.status(last_month)
    for node_id, node in view["nodes"].items():
        row = status.row(node_id, last_month.key)
        assert node["actual"] == pytest.approx(row.actual), node_id
        assert node["target"] == pytest.approx(row.target), node_id
        assert node["achievement"] == pytest.approx(row.achievement), node_id
        expected = row.status if isinstance(row.status, str) else None
        assert node["status"] == expected, node_id
        assert node["status_icon"] and node["status_label"]
    assert len(view["nodes"]["revenue"]["trend"]["values"]) == 12
    assert view["nodes"]["leads"]["trend"]["values"][-1] == view["nodes"]["leads"]["actual"]


def test_tree_page_carries_the_node_contract(pages: TestClient) -> None:
    view = pages.get("/api/tree", params={"lang": "ja"}).json()
    html = pages.get("/", params={"lang": "ja"}).text
    import re

    for node_id, node in view["nodes"].items():
        # The card's number is its records link (a node without data: plain text).
        box = re.search(
            rf'data-node-id="{node_id}"[\s\S]*?data-field="actual"[^>]*>(?:<a [^>]*>)?([^<]*)<',
            html,
        )
        assert box is not None, node_id
        # Cards read amounts in 万/億; the full figure is the box's title.
        assert box.group(1) == node["card"]["actual"], node_id
    assert html.count('data-node-id="') == len(view["nodes"])
    assert "/static/pages.css" in html and "KPIツリー" in html


def test_labels_are_escaped(demo_copy: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    definition = demo_copy / "kpitree.yaml"
    text = definition.read_text(encoding="utf-8")
    definition.write_text(
        text.replace("ja: 受注件数", 'ja: "<script>alert(1)</script>受注"'), encoding="utf-8"
    )
    with closing(TestClient(create_app(demo_copy), base_url="http://localhost")) as client:
        html = client.get("/", params={"lang": "ja"}).text
        node = client.get("/nodes/won_deals", params={"lang": "ja"}).text
    assert "<script>alert(1)</script>" not in html and "<script>alert(1)</script>" not in node
    assert "&lt;script&gt;alert(1)&lt;/script&gt;受注" in html


def test_node_page_breakdown_and_drill_down(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    params = {"period": last_month.key, "lang": "en"}
    view = pages.get("/api/nodes/won_deals", params=params).json()
    assert view["node"]["formula"] == "opportunities * win_rate"
    departments = view["breakdown"]["rows"]
    assert view["breakdown"]["level"] == ["department"]
    # Departments add up to the company (won deals are additive).
    assert sum(r["actual"] or 0 for r in departments) == view["node"]["actual"]
    status = project.status(last_month, by="team")
    dept = next(r for r in departments if r["drill"] == "field_sales")
    teams = pages.get("/api/nodes/won_deals", params={**params, "drill": "field_sales"}).json()[
        "breakdown"
    ]
    assert teams["level"] == ["department", "team"]
    assert sum(r["actual"] or 0 for r in teams["rows"]) == dept["actual"]
    for row in teams["rows"]:
        segment = tuple(row["segment"].items())
        assert row["actual"] == status.row("won_deals", last_month.key, segment).actual
    team = teams["rows"][0]["drill"]
    reps = pages.get("/api/nodes/won_deals", params={**params, "drill": team}).json()
    assert reps["breakdown"]["level"] == ["department", "team", "rep"]
    assert sum(r["actual"] or 0 for r in reps["breakdown"]["rows"]) == teams["rows"][0]["actual"]
    assert [c["drill"] for c in reps["breakdown"]["crumbs"]] == ["", "field_sales", team]
    # The same rows as a page.
    html = pages.get("/nodes/won_deals", params={**params, "drill": "field_sales"}).text
    for row in teams["rows"]:
        assert row["display"]["actual"] in html


def test_node_series_and_last_year(pages: TestClient, project: Project, last_month: Period) -> None:
    view = pages.get("/api/nodes/leads", params={"period": last_month.key}).json()
    series = view["series"]
    assert [s["period"] for s in series][-1] == last_month.key and len(series) == 12
    a_year_ago = last_month.same_period_last_year()
    earlier = project.status(a_year_ago, compare=False, explain=False)
    assert series[-1]["last_year"] == earlier.row("leads", a_year_ago.key).actual
    assert series[-1]["actual"] == view["node"]["actual"]


def test_node_contributions_add_up_to_the_gap(pages: TestClient, last_month: Period) -> None:
    view = pages.get("/api/nodes/won_deals", params={"period": last_month.key}).json()
    node = view["node"]
    found = view["contributions"]
    assert found["available"], found
    assert found["gap"] == pytest.approx(node["actual"] - node["target"])
    assert sum(i["contribution"] for i in found["items"]) == pytest.approx(found["gap"])
    assert sum(i["contribution"] for i in found["by_input"]) == pytest.approx(found["gap"])
    assert {i["node"] for i in found["items"]} == {"opportunities", "win_rate"}
    leads = pages.get("/api/nodes/leads", params={"period": last_month.key}).json()
    assert leads["contributions"]["available"] is False  # an input has no formula
    rate = pages.get("/api/nodes/opportunity_rate").json()
    assert rate["node"]["benchmark"]["display"] == "11.0%–20.0%"


def test_funnel_rates_and_bottleneck(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    view = pages.get("/api/funnel", params={"period": last_month.key}).json()
    stages = {s["id"]: s for s in view["stages"]}
    assert list(stages) == ["leads", "mqls", "opportunities", "won_deals"]
    for step in view["steps"]:
        # Period view: the next stage's count over this one's, in the period.
        ratio = stages[step["to"]]["actual"] / stages[step["from"]]["actual"]
        assert step["period_rate"] == pytest.approx(ratio)
    first = view["steps"][0]
    assert first["rate"]["id"] == "mql_rate"
    # Cohort view: leads created in the month that reached MQL within 90 days.
    start, end = last_month.start, last_month.end
    local = "(l.created_at AT TIME ZONE 'Asia/Tokyo')::DATE"
    cohort = _sql(
        project, f"SELECT count(*) FROM leads l WHERE {local} BETWEEN ? AND ?", start, end
    )
    converted = _sql(
        project,
        "SELECT count(DISTINCT l.lead_id) FROM leads l JOIN lead_stage_history h "
        "ON h.lead_id = l.lead_id AND h.stage = 'mql' "
        f"WHERE {local} BETWEEN ? AND ? "
        "AND h.entered_at >= l.created_at AND h.entered_at <= l.created_at + INTERVAL 90 DAY "
        "AND (h.entered_at AT TIME ZONE 'Asia/Tokyo')::DATE <= ?",
        start,
        end,
        project.today(),
    )
    assert first["cohort_entrants"] == cohort
    assert first["cohort_converted"] == converted
    assert first["cohort_rate"] == pytest.approx(converted / cohort)
    status = project.status(last_month)
    flagged = [s["rate"]["id"] for s in view["steps"] if s["bottleneck"]]
    if status.bottleneck is not None and status.bottleneck.node in [
        s["rate"]["id"] for s in view["steps"]
    ]:
        assert flagged == [status.bottleneck.node]
        assert (
            'data-bottleneck="true"' in pages.get("/funnel", params={"period": last_month.key}).text
        )
    else:
        assert flagged == []


def test_departments_own_kpis_and_their_way_to_the_kgi(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    view = pages.get("/api/departments", params={"period": last_month.key}).json()
    by_id = {d["id"]: d for d in view["departments"]}
    for dept in ("marketing", "inside_sales", "field_sales", "customer_success"):
        owned = [n.id for n in project.tree.nodes.values() if n.owner == dept]
        assert [k["id"] for k in by_id[dept]["kpis"]] == [
            n for n in project.tree.display_order() if n in owned
        ]
        for kpi in by_id[dept]["kpis"]:
            assert kpi["path"][0]["node"] == kpi["id"]
            assert kpi["path"][-1]["node"] == project.tree.kgi
    leads = next(k for k in by_id["marketing"]["kpis"] if k["id"] == "leads")
    assert [p["node"] for p in leads["path"]] == [
        "leads",
        "mqls",
        "opportunities",
        "won_deals",
        "new_revenue",
        "revenue",
    ]
    # +10% leads moves the KGI by 10% of new revenue at the plan's values.
    plan = project.plan().values()
    assert leads["kgi_effect"] == pytest.approx(0.1 * plan["new_revenue"], rel=1e-9)
    one = pages.get("/api/departments/field_sales", params={"period": last_month.key}).json()
    won = next(k for k in one["kpis"] if k["id"] == "won_deals")
    status = project.status(last_month, by="department")
    assert (
        won["own"]["actual"]
        == status.row("won_deals", last_month.key, (("department", "field_sales"),)).actual
    )
    assert sum(t["actual"] or 0 for t in won["teams"]) == won["own"]["actual"]
    assert pages.get("/api/departments/nope").status_code == 404


def test_plan_recalculates_like_the_cli(pages: TestClient, project: Project) -> None:
    base = project.plan()
    win_rate = base.nodes["win_rate"].value
    assert win_rate is not None
    view = pages.get("/api/plan", params={"set": f"win_rate={win_rate * 2}"}).json()
    expected = project.plan(overrides={"win_rate": win_rate * 2})
    rows = {r["id"]: r for r in view["nodes"]}
    for node_id, node in expected.nodes.items():
        assert rows[node_id]["value"] == pytest.approx(node.value), node_id
        for month in rows[node_id]["months"]:
            assert month["value"] == pytest.approx(node.per_period[month["period"]]), node_id
    assert rows["win_rate"]["changed"] and view["sets"] == {"win_rate": win_rate * 2}
    # The reverse calculation: the same won deals from half the opportunities.
    assert rows["opportunities"]["value"] == pytest.approx(rows["opportunities"]["base"] / 2)
    # The page's form sends every input; unchanged ones are no change.
    same = pages.get("/api/plan", params={"s.win_rate": str(win_rate), "s.leads": ""}).json()
    assert same["sets"] == {}
    bad = pages.get("/api/plan", params={"set": "win_rate=abc"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "KT692"
    unknown = pages.get("/api/plan", params={"set": "win_rat=0.3"})
    assert unknown.status_code == 400 and "win_rate" in unknown.json()["error"]["message"]


def test_plan_takes_amounts_and_rates_as_displayed(pages: TestClient) -> None:
    view = pages.get(
        "/api/plan", params={"s.revenue": "¥3億", "s.win_rate": "25%", "lang": "ja"}
    ).json()
    assert view["sets"] == {"revenue": 300_000_000, "win_rate": 0.25}
    full = pages.get("/api/plan", params={"s.revenue": "¥300,000,000"}).json()
    assert full["sets"] == {"revenue": 300_000_000}
    page = pages.get("/plan", params={"lang": "ja"}).text
    win_rate = pages.get("/api/plan").json()["inputs"]
    shown = {i["id"]: i["text"] for i in win_rate}
    assert shown["win_rate"].endswith("%") and shown["revenue"].startswith("¥")
    assert f'value="{shown["revenue"]}"' in page and 'inputmode="decimal"' in page
    # What the page shows and sends back unchanged is no change.
    same = pages.get("/api/plan", params={f"s.{k}": v for k, v in shown.items()}).json()
    assert same["sets"] == {}


@pytest.fixture
def writable(demo_copy: Path) -> Iterator[tuple[TestClient, Path]]:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    with closing(TestClient(create_app(demo_copy), base_url="http://localhost")) as client:
        yield client, demo_copy


def test_viewers_cannot_save_a_scenario(demo_copy: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    from .conftest import PASSWORD, add_users

    add_users(demo_copy)
    before = (demo_copy / "kpitree.yaml").read_text(encoding="utf-8")
    body = {"name": "mine", "set": {"win_rate": 0.3}}
    for role, status in (("viewer", 403), ("editor", 201)):
        with closing(TestClient(create_app(demo_copy), base_url="http://localhost")) as client:
            token = client.get("/api/session").json()["csrf_token"]
            headers = {"X-CSRF-Token": token}
            anonymous = client.post("/api/plan/scenarios", json=body, headers=headers)
            assert anonymous.status_code == 401
            login = {"name": role, "password": PASSWORD}
            assert client.post("/api/login", json=login, headers=headers).status_code == 200
            token = client.get("/api/session").json()["csrf_token"]
            answer = client.post("/api/plan/scenarios", json=body, headers={"X-CSRF-Token": token})
            assert answer.status_code == status, answer.text
            if role == "viewer":
                assert answer.json()["error"]["code"] == "KT605"
                assert (demo_copy / "kpitree.yaml").read_text(encoding="utf-8") == before
    assert "mine:" in (demo_copy / "kpitree.yaml").read_text(encoding="utf-8")


def test_save_scenario_writes_kpitree_yaml(writable: tuple[TestClient, Path]) -> None:
    client, folder = writable
    token = client.get("/api/session").json()["csrf_token"]
    body = {"name": "big_deals", "label": "大型案件", "set": {"avg_deal_size": 2500000}}
    refused = client.post("/api/plan/scenarios", json=body)
    assert refused.status_code == 403  # no CSRF token
    saved = client.post("/api/plan/scenarios", json=body, headers={"X-CSRF-Token": token})
    assert saved.status_code == 201, saved.text
    assert "big_deals" in saved.json()["scenarios"]
    # Kept as a revision of the definition, as `kpitree revise` would.
    kept = client.get("/api/plan/revisions").json()["revisions"]
    assert [r["reason"] for r in kept] == ["scenario: big_deals"]
    project = Project.load(folder)
    assert project.tree.scenarios["big_deals"].values == {"avg_deal_size": 2500000.0}
    assert project.tree.scenarios["big_deals"].label.ja == "大型案件"
    # Saving again replaces it (and keeps the file valid).
    body["set"] = {"avg_deal_size": 2000000, "win_rate": 0.3}
    again = client.post("/api/plan/scenarios", json=body, headers={"X-CSRF-Token": token})
    assert again.status_code == 201
    project = Project.load(folder)
    assert dict(project.tree.scenarios["big_deals"].values) == {
        "avg_deal_size": 2000000.0,
        "win_rate": 0.3,
    }
    assert (folder / "kpitree.yaml").read_text(encoding="utf-8").count("big_deals:") == 1
    bad = client.post(
        "/api/plan/scenarios",
        json={"name": "1 bad", "set": {"win_rate": 0.3}},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "KT693"
    plan = client.get("/api/plan").json()
    assert "big_deals" in [s["id"] for s in plan["scenarios"]]


def test_save_scenario_keeps_comments(tmp_path: Path) -> None:
    from kpitree.definition.scenarios import save_scenario

    folder = tmp_path / "p"
    definition = Project.init(folder)
    before = definition.read_text(encoding="utf-8")
    save_scenario(definition, "faster", "速い", {"win_rate": 0.3})
    after = definition.read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n").split("scenarios:")[0])
    assert "# --- KGI" in after and after.count("scenarios:") == 1
    tree = Project.load(folder).tree
    assert set(tree.scenarios) == {"stretch", "low_win_rate", "faster"}
    with pytest.raises(Exception, match="win_rat"):
        save_scenario(definition, "broken", None, {"win_rat": 0.3})
    assert definition.read_text(encoding="utf-8") == after  # put back


def test_tables_download_as_csv_and_xlsx(pages: TestClient) -> None:
    import openpyxl

    view = pages.get("/api/tree", params={"lang": "ja"}).json()
    response = pages.get("/", params={"format": "csv", "table": "nodes", "lang": "ja"})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["ノードID", "名前"]
    assert len(rows) == 1 + len(view["nodes"])
    by_id = {r[0]: r for r in rows[1:]}
    leads_actual = view["nodes"]["leads"]["actual"]
    assert float(by_id["leads"][4]) == leads_actual
    xlsx = pages.get("/api/funnel", params={"format": "xlsx", "table": "rates"})
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    sheet = book.active
    assert sheet is not None and sheet.max_row == 1 + len(pages.get("/api/funnel").json()["steps"])
    for path in ("/nodes/won_deals", "/departments", "/departments/marketing", "/plan"):
        assert pages.get(path, params={"format": "csv"}).status_code == 200, path
    missing = pages.get("/api/tree", params={"format": "csv", "table": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "KT694"


def test_every_page_has_a_documented_json_twin(pages: TestClient) -> None:
    schema = pages.get("/openapi.json").json()
    for path in (
        "/api/tree",
        "/api/nodes/{node_id}",
        "/api/funnel",
        "/api/departments",
        "/api/departments/{dept}",
        "/api/plan",
        "/api/plan/scenarios",
    ):
        assert path in schema["paths"], path
    tree = schema["paths"]["/api/tree"]["get"]
    assert tree["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TreePage"
    }
    params = {p["name"] for p in tree["parameters"]}
    assert {"period", "format", "table"} <= params
    for path in (
        "/",
        "/nodes/won_deals",
        "/funnel",
        "/departments",
        "/departments/field_sales",
        "/plan",
    ):
        page = pages.get(path, params={"lang": "en"})
        assert page.status_code == 200, path
        assert "<h1" in page.text and "pages." not in page.text.split("<main")[1], path
        # Macros render in the page's language too (the period form).
        assert "期間" not in page.text and "表示" not in page.text, path


def test_errors_use_the_json_shape(pages: TestClient) -> None:
    bad_period = pages.get("/api/tree", params={"period": "someday"})
    assert bad_period.status_code == 400
    assert bad_period.json()["error"]["code"] == "KT501"
    unknown = pages.get("/api/nodes/won_deal")
    assert unknown.status_code == 404
    assert "won_deals" in unknown.json()["error"]["message"]  # did you mean
    # Renewals have no channel: filtered by one, they have no value; the rest
    # of the tree is filtered.
    by_channel = pages.get("/api/tree", params={"channel": "web", "lang": "en"})
    assert by_channel.status_code == 200
    nodes = by_channel.json()["nodes"]
    assert nodes["renewable_arr"]["actual"] is None and nodes["leads"]["actual"] is not None
    assert nodes["renewable_arr"]["not_applicable"]["dimensions"] == ["channel"]
    assert nodes["leads"]["not_applicable"] is None
    html = pages.get("/", params={"channel": "web", "lang": "ja"}).text
    assert "対象外(channelで絞り込めません)" in html
    node = pages.get("/api/nodes/won_deals", params={"by": "channel", "lang": "en"}).json()
    assert node["breakdown"]["error"] is None and node["breakdown"]["rows"]
    # A dimension nothing has: on the Node page only the breakdown says so (with
    # the dimensions there are); the rest of the page answers.
    node = pages.get("/api/nodes/won_deals", params={"by": "colour", "lang": "en"}).json()
    assert node["breakdown"]["rows"] == [] and "colour" in node["breakdown"]["error"]
    assert "region" in node["breakdown"]["error"]
    assert node["node"]["actual"] is not None
    by_region = pages.get("/api/nodes/leads", params={"by": "region"}).json()["breakdown"]
    assert by_region["error"] is None and by_region["level"] == ["region"]
    assert (
        sum(r["actual"] for r in by_region["rows"])
        == pages.get("/api/nodes/leads").json()["node"]["actual"]
    )
    region = pages.get("/api/tree", params={"region": "関東"})
    assert region.status_code == 200 and region.json()["query"]["filters"] == {"region": ["関東"]}


def test_every_pages_error_code_is_documented() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    web = root / "src" / "kpitree" / "web"
    sources = [
        *sorted((web / "views").glob("*.py")),
        web / "routes_pages.py",
        web / "routes_api.py",
    ]
    sources.append(web / "cache.py")
    sources.append(root / "src" / "kpitree" / "definition" / "scenarios.py")  # the writer
    used: set[str] = set()
    for path in sources:
        used |= set(re.findall(r'"(KT\d{3})"', path.read_text(encoding="utf-8")))
    doc = (root / "docs" / "web.md").read_text(encoding="utf-8")
    section = doc.split("### Error codes of the pages", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", section, flags=re.MULTILINE))
    assert all("KT690" <= code <= "KT699" for code in documented)
    own = {code for code in used if "KT690" <= code <= "KT699"}
    assert own == documented
    # A code of another area a page raises too (an unknown revision on the Plan
    # page) is documented with its area.
    tables = "".join(p.read_text(encoding="utf-8") for p in (root / "docs").glob("*.md"))
    elsewhere = set(re.findall(r"^\| `(KT\d{3})` \|", tables, flags=re.MULTILINE))
    assert used - own <= elsewhere, sorted(used - own - elsewhere)


def test_cache_state_and_warm_pages(warming_client: TestClient) -> None:
    import time

    client = warming_client

    deadline = time.monotonic() + 180
    state = client.get("/api/pages/cache").json()
    while (state["warming"] or state["warm_rounds"] < 1) and time.monotonic() < deadline:
        time.sleep(0.1)
        state = client.get("/api/pages/cache").json()
    assert not state["warming"] and state["warm_rounds"] == 1, state
    assert state["entries"] > 0 and state["last_warm_seconds"] > 0
    hits = state["hits"]
    client.get("/", params={"lang": "ja"})  # warmed: a hit, nothing computed
    after = client.get("/api/pages/cache").json()
    assert after["hits"] > hits and after["misses"] == state["misses"]


def test_a_custom_range_and_all_time_on_the_pages_and_the_api(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    before = last_month.previous()
    span = f"{before.start.isoformat()}..{last_month.end.isoformat()}"
    view = pages.get("/api/tree", params={"period": span, "lang": "en"}).json()
    assert view["period"]["key"] == span
    leads = view["nodes"]["leads"]
    local = "(created_at AT TIME ZONE 'Asia/Tokyo')::DATE"
    count = _sql(
        project,
        f"SELECT count(*) FROM leads WHERE {local} BETWEEN ? AND ?",
        before.start,
        last_month.end,
    )
    assert leads["actual"] == count
    months = project.status([before, last_month], explain=False, compare=False)
    assert count == sum(months.row("leads", p.key).actual for p in (before, last_month))
    page = pages.get("/", params={"period": span, "lang": "ja"})
    assert page.status_code == 200
    assert f'value="{span}" selected' in page.text
    assert 'value="all"' in page.text  # the picker offers all time
    everything = pages.get("/api/tree", params={"period": "all", "lang": "en"}).json()
    first = _sql(project, f"SELECT min({local}) FROM leads")
    assert everything["period"]["start"] <= first.isoformat()
    total = everything["nodes"]["leads"]["actual"]
    assert total == _sql(project, f"SELECT count(*) FROM leads WHERE {local} <= ?", project.today())
    bad = pages.get("/api/tree", params={"period": "2026-11-30..2026-06-01"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "KT580"


def test_a_running_period_is_marked_and_compared_with_pace(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    running = project.period(None)
    view = pages.get("/api/nodes/revenue", params={"period": running.key, "lang": "ja"}).json()
    series = view["series"]
    assert series[-1]["period"] == running.key and series[-1]["in_progress"] is True
    assert not any(s["in_progress"] for s in series[:-1])
    contributions = view["contributions"]
    assert contributions["available"] and contributions["basis"] == "pace"
    assert "ペース比" in contributions["basis_text"]
    page = pages.get("/nodes/revenue", params={"period": running.key, "lang": "ja"}).text
    assert 'data-basis="pace"' in page and "途中" in page
    tree = pages.get("/", params={"period": running.key}).text
    assert 'data-testid="spark-running"' in tree
    done = pages.get("/api/tree", params={"period": last_month.key}).json()
    assert not any(n["trend"]["partial"] for n in done["nodes"].values())
    old = pages.get("/api/nodes/revenue", params={"period": last_month.key}).json()
    assert old["contributions"]["basis"] == "target"
    assert not any(s["in_progress"] for s in old["series"])
