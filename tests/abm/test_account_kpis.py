"""Account-level KPIs as metrics of the tree equal an independent count in
plain Python over generated companies: target accounts, engagement, pipeline
contribution, opportunity and win rates of target vs other accounts, renewal
rate and NRR of target accounts, coverage."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project
from kpitree.errors import UserError

from .company import TABLES, Company, at, expected_scores

AS_OF = dt.date(2026, 6, 30)
JUNE = (dt.date(2026, 6, 1), dt.date(2026, 6, 30))
ZONE = "Asia/Tokyo"

METRICS = {
    "target_accounts": "count",
    "engaged_target_accounts": "count",
    "target_account_coverage": "ratio",
    "target_contacts_reached": "count",
    "target_engagement_score": "score",
    "target_opportunities": "count",
    "target_pipeline_created": "currency",
    "target_open_pipeline": "currency",
    "target_revenue": "currency",
    "target_win_rate": "ratio",
    "other_win_rate": "ratio",
    "target_opportunity_rate": "ratio",
    "other_opportunity_rate": "ratio",
    "target_renewal_rate": "ratio",
    "target_nrr": "ratio",
}

DEFINITION = (
    """\
kpitree: 1
name: abm kpis
timezone: Asia/Tokyo
period: month
nodes:
  revenue: {kind: kgi, unit: currency, metric: revenue}
"""
    + "".join(f"  {m}: {{unit: {u}, metric: {m}}}\n" for m, u in METRICS.items())
    + """\
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands: [{min: 1000, points: 30}, {min: 100, max: 1000, points: 15}]
    engagement:
      max_points: 30
      window_days: 60
      decay: linear
      signals:
        - {activity: meeting, points: 10, cap: 20}
        - {activity: web_visit, points: 2, cap: 10}
  tiers: {A: 40, B: 25}
  targets: {tiers: [A], file: targets.csv}
