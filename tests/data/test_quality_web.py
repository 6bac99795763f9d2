"""The Data page's data-quality section and its JSON twin
(``GET /api/data/quality``), in process, on the company of
tests/data/quality_company.py: the twin says exactly what ``kpitree data check
--json`` says as of today, and the page lists every finding with its count, ids
and nodes."""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kpitree.project import Project
from kpitree.web.app import create_app

from .quality_company import build_company, cli_runner


@pytest.fixture
def kpitree(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KPITREE_LANG", "en")
    return cli_runner(capsys)


def test_the_data_page_and_its_json_twin_list_the_findings(tmp_path: Path, kpitree: Any) -> None:
    project = build_company(tmp_path, kpitree)
    today = Project.load(project).today().isoformat()
    cli = kpitree("data", "check", str(project), "--as-of", today, "--json").json()
    with closing(
        TestClient(
            create_app(project), base_url="http://localhost", headers={"accept-language": "en"}
        )
    ) as client:
        twin = client.get("/api/data/quality")
        assert twin.status_code == 200
        assert twin.json() == cli
        page = client.get("/data")
        fragment = client.get("/data/quality")
    assert page.status_code == 200 and fragment.status_code == 200
    # By construction, whatever the day: L2 skips SQL, L3 and L4 go backwards,
    # D2 has no amount.
    findings = {(f["rule"], f["table"]): f for f in cli["findings"]}
    assert findings[("stage_skipped", "lead_stage_history")]["examples"] == ["L2"]
    assert findings[("stage_backwards", "lead_stage_history")]["examples"] == ["L3", "L4"]
    assert findings[("deal_without_amount", "deals")]["nodes"] == ["avg_deal_size", "new_revenue"]
    html = page.text
    assert 'data-testid="quality"' in html and "Data quality" in html
    assert fragment.text.strip() in html
    for f in cli["findings"]:
        row = re.search(
            rf'<tr data-rule="{f["rule"]}" data-table="{f["table"]}" '
            rf'data-level="{f["level"]}">(.*?)</tr>',
            html,
            flags=re.DOTALL,
        )
        assert row, (f["rule"], f["table"])
        cells = row.group(1)
        assert f'<td class="num" data-field="count">{f["count"]:,}</td>' in cells
        assert f'<td data-field="examples">{", ".join(f["examples"])}</td>' in cells
        for node in f["nodes"]:
            assert f'href="/nodes/{node}" data-node="{node}"' in cells
    stale = re.findall(r'<tr data-table="(\w+)" data-stale="true"', html)
    assert stale == [fr["table"] for fr in cli["freshness"] if fr["stale"]]


def test_the_tree_and_node_pages_warn_on_the_nodes_a_finding_touches(
    tmp_path: Path, kpitree: Any
) -> None:
    project = build_company(tmp_path, kpitree)
    today = Project.load(project).today().isoformat()
    cli = kpitree("data", "check", str(project), "--as-of", today, "--json").json()
    expected: dict[str, list[tuple[str, str, int]]] = {}
    for f in cli["findings"]:
        for node in f["nodes"]:
            expected.setdefault(node, []).append((f["rule"], f["table"], f["count"]))
    with closing(
        TestClient(
            create_app(project), base_url="http://localhost", headers={"accept-language": "en"}
        )
    ) as client:
        tree = client.get("/api/tree").json()
        got = {
            nid: [(f["rule"], f["table"], f["count"]) for f in q["findings"]]
            for nid, q in tree["quality"].items()
        }
        assert got == expected
        # By construction: D2 has no amount, which touches the average deal size.
        assert ("deal_without_amount", "deals", 1) in got["avg_deal_size"]
        html = client.get("/").text
        for nid, findings in expected.items():
            records = sum(c for _, _, c in findings)
            box = re.search(rf'data-node-id="{nid}"(.*?)kt-node-trend', html, flags=re.DOTALL)
            assert box and f'data-field="quality" data-records="{records}"' in box.group(1), nid
        clean = [n for n in tree["nodes"] if n not in expected]
        for nid in clean:
            box = re.search(rf'data-node-id="{nid}"(.*?)kt-node-trend', html, flags=re.DOTALL)
            assert box and 'data-field="quality"' not in box.group(1), nid
        node = client.get("/nodes/avg_deal_size")
        assert node.status_code == 200
        assert 'data-testid="node-quality"' in node.text
        assert (
            '<li data-rule="deal_without_amount" data-table="deals" data-level="warning" '
            'data-count="1">' in node.text
        )
        twin = client.get("/api/nodes/avg_deal_size").json()
        assert twin["quality"]["records"] == sum(c for _, _, c in expected["avg_deal_size"])
        if clean:
            assert client.get(f"/api/nodes/{clean[0]}").json()["quality"] is None


def test_the_report_is_kept_per_data_version_and_an_import_renews_it(
    tmp_path: Path, kpitree: Any
) -> None:
    """The report is computed once for the requests of one data version (the
    Data page, its section and the twin, side by side), and an import makes
    the next request compute it again, on the new data."""
    from concurrent.futures import ThreadPoolExecutor

    from .quality_company import DEALS_MAP, write

    project = build_company(tmp_path, kpitree)
    today = Project.load(project).today().isoformat()
    app = create_app(project)
    with closing(
        TestClient(app, base_url="http://localhost", headers={"accept-language": "en"})
    ) as client:
        paths = ["/api/data/quality", "/data", "/data/quality"] * 3
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(client.get, paths))
        assert [a.status_code for a in answers] == [200] * len(paths)
        assert app.state.page_cache.misses_by_kind["quality"] == 1
        before = client.get("/api/data/quality").json()
        assert before == kpitree("data", "check", str(project), "--as-of", today, "--json").json()
        # One more open deal with no amount: the finding counts it at once.
        csv = write(tmp_path, "more.csv", "ID,Lead,Created,Close,Won,Amount,Status,Owner,Account\n"
                    "D8,L1,2026/04/21,,,,open,R1,\n")  # fmt: skip
        done = kpitree("import", csv, "--mapping", write(tmp_path, "more.yaml", DEALS_MAP),
                       "--project", str(project))  # fmt: skip
        assert done.code == 0, done.out + done.err
        after = client.get("/api/data/quality").json()
        page = client.get("/data").text
    assert app.state.page_cache.misses_by_kind["quality"] == 2
    assert after == kpitree("data", "check", str(project), "--as-of", today, "--json").json()

    def missing_amount(report: dict[str, Any]) -> dict[str, Any]:
        found = {(f["rule"], f["table"]): f for f in report["findings"]}
        return found[("deal_without_amount", "deals")]  # type: ignore[no-any-return]

    assert missing_amount(after)["count"] == missing_amount(before)["count"] + 1
    assert "D8" in missing_amount(after)["examples"]
    row = re.search(
        r'<tr data-rule="deal_without_amount" data-table="deals".*?</tr>', page, flags=re.DOTALL
    )
    assert row and f'data-field="count">{missing_amount(after)["count"]:,}</td>' in row.group(0)
