"""Statuses on the pages, in a real Chromium against a real ``kpitree serve``
on a hand-made company dated around today (the server measures as of today):
renewals that fall due on the month's last day are not behind while nothing is
due, a source never imported reads データなし, and a share above 100% carries a
badge and, on its Node page, the likely cause."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse

pytestmark = pytest.mark.browser

DEFINITION = """\
kpitree: 1
name: Trust
fiscal_year: FISCAL_YEAR
period: month
nodes:
  revenue: {kind: kgi, unit: currency, formula: new_revenue + renewal_revenue}
  new_revenue: {kind: ksf, unit: currency, formula: won_deals * avg_deal_size, metric: revenue}
  renewal_revenue:
    kind: ksf
    unit: currency
    formula: renewable_arr * renewal_rate
    metric: retained_arr
  won_deals: {unit: count, formula: opportunities * win_rate, metric: won_deals}
  win_rate: {unit: ratio}
  opportunities: {unit: count, formula: mqls * opportunity_rate, metric: opportunities}
  opportunity_rate: {unit: ratio, benchmark: {min: 0.11, max: 0.20}, drivers: [calls]}
  mqls: {unit: count, metric: mqls}
  calls: {unit: count, metric: calls}
  avg_deal_size: {unit: currency, metric: avg_deal_size}
  renewable_arr: {unit: currency, metric: due_arr}
  renewal_rate: {unit: ratio, metric: grr}
data:
  warehouse: warehouse.duckdb
  targets: [targets.csv]
"""


def _table(name: str, rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = arrow_schema(name)
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


def _company(today: dt.date) -> dict[str, list[dict[str, Any]]]:
    first = today.replace(day=1)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    before = first - dt.timedelta(days=1)
    at = dt.datetime.combine(first, dt.time(2), dt.UTC)  # 11:00 in Tokyo on the 1st
    leads = [{"lead_id": f"L{i}", "created_at": at, "owner_id": "r1"} for i in range(3)]
    history = [{"lead_id": f"L{i}", "stage": "mql", "entered_at": at} for i in range(3)]
    deals = [
        {"deal_id": f"W{i}", "lead_id": f"L{i}", "owner_id": "r1", "created_at": at,
         "status": "won", "close_date": first, "amount": 500_000.0}
        for i in range(3)
    ] + [
        {"deal_id": f"X{i}", "owner_id": "r1", "created_at": at, "status": "open"}
        for i in range(5)
    ]  # fmt: skip
    contracts = []
    for i, end in enumerate([before] * 5 + [last] * 10):
        contracts.append(
            {"contract_id": f"C{i}", "account_id": f"A{i}", "start_date": end.replace(day=1),
             "end_date": end, "mrr": 100_000.0, "arr": 1_200_000.0, "status": "renewed"}
        )  # fmt: skip
    return {
        "reps": [{"rep_id": "r1", "name": "佐藤"}],
        "rep_assignments": [
            {
                "rep_id": "r1",
                "valid_from": dt.date(2020, 1, 1),
                "department": "field_sales",
                "team": "A",
            }
        ],
        "leads": leads,
        "lead_stage_history": history,
        "deals": deals,
        "contracts": contracts,
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    today = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()
    month = today.strftime("%Y-%m")
    text = DEFINITION.replace("FISCAL_YEAR", str(today.year - (today.month < 4)))
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    targets = {
        "revenue": 1_500_000 + 10_800_000,
        "new_revenue": 1_500_000,
        "won_deals": 3,
        "avg_deal_size": 500_000,
        "renewal_revenue": 10_800_000,
        "renewable_arr": 12_000_000,
        "renewal_rate": 0.9,
        "calls": 100,
    }
    lines = ["node,period,target"] + [f"{n},{month},{v}" for n, v in targets.items()]
    (tmp_path / "targets.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    Warehouse(tmp_path / "warehouse.duckdb").bulk_load(
        {name: _table(name, rows) for name, rows in _company(today).items()}, label="hand-made"
    )
    return tmp_path


def _warm(url: str, *paths: str) -> Any:
    """Ask the server for ``paths`` first (a busy machine computes slowly; the
    pages are then answered from its cache); the first one's JSON."""
    answers = [httpx.get(url + p, params={"lang": "ja"}, timeout=300) for p in paths]
    assert all(a.status_code == 200 for a in answers)
    first = answers[0]
    return first.json() if "json" in first.headers.get("content-type", "") else None


def _status(page: Any, node_id: str) -> Any:
    return page.locator(f'[data-node-id="{node_id}"] [data-field="status"]')


def test_tree_shows_no_delay_caused_by_the_schedule_and_no_data_as_such(
    page: Any, project: Path, start_server: Callable[..., str]
) -> None:
    url = start_server(project)
    view = _warm(url, "/api/tree", "/?lang=ja")
    page.goto(url + "/?lang=ja")
    page.locator('[data-testid="tree"]').wait_for()
    arr = view["nodes"]["renewable_arr"]
    # Renewals fall due on the last day: not behind before then, and never for lack of days.
    assert arr["status"] == "on_track" and arr["pace_basis"] == "schedule"
    for node_id in ("renewable_arr", "renewal_revenue", "revenue"):
        shown = _status(page, node_id)
        assert shown.get_attribute("data-status") != "off_track", node_id
        assert "遅れ" not in shown.inner_text(), node_id
    # Calls were never imported: データなし, not 0 and 遅れ.
    calls = _status(page, "calls")
    assert calls.get_attribute("data-status") == "no_data"
    assert "データなし" in calls.inner_text()
    assert "データ未取込" in (calls.get_attribute("title") or "")
    box = page.locator('[data-node-id="calls"] [data-field="actual"]').inner_text()
    assert box.strip() in ("—", "-", "–")
    # 8 opportunities over 3 MQLs: a badge on the box.
    flag = page.locator('[data-node-id="opportunity_rate"] [data-flag="rate_above_one"]')
    assert "100%超" in flag.inner_text()


def test_node_page_says_the_likely_cause(
    page: Any, project: Path, start_server: Callable[..., str]
) -> None:
    url = start_server(project)
    _warm(url, "/nodes/opportunity_rate?lang=ja", "/nodes/opportunity_rate?lang=en")
    page.goto(url + "/nodes/opportunity_rate?lang=ja")
    notes = page.locator('[data-testid="status-notes"]')
    notes.wait_for()
    assert "商談 8 件のうち 5 件に元のリードがありません" in notes.inner_text()
    page.goto(url + "/nodes/opportunity_rate?lang=en")
    notes = page.locator('[data-testid="status-notes"]')
    notes.wait_for()
    assert "5 of 8 opportunities have no originating lead" in notes.inner_text()
