"""Statuses a person can defend, on a hand-made company whose every number is
known by construction (Asia/Tokyo, fiscal year from April, Japanese holidays).

November 2026 as of Friday 11-06: 19 business days in the month (3 and 23
November are holidays), 4 of them passed (2, 4, 5, 6): a share of 4/19.

- Ten contract terms of ¥1.2M ARR each end on 11-30 (all renewed), five ended
  on 10-31: nothing was due by 11-06.
- Eight deals of ¥500,000 were won on 11-02..11-06, each from a lead that
  became an MQL in November; five more opportunities were created without
  any lead; four more MQLs did not convert: 12 MQLs, 13 opportunities.
- One lost deal in October, none in November: a real zero.
- No activity was ever imported: calls have no data. The only NPS responses
  are from September: no data since 2026-09-15.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse

UTC = dt.UTC
AS_OF = dt.date(2026, 11, 6)
SHARE = 4 / 19


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _table(name: str, rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = arrow_schema(name)
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


def company() -> dict[str, list[dict[str, Any]]]:
    reps = [{"rep_id": "r1", "name": "佐藤"}, {"rep_id": "r2", "name": "鈴木"}]
    assignments = [
        {"rep_id": "r1", "valid_from": d("2026-01-01"), "department": "field_sales", "team": "A"},
        {"rep_id": "r2", "valid_from": d("2026-01-01"), "department": "field_sales", "team": "B"},
    ]
    leads, history, deals = [], [], []
    for i in range(12):  # 12 MQLs in November (02:00 UTC is 11:00 in Tokyo)
        day = f"2026-11-0{2 + i % 5}T02:00"
        leads.append({"lead_id": f"L{i}", "created_at": ts(day), "owner_id": "r1"})
        history.append({"lead_id": f"L{i}", "stage": "mql", "entered_at": ts(day)})
    for i in range(8):  # 8 won from those leads
        day = f"2026-11-0{2 + i % 5}"
        deals.append(
            {"deal_id": f"W{i}", "lead_id": f"L{i}", "owner_id": f"r{1 + i % 2}",
             "created_at": ts(f"{day}T03:00"), "status": "won", "close_date": d(day),
             "amount": 500_000.0}
        )  # fmt: skip
    for i in range(5):  # 5 opportunities with no originating lead
        deals.append(
            {"deal_id": f"X{i}", "owner_id": "r2", "created_at": ts("2026-11-04T03:00"),
             "status": "open", "amount": 100_000.0}
        )  # fmt: skip
    deals.append(
        {"deal_id": "LOST", "lead_id": None, "owner_id": "r2", "created_at": ts("2026-10-01T03:00"),
         "status": "lost", "close_date": d("2026-10-20"), "amount": 1.0}
    )  # fmt: skip
    contracts = []
    for i in range(5):  # ended (renewed) on 10-31
        contracts.append(
            {"contract_id": f"O{i}", "account_id": f"A{i}", "start_date": d("2025-11-01"),
             "end_date": d("2026-10-31"), "mrr": 100_000.0, "arr": 1_200_000.0,
             "status": "renewed"}
        )  # fmt: skip
        contracts.append(
            {"contract_id": f"O{i}b", "account_id": f"A{i}", "start_date": d("2026-11-01"),
             "end_date": d("2027-10-31"), "mrr": 100_000.0, "arr": 1_200_000.0,
             "status": "active", "renewed_from": f"O{i}"}
        )  # fmt: skip
    for i in range(10):  # due on 11-30
        contracts.append(
            {"contract_id": f"N{i}", "account_id": f"B{i}", "start_date": d("2025-12-01"),
             "end_date": d("2026-11-30"), "mrr": 100_000.0, "arr": 1_200_000.0,
             "status": "renewed"}
        )  # fmt: skip
        contracts.append(
            {"contract_id": f"N{i}b", "account_id": f"B{i}", "start_date": d("2026-12-01"),
             "end_date": d("2027-11-30"), "mrr": 100_000.0, "arr": 1_200_000.0,
             "status": "active", "renewed_from": f"N{i}"}
        )  # fmt: skip
    nps = [
        {"response_id": f"S{i}", "account_id": "A0", "responded_at": ts("2026-09-15T02:00"),
         "score": 9}
        for i in range(3)
    ]  # fmt: skip
    return {
        "reps": reps,
        "rep_assignments": assignments,
        "leads": leads,
        "lead_stage_history": history,
        "deals": deals,
        "contracts": contracts,
        "nps_responses": nps,
    }


DEFINITION = """\
kpitree: 1
name: Trust
fiscal_year: 2026
period: month
nodes:
  revenue:
    kind: kgi
    unit: currency
    formula: new_revenue + renewal_revenue
  new_revenue: {kind: ksf, unit: currency, formula: won_deals * avg_deal_size, metric: revenue}
  renewal_revenue:
    kind: ksf
    unit: currency
    formula: renewable_arr * renewal_rate
    metric: retained_arr
  won_deals: {unit: count, formula: opportunities * win_rate, metric: won_deals}
  win_rate: {unit: ratio}
  opportunities: {unit: count, formula: mqls * opportunity_rate, metric: opportunities}
  opportunity_rate:
    unit: ratio
    benchmark: {min: 0.11, max: 0.20}
    min_volume: 5
  mqls: {unit: count, metric: mqls}
  avg_deal_size: {unit: currency, metric: avg_deal_size}
  renewable_arr: {unit: currency, metric: due_arr}
  renewal_rate: {unit: ratio, metric: grr}
  upsell_rate: {unit: ratio, metric: expansion_rate}
  calls: {unit: count, metric: calls}
  lost_deals: {unit: count, metric: lost_deals}
  responses: {unit: count, metric: nps_responses}
