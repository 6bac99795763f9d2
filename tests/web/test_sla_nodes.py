"""A tree node whose metric is an SLA metric (``type: sla_*``) opens the SLA
cases behind its number, like every other number opens its records: the same
period, filters and as-of day, and as many cases as the number counts (a
compliance rate: its closed cases and, of them, the met ones)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml

from kpitree.filter_text import filter_params

from .conftest import without_warm_up

NODES = {
    "call_compliance": "sla_compliance",
    "call_breaches": "sla_breaches",
    "call_open": "sla_open",
    "call_p95": "sla_response_p95",
}
SAMPLES = (
    {"period": "last-month"},
    {"period": "last-quarter", "department": "inside_sales"},
    {"period": "last-quarter", "department": "inside_sales", "team": "インバウンドIS"},
    {"period": "this-month", "as_of": "first"},
)


def with_sla_nodes(demo: Path, folder: Path) -> Path:
    """``demo`` copied to ``folder`` with one node per SLA metric kind over the
    demo's ``mql_first_call`` SLA (owned by inside sales)."""
    shutil.copytree(demo, folder, ignore=shutil.ignore_patterns("cache", "app.sqlite*"))
    definition = folder / "kpitree.yaml"
    doc: dict[str, Any] = yaml.safe_load(definition.read_text("utf-8"))
    metrics = doc.setdefault("metrics", {})
    for node, kind in NODES.items():
        metrics[node] = {"type": kind, "sla": "mql_first_call"}
        doc["nodes"][node] = {
            "label": {"ja": f"初回架電 {kind}", "en": f"First call {kind}"},
            "unit": "ratio" if kind == "sla_compliance" else "count",
            "owner": "inside_sales",
            "metric": node,
        }
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return folder


@pytest.fixture(scope="module")
def client(demo_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    folder = with_sla_nodes(demo_project, tmp_path_factory.mktemp("sla_nodes") / "demo")
    with (
        without_warm_up(),
        TestClient(create_app(folder), base_url="http://localhost") as test_client,
    ):
        test_client.app_folder = folder  # type: ignore[attr-defined]
        yield test_client


def _params(sample: dict[str, str], client: Any) -> dict[str, str]:
    out = dict(sample)
    if out.get("as_of") == "first":  # a day inside the running month
        period = client.get("/api/tree?period=this-month").json()["period"]
        out["as_of"] = period["start"]
    return {**out, **filter_params({k: v for k, v in out.items() if k in ("team",)})}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: "-".join(s.values()))
def test_an_sla_node_opens_as_many_cases_as_its_number(client: Any, sample: Any) -> None:
    params = _params(sample, client)
    query = urlencode(params, quote_via=quote)
    checked = 0
    for node, kind in NODES.items():
        number = client.get(f"/api/records/{node}?{query}", follow_redirects=False)
        assert number.status_code == 307, (node, number.text[:200])
        target = number.headers["location"]
        assert target.startswith("/api/sla/cases?") and "rule=mql_first_call" in target
        page = client.get(f"/records/{node}?{query}", follow_redirects=False)
        assert page.headers["location"] == target.replace("/api/sla/cases", "/sla/cases", 1)
        cases = client.get(target).json()
        expected_filters = {k: [v] for k, v in sample.items() if k in ("department", "team")}
        assert cases["filters"] == expected_filters, target
        counts = {c["status"]: c["count"] for c in cases["counts"]}
        # The number as the tree computes it, under the same period, filters and day.
        actual = _actual(client, node, params)
        if kind == "sla_breaches":
            assert cases["status"] == "breached" and cases["count"] == actual
        elif kind == "sla_open":
            assert cases["status"] == "open" and cases["count"] == actual
        elif kind == "sla_compliance":
            assert cases["status"] == "closed"
            assert cases["count"] == counts["met"] + counts["breached"]
            if actual is not None:
                assert counts["met"] / cases["count"] == pytest.approx(actual)
            else:
                assert cases["count"] == 0
        else:
            assert cases["status"] == "responded"
            assert all(r["values"]["response"] for r in cases["rows"])
            every = client.get(target.replace("status=responded", "status=cases") + "&format=csv")
            rows = list(csv.DictReader(io.StringIO(every.content.decode("utf-8-sig"))))
            heading = next(c["label"] for c in cases["columns"] if c["key"] == "response")
            assert cases["count"] == sum(1 for r in rows if r[heading])
        checked += cases["count"] > 0
    assert checked, sample


def _actual(client: Any, node: str, params: dict[str, str]) -> float | None:
    """The node's number on its page; measured up to an earlier day, as the
    project computes it up to that day."""
    if "as_of" not in params:
        got = client.get(f"/api/nodes/{node}?{urlencode(params, quote_via=quote)}")
        assert got.status_code == 200, got.text[:300]
        value = got.json()["node"]["actual"]
        return None if value is None else float(value)
    from kpitree.project import Project

    project = Project.load(client.app_folder)
    day = dt.date.fromisoformat(params["as_of"])
    result = project.status(params["period"], as_of=day, explain=False, compare=False)
    key = result.periods[-1].key
    found = [r for r in result.rows if r.node == node and r.segment == () and r.period == key]
    assert len(found) == 1
    return found[0].actual
