"""Credit rules: whose result a fact is in department, team and rep views.

Generated companies (hypothesis) check every rule against a count done here in
Python, and that the departments' numbers add up to the company's; the demo
company checks that inside sales gets the opportunities it created.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitree import Project
from kpitree.compute.measure import measure
from kpitree.compute.metrics import catalogue
from kpitree.compute.periods import parse_period
from kpitree.data.schema import arrow_schema
from kpitree.definition.resolve import check_definition, load_tree
from kpitree.engines import load_canonical, open_engine

UTC = dt.UTC
DEPARTMENTS = ("inside_sales", "field_sales", "customer_success")
REPS = [f"r{i}" for i in range(5)]
RULES = {"opps_owner": "owner", "opps_lead": "lead_owner", "opps_sdr": "attributes.sdr"}
MONTHS = [parse_period(m) for m in ("2026-04", "2026-05")]

DEFINITION = """\
kpitree: 1
name: credit
nodes:
  revenue: {kind: kgi, unit: count, metric: opps_owner}
metrics:
""" + "".join(
    f"  {mid}: {{type: count, entity: deals, time: created_at, credit: {rule}}}\n"
    for mid, rule in RULES.items()
)


def _table(name: str, rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = arrow_schema(name)
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("credit")
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    return load_tree(str(folder / "kpitree.yaml"))


_rep = st.one_of(st.none(), st.sampled_from(REPS))
_day = st.integers(0, 60)


@st.composite
def companies(draw: Any) -> dict[str, list[dict[str, Any]]]:
    """Reps in departments (one may move on a day), leads with or without an
    owner, deals with or without a lead (or one that does not exist), an owner
    and an ``sdr`` kept in ``attributes``."""
    first = dt.date(2026, 1, 1)
    assignments = []
    for rep in REPS:
        dept = draw(st.sampled_from(DEPARTMENTS))
        moves = draw(st.one_of(st.none(), _day))
        if moves is None:
            assignments.append({"rep_id": rep, "valid_from": first, "department": dept})
        else:
            day = dt.date(2026, 4, 1) + dt.timedelta(days=moves)
            assignments.append(
                {"rep_id": rep, "valid_from": first, "valid_to": day - dt.timedelta(days=1),
                 "department": dept}
            )  # fmt: skip
            other = draw(st.sampled_from(DEPARTMENTS))
            assignments.append({"rep_id": rep, "valid_from": day, "department": other})
    n_leads = draw(st.integers(0, 8))
    leads = [
        {"lead_id": f"L{i}", "created_at": dt.datetime(2026, 3, 1, tzinfo=UTC),
         "owner_id": draw(_rep)}
        for i in range(n_leads)
    ]  # fmt: skip
    deals = []
    for i in range(draw(st.integers(0, 12))):
        lead = draw(st.one_of(st.none(), st.just("L-missing"), st.integers(0, max(0, n_leads - 1))))
        if isinstance(lead, int):
            lead = f"L{lead}" if n_leads else None
        sdr = draw(_rep)
        deals.append(
            {
                "deal_id": f"D{i}",
                "lead_id": lead,
                "owner_id": draw(_rep),
                "created_at": dt.datetime(2026, 4, 1, 3, tzinfo=UTC)
                + dt.timedelta(days=draw(_day)),
                "status": "open",
                "attributes": json.dumps({} if sdr is None else {"sdr": sdr}),
            }
        )
    return {
        "reps": [{"rep_id": r} for r in REPS],
        "rep_assignments": assignments,
        "leads": leads,
        "deals": deals,
    }


def _credited(company: dict[str, list[dict[str, Any]]], rule: str, deal: dict[str, Any]) -> Any:
    if rule == "lead_owner":
        owners = {lead["lead_id"]: lead["owner_id"] for lead in company["leads"]}
        return owners.get(deal["lead_id"]) or deal["owner_id"]
    if rule == "attributes.sdr":
        return json.loads(deal["attributes"]).get("sdr") or deal["owner_id"]
    return deal["owner_id"]


def _department(company: dict[str, list[dict[str, Any]]], rep: str | None, day: dt.date) -> Any:
    for a in company["rep_assignments"]:
        if a["rep_id"] == rep and a["valid_from"] <= day <= (a.get("valid_to") or dt.date.max):
            return a["department"]
    return None


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(company=companies())
def test_department_credits_add_up_to_the_company_under_every_rule(
    tree: Any, company: dict[str, list[dict[str, Any]]]
) -> None:
    import pandas as pd

    metrics = catalogue(tree)
    with open_engine("duckdb://", timezone="UTC") as engine:
        load_canonical(engine, {k: _table(k, v) for k, v in company.items()})
        frames = measure(engine, metrics, list(RULES), MONTHS, [(), ("department",), ("rep",)])
    for mid, rule in RULES.items():
        for p, month in enumerate(MONTHS):
            total = frames[()].set_index("period")[mid].get(p, 0.0)
            for level in (("department",), ("rep",)):
                frame = frames[level]
                rows = frame[frame["period"] == p]
                assert rows[mid].fillna(0).sum() == total, (mid, level)
            want: dict[Any, int] = {}
            for deal in company["deals"]:
                day = deal["created_at"].date()
                if month.start <= day <= month.end:
                    dept = _department(company, _credited(company, rule, deal), day)
                    want[dept] = want.get(dept, 0) + 1
            rows = frames[("department",)]
            rows = rows[rows["period"] == p]
            got = {
                (None if pd.isna(d) else d): int(v)
                for d, v in zip(rows["dim__department"], rows[mid], strict=True)
                if not math.isnan(v) and v
            }
            assert got == want, (mid, month.key)


def test_credit_rules_are_checked(tmp_path: Path) -> None:
    text = DEFINITION.replace("credit: attributes.sdr", "credit: onwer") + (
        "  calls_by_lead: {type: count, entity: activities, credit: lead_owner}\n"
        "  renewals_by_lead: {type: count, entity: renewals, credit: lead_owner}\n"
        "  rate: {type: ratio, numerator: opps_owner, denominator: opps_lead, credit: owner_id}\n"
    )
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    result = check_definition(str(tmp_path / "kpitree.yaml"))
    assert result.tree is not None
    found = [d for d in catalogue(result.tree).diagnostics if d.code == "KT561"]
    messages = sorted(d.message("en") for d in found)
    assert len(found) == 3, messages
    assert any("'onwer'" in m and "did you mean 'owner'" in m for m in messages)
    assert any("renewals has no originating lead" in m for m in messages)
    assert any("ratio or derived" in m for m in messages)
    assert all(d.span is not None and d.span.line > 1 for d in found)


# -- the demo company ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    from kpitree.data.demo import generate
    from kpitree.data.warehouse import Warehouse, warehouse_path

    folder = tmp_path_factory.mktemp("demo")
    Project.init(folder)
    project = Project.load(folder)
    tables = generate("tiny", seed=7, fiscal_year=2025).tables
    Warehouse(warehouse_path(folder, project.tree.warehouse)).bulk_load(tables, label="test")
    return project


def test_inside_sales_is_credited_with_the_opportunities_it_created(demo: Project) -> None:
    status = demo.status("2025-09", by="department", as_of=dt.date(2025, 10, 15), explain=False)
    company = status.row("opportunities", "2025-09").actual
    by_dept = {
        dict(r.segment)["department"]: r.actual
        for r in status.select(node="opportunities", period="2025-09", level=("department",))
    }
    assert company and sum(v or 0 for v in by_dept.values()) == company
    # Counted here from the tables: each deal created in September goes to the
    # department, on that day, of its lead's owner (the deal's owner without one).
    with demo.engine() as engine:
        deals = engine.execute(engine.table("deals")).to_pylist()
        leads = {
            r["lead_id"]: r["owner_id"] for r in engine.execute(engine.table("leads")).to_pylist()
        }
        assignments = engine.execute(engine.table("rep_assignments")).to_pylist()
    want: dict[str | None, int] = {}
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Tokyo")
    for deal in deals:
        day = deal["created_at"].astimezone(tz).date()
        if not (dt.date(2025, 9, 1) <= day <= dt.date(2025, 9, 30)):
            continue
        rep = leads.get(deal["lead_id"]) or deal["owner_id"]
        dept = next(
            (
                a["department"]
                for a in sorted(assignments, key=lambda a: a["valid_from"], reverse=True)
                if a["rep_id"] == rep
                and a["valid_from"] <= day
                and (a["valid_to"] is None or day <= a["valid_to"])
            ),
            None,
        )
        want[dept] = want.get(dept, 0) + 1
    assert {k: v for k, v in by_dept.items() if v} == want
    assert (by_dept.get("inside_sales") or 0) > 0.8 * company
    # Won deals stay field sales' result.
    won = {
        dict(r.segment)["department"]: r.actual
        for r in status.select(node="won_deals", period="2025-09", level=("department",))
    }
    assert (won.get("inside_sales") or 0) == 0 and (won.get("field_sales") or 0) > 0