"""
)

LIST = "会社名\nリスト商事\n"


def _company(seed: int) -> Company:
    rng = random.Random(seed)
    accounts = []
    for i in range(12):
        accounts.append(
            {
                "account_id": f"A{i}",
                "name": "リスト商事株式会社" if i == 0 else f"会社{i}",
                "employees": rng.choice([None, 50, 300, 2000]),
                "created_at": at(AS_OF - dt.timedelta(days=rng.randint(-5, 400))),
            }
        )
    ids = [a["account_id"] for a in accounts] + [None]
    leads, lead_hist, acts, deals, contracts = [], [], [], [], []
    for k in range(40):
        account = rng.choice(ids)
        leads.append({"lead_id": f"L{k}", "created_at": at(dt.date(2026, 1, 5)),
                      "account_id": account})  # fmt: skip
        if rng.random() < 0.7:
            mql = dt.date(2026, 4, 1) + dt.timedelta(days=rng.randint(0, 100))
            lead_hist.append({"lead_id": f"L{k}", "stage": "mql", "entered_at": at(mql)})
            if rng.random() < 0.5:
                opp = mql + dt.timedelta(days=rng.randint(0, 120))
                lead_hist.append({"lead_id": f"L{k}", "stage": "opportunity",
                                  "entered_at": at(opp)})  # fmt: skip
    for k in range(80):
        day = dt.date(2026, 4, 20) + dt.timedelta(days=rng.randint(0, 75))
        acts.append({"activity_id": f"X{k}", "type": rng.choice(["meeting", "web_visit", "call"]),
                     "occurred_at": at(day, hour=rng.randint(0, 23)), "account_id": rng.choice(ids),
                     "lead_id": rng.choice([None, *(f"L{j}" for j in range(40))])})  # fmt: skip
    for k in range(40):
        created = dt.date(2026, 3, 1) + dt.timedelta(days=rng.randint(0, 120))
        status = rng.choice(["open", "won", "lost"])
        close = created + dt.timedelta(days=rng.randint(0, 60))
        deals.append({"deal_id": f"D{k}", "account_id": rng.choice(ids), "created_at": at(created),
                      "status": status, "close_date": close,
                      "amount": rng.choice([None, 100000.0, 250000.0, 1200000.0])})  # fmt: skip
    for k in range(20):
        end = dt.date(2026, 5, 15) + dt.timedelta(days=rng.randint(0, 60))
        status = rng.choice(["renewed", "churned", "active"])
        account = rng.choice(ids[:-1])
        contracts.append({"contract_id": f"C{k}", "account_id": account,
                          "start_date": end - dt.timedelta(days=364), "end_date": end,
                          "mrr": rng.choice([10000.0, 30000.0]), "status": status})  # fmt: skip
        if status == "renewed":
            mrr = rng.choice([10000.0, 45000.0])
            contracts.append({"contract_id": f"C{k}r", "account_id": account,
                              "start_date": end + dt.timedelta(days=1), "mrr": mrr,
                              "status": "active", "renewed_from": f"C{k}"})  # fmt: skip
    return {"accounts": accounts, "leads": leads, "lead_stage_history": lead_hist,
            "activities": acts, "deals": deals, "deal_stage_history": [],
            "contracts": contracts}  # fmt: skip


def _in(day: dt.date) -> bool:
    return JUNE[0] <= day <= JUNE[1]


def _local(at_: dt.datetime) -> dt.date:
    from zoneinfo import ZoneInfo

    return at_.astimezone(ZoneInfo(ZONE)).date()


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _expected(company: Company, abm: Any) -> dict[str, float | None]:
    # Membership on each fact's day: tier A that day, or on the list (A0) once created.
    on_day: dict[dt.date, set[str]] = {}

    def targets(day: dt.date) -> set[str]:
        if day not in on_day:
            scores = expected_scores(company, abm, min(day, AS_OF), ZONE)
            listed = {"A0"} if "A0" in scores else set()
            on_day[day] = {a for a, s in scores.items() if s["tier"] == "A"} | listed
        return on_day[day]

    def target(account: str | None, day: dt.date) -> bool:
        return account in targets(day)

    end_scores = expected_scores(company, abm, JUNE[1], ZONE)
    eng = {a: s["points"]["engagement"] for a, s in end_scores.items()}
    # An activity's account: its own, else its lead's.
    of_lead = {r["lead_id"]: r["account_id"] for r in company["leads"]}
    acts = [
        {**x, "account_id": x["account_id"] or of_lead.get(x["lead_id"])}
        for x in company["activities"]
        if _in(_local(x["occurred_at"]))
    ]
    engaged = {x["account_id"] for x in acts if target(x["account_id"], _local(x["occurred_at"]))}
    contacts = {
        x["lead_id"]
        for x in acts
        if target(x["account_id"], _local(x["occurred_at"])) and x["lead_id"]
    }
    deals = company["deals"]
    created = [
        d for d in deals
        if _in(_local(d["created_at"])) and target(d["account_id"], _local(d["created_at"]))
    ]  # fmt: skip
    amounts = [d["amount"] for d in created if d["amount"] is not None]
    open_end = [
        d["amount"] for d in deals
        if target(d["account_id"], JUNE[1]) and _local(d["created_at"]) <= JUNE[1]
        and (d["status"] == "open" or d["close_date"] > JUNE[1]) and d["amount"] is not None
    ]  # fmt: skip

    def closed(status: str, wanted: bool) -> int:
        return sum(1 for d in deals if d["status"] == status and _in(d["close_date"])
                   and target(d["account_id"], d["close_date"]) == wanted)  # fmt: skip

    won_amount = [d["amount"] for d in deals if d["status"] == "won" and _in(d["close_date"])
                  and target(d["account_id"], d["close_date"])
                  and d["amount"] is not None]  # fmt: skip

    def opp_rate(wanted: bool) -> float | None:
        account = {lead["lead_id"]: lead["account_id"] for lead in company["leads"]}
        first: dict[tuple[str, str], dt.date] = {}
        for h in company["lead_stage_history"]:
            key = (h["lead_id"], h["stage"])
            day = _local(h["entered_at"])
            first[key] = min(first.get(key, day), day)
        cohort = [lid for (lid, st), day in first.items()
                  if st == "mql" and _in(day) and target(account[lid], day) == wanted]  # fmt: skip
        conv = [
            lid for lid in cohort
            if (lid, "opportunity") in first
            and first[(lid, "mql")] <= first[(lid, "opportunity")]
            <= min(first[(lid, "mql")] + dt.timedelta(days=90), AS_OF)
        ]  # fmt: skip
        return _ratio(len(conv), len(cohort))

    due = [c for c in company["contracts"] if c["status"] in ("renewed", "churned")
           and _in(c["end_date"]) and target(c["account_id"], c["end_date"])]  # fmt: skip
    after = {}
    for c in company["contracts"]:
        if c.get("renewed_from"):
            after[c["renewed_from"]] = after.get(c["renewed_from"], 0.0) + c["mrr"]
    renewed_mrr = sum(after.get(c["contract_id"], 0.0) for c in due if c["status"] == "renewed")
    existing = sorted(targets(JUNE[1]))
    return {
        "target_accounts": len(existing),
        "engaged_target_accounts": len(engaged),
        "target_account_coverage": _ratio(len(engaged), len(existing)),
        "target_contacts_reached": len(contacts),
        "target_engagement_score": _ratio(sum(eng[a] for a in existing), len(existing)),
        "target_opportunities": len(created),
        "target_pipeline_created": sum(amounts) if amounts else None,
        "target_open_pipeline": sum(open_end) if open_end else None,
        "target_revenue": sum(won_amount) if won_amount else None,
        "target_win_rate": _ratio(closed("won", True), closed("won", True) + closed("lost", True)),
        "other_win_rate": _ratio(
            closed("won", False), closed("won", False) + closed("lost", False)
        ),
        "target_opportunity_rate": opp_rate(True),
        "other_opportunity_rate": opp_rate(False),
        "target_renewal_rate": _ratio(sum(c["status"] == "renewed" for c in due), len(due)),
        "target_nrr": _ratio(renewed_mrr, sum(c["mrr"] for c in due)),
    }


def _project(folder: Path, company: Company) -> Project:
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse

    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    (folder / "targets.csv").write_text(LIST, encoding="utf-8")
    arrow = {}
    for name in (*TABLES, "contracts"):
        schema = arrow_schema(name)
        rows = [{c: r.get(c) for c in schema.names} for r in company.get(name, [])]
        arrow[name] = pa.Table.from_pylist(rows, schema=schema)
    Warehouse(folder / ".kpitree" / "warehouse.duckdb").bulk_load(arrow, label="abm")
    return Project.load(folder)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_account_kpis_equal_an_independent_count(tmp_path: Path, seed: int) -> None:
    company = _company(seed)
    project = _project(tmp_path, company)
    assert project.tree.abm is not None
    want = _expected(company, project.tree.abm)
    result = project.status("2026-06", as_of=AS_OF, explain=False, compare=False)
    got = {r.node: r.actual for r in result.rows if not r.segment}
    for metric in METRICS:
        if want[metric] is None:
            assert got[metric] in (None, 0), metric
        else:
            assert got[metric] == pytest.approx(want[metric]), metric
    assert want["target_accounts"] and want["engaged_target_accounts"]  # the test can fail


def test_a_metric_on_target_accounts_needs_abm(tmp_path: Path) -> None:
    text = DEFINITION.split("abm:")[0]
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    company = _company(1)
    _project(tmp_path, company)
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    project = Project.load(tmp_path)
    with pytest.raises(UserError) as caught:
        project.status("2026-06", as_of=AS_OF, explain=False, compare=False)
    diag = caught.value.diagnostics[0]
    assert diag.code == "KT263"
    assert "abm:" in diag.message("en")