data:
  warehouse: warehouse.duckdb
  targets: [targets.csv]
"""

# Monthly targets of November: 38 won deals at ¥500,000 (so 8 expected by the
# 6th), 10 terms of ¥1.2M due, 90% kept.
TARGETS = {
    "revenue": 19_000_000 + 10_800_000,
    "new_revenue": 19_000_000,
    "won_deals": 38,
    "avg_deal_size": 500_000,
    "win_rate": 38 / 57,
    "opportunities": 57,
    "opportunity_rate": 0.2,
    "mqls": 285,
    "renewal_revenue": 10_800_000,
    "renewable_arr": 12_000_000,
    "renewal_rate": 0.9,
    "calls": 1900,
    "responses": 10,
}


def build(folder: Path, definition: str = DEFINITION) -> Project:
    (folder / "kpitree.yaml").write_text(definition, encoding="utf-8")
    lines = ["node,period,target"] + [f"{n},2026-11,{v}" for n, v in TARGETS.items()]
    (folder / "targets.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    Warehouse(folder / "warehouse.duckdb").bulk_load(
        {name: _table(name, rows) for name, rows in company().items()}, label="hand-made"
    )
    return Project.load(folder)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return build(tmp_path_factory.mktemp("trust"))


@pytest.fixture(scope="module")
def result(project: Project) -> Any:
    return project.status("2026-11", as_of=AS_OF, compare=False)


# --- 1. scheduled events pace by their schedule --------------------------------------------


def test_renewals_due_at_month_end_are_not_behind_on_the_sixth(result: Any) -> None:
    arr = result.row("renewable_arr")
    assert arr.actual == 0.0
    # Nothing was due by the 6th: nothing expected (not 12M x 4/19).
    assert arr.expected == 0.0 and arr.basis == "schedule"
    assert arr.status == "on_track" and arr.reason == "nothing_due"
    # Before anything is due, the plan stands.
    assert arr.forecast == pytest.approx(12_000_000)
    assert result.row("renewal_revenue").status == "on_track"


def test_the_kgi_paces_by_its_parts(result: Any) -> None:
    kgi = result.row("revenue")
    # new: 8 won x ¥500,000 expected (38 x 4/19 = 8); renewal: nothing due yet.
    assert kgi.expected == pytest.approx(8 * 500_000)
    assert kgi.actual == pytest.approx(8 * 500_000)
    assert kgi.basis == "children"
    assert kgi.pace == pytest.approx(1.0)
    assert kgi.status == "on_track"
    # Forecast: new revenue at its run rate, renewals as planned.
    assert kgi.forecast == pytest.approx(8 * 500_000 / SHARE + 10_800_000)


def test_the_schedule_paces_the_renewals_as_they_fall_due(project: Project) -> None:
    # On 11-30 every term is due: the whole target is expected, and all ten renewed.
    end = project.status("2026-11", as_of=dt.date(2026, 11, 30), compare=False)
    arr = end.row("renewable_arr")
    assert arr.actual == pytest.approx(12_000_000) and arr.expected == pytest.approx(12_000_000)
    assert arr.status == "on_track"


# --- 2. no data, no target, a real zero ----------------------------------------------------


def test_a_source_never_imported_is_no_data(result: Any) -> None:
    calls = result.row("calls")
    assert calls.status == "no_data" and calls.data_until is None
    assert calls.actual is None and calls.forecast is None and calls.pace is None
    assert calls.to_json()["status"] == "no_data"


def test_nothing_since_the_period_started_is_no_data_since_a_day(result: Any) -> None:
    responses = result.row("responses")
    assert responses.status == "no_data"
    assert responses.data_until == dt.date(2026, 9, 15)
    assert responses.to_json()["data_until"] == "2026-09-15"


def test_a_real_zero_is_a_zero(result: Any) -> None:
    lost = result.row("lost_deals")
    # Deals were imported up to the 6th: no lost deal in November is a zero.
    assert lost.actual == 0.0 and lost.status is None and lost.reason == "no_target"
    assert lost.data_until == AS_OF


def test_rows_with_actuals_but_no_target_say_no_target(project: Project) -> None:
    by_team = project.status("2026-11", as_of=AS_OF, by="team", compare=False)
    rows = [r for r in by_team.select(node="won_deals") if r.segment]
    assert rows and all(r.actual is not None for r in rows)
    assert {r.reason for r in rows if r.target is None} == {"no_target"}


# --- 3. low volume -------------------------------------------------------------------------


def test_an_average_of_a_few_deals_is_low_volume(result: Any) -> None:
    avg = result.row("avg_deal_size")
    assert avg.volume == 8 and avg.min_volume == 10
    assert avg.status == "low_volume"
    # Counts are never low volume, however small.
    assert result.row("won_deals").status == "on_track"


def test_rates_of_money_and_derived_rates_count_the_facts_below_them(project: Project) -> None:
    on_sixth = project.status("2026-11", as_of=AS_OF, compare=False)
    # Nothing due yet: no term behind GRR or the expansion rate.
    for node in ("renewal_rate", "upsell_rate"):
        row = on_sixth.row(node)
        assert row.volume == 0 and row.status == "low_volume", node
    # At month end ten terms are due: GRR's volume is 10 terms, not ¥1,000,000 of MRR.
    at_end = project.status("2026-11", as_of=dt.date(2026, 11, 30), compare=False)
    assert at_end.row("renewal_rate").volume == 10
    assert at_end.row("upsell_rate").volume == 10
    assert at_end.row("renewal_rate").status == "low_volume"


def test_min_volume_is_settable_per_node_and_per_project(tmp_path: Path) -> None:
    # opportunity_rate sets 5 itself (12 MQLs: judged); the project lowers currency to 8.
    lower = "period: month\npacing: {min_volume: {currency: 8}}\n"
    text = DEFINITION.replace("period: month\n", lower)
    project = build(tmp_path, text)
    result = project.status("2026-11", as_of=AS_OF, compare=False)
    assert result.row("avg_deal_size").min_volume == 8
    assert result.row("avg_deal_size").status == "on_track"
    assert result.row("opportunity_rate").min_volume == 5


# --- 4. impossible values ------------------------------------------------------------------


def test_a_share_above_one_is_flagged_with_its_cause(result: Any, project: Project) -> None:
    rate = result.row("opportunity_rate")
    assert rate.actual == pytest.approx(13 / 12)
    codes = [f.code for f in rate.flags]
    assert codes == ["rate_above_one", "outside_reference", "unlinked_facts"]
    above, _, unlinked = rate.flags
    assert above.values["cause"] == "unlinked"
    assert unlinked.values == {"unlinked": 5, "total": 13, "entity": "deals"}
    assert unlinked.message(project.tree, "en") == (
        "5 of 13 opportunities have no originating lead"
    )
    assert "100%" in above.message(project.tree, "ja")
    assert [f["code"] for f in rate.to_json()["flags"]] == codes


def test_values_in_range_have_no_flag(result: Any) -> None:
    assert result.row("won_deals").flags == () and result.row("revenue").flags == ()
