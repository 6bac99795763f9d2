"""Scorecards add up under every credit rule.

Generated companies (a few seeds): reps in two departments and three teams, one
rep moving team in the middle of the month, leads with or without an owner, and
deals with or without a lead, an owner, an ``sdr`` kept in ``attributes``. Each
KPI counts the same deals under another credit rule (the deal's owner, the
owner of its lead, the rep in ``attributes.sdr``, the rep in a plain column).
Every card's actual, target and achievement are checked against a count done
here from the generated rows and the plan's shares; the reps' cards add up to
their team's and the teams' to their department's.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project
from kpitree.review.scorecard import scorecards

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

UTC = dt.UTC
PERIOD = "2026-05"
MAY = (dt.date(2026, 5, 1), dt.date(2026, 5, 31))
AS_OF = dt.date(2026, 6, 10)
MONTHLY = 40
# KPI id -> (credit rule, owning department)
KPIS = {
    "opps_owner": ("owner", "field_sales"),
    "opps_lead": ("lead_owner", "inside_sales"),
    "opps_sdr": ("attributes.sdr", "inside_sales"),
    "opps_column": ("owner_id", "field_sales"),
}
# department -> team -> (team share, {rep: share})
ORGANISATION: dict[str, dict[str, tuple[float, dict[str, float]]]] = {
    "inside_sales": {"north": (0.6, {"r0": 0.5, "r1": 0.5}), "south": (0.4, {"r2": 1.0})},
    "field_sales": {"east": (1.0, {"r3": 0.7, "r4": 0.3})},
}
HOME = {
    rep: (d, t) for d, teams in ORGANISATION.items() for t, (_, r) in teams.items() for rep in r
}
MOVER, MOVE_DAY = "r1", dt.date(2026, 5, 16)  # north -> south on that day

DEFINITION = (
    """\
kpitree: 1
name: Credit scorecards
fiscal_year_start: 4
period: month
timezone: UTC
nodes:
  deals_total:
    kind: kgi
    unit: count
    metric: opps_owner
"""
    + "".join(
        f"  {kpi}: {{kind: kpi, unit: count, owner: {dept}, metric: {kpi},"
        f" target: {{monthly: {MONTHLY}}}}}\n"
        for kpi, (_, dept) in KPIS.items()
    )
    + "metrics:\n"
    + "".join(
        f"  {kpi}: {{type: count, entity: deals, time: created_at, credit: {rule}}}\n"
        for kpi, (rule, _) in KPIS.items()
    )
    + "organisation:\n"
    + "".join(
        f"  {dept}:\n    teams:\n"
        + "".join(
            f"      {team}: {{share: {share}, reps: {json.dumps(reps)}}}\n"
            for team, (share, reps) in teams.items()
        )
        for dept, teams in ORGANISATION.items()
    )
)


def _generate(seed: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    reps = sorted(HOME)
    assignments = []
    for rep, (dept, team) in HOME.items():
        if rep == MOVER:
            assignments.append(
                {"rep_id": rep, "valid_from": dt.date(2026, 1, 1),
                 "valid_to": MOVE_DAY - dt.timedelta(days=1), "department": dept, "team": team}
            )  # fmt: skip
            assignments.append(
                {"rep_id": rep, "valid_from": MOVE_DAY, "department": dept, "team": "south"}
            )
        else:
            assignments.append(
                {"rep_id": rep, "valid_from": dt.date(2026, 1, 1), "department": dept, "team": team}
            )

    def some_rep(empty: float) -> str | None:
        return None if rng.random() < empty else rng.choice(reps)

    leads = [
        {"lead_id": f"L{i}", "created_at": dt.datetime(2026, 4, 1, 9, tzinfo=UTC),
         "owner_id": some_rep(0.2)}
        for i in range(30)
    ]  # fmt: skip
    deals = []
    for i in range(rng.randint(120, 200)):
        lead = None if rng.random() < 0.25 else rng.choice(leads)["lead_id"]
        sdr = some_rep(0.4)
        day = dt.date(2026, 4, 20) + dt.timedelta(days=rng.randint(0, 55))  # April to June
        deals.append(
            {
                "deal_id": f"D{i}",
                "lead_id": lead,
                "owner_id": some_rep(0.1),
                "created_at": dt.datetime.combine(day, dt.time(rng.randint(0, 23)), UTC),
                "status": "open",
                "attributes": json.dumps({} if sdr is None else {"sdr": sdr}),
            }
        )
    return {
        "reps": [{"rep_id": r, "name": r} for r in reps],
        "rep_assignments": assignments,
        "leads": leads,
        "deals": deals,
    }


def _build(folder: Path, company: dict[str, list[dict[str, Any]]]) -> Project:
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse, warehouse_path

    folder.mkdir(parents=True)
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    tables = {}
    for name, rows in company.items():
        schema = arrow_schema(name)
        tables[name] = pa.Table.from_pylist(
            [{c: r.get(c) for c in schema.names} for r in rows], schema=schema
        )
    Warehouse(warehouse_path(folder, None)).bulk_load(tables, label="credit")  # type: ignore[arg-type]
    return Project.load(folder)


def _credited(company: dict[str, list[dict[str, Any]]], rule: str, deal: dict[str, Any]) -> Any:
    """The rep a deal counts for, written out from the rule's documentation."""
    if rule == "lead_owner":
        owners = {lead["lead_id"]: lead["owner_id"] for lead in company["leads"]}
        return owners.get(deal["lead_id"]) or deal["owner_id"]
    if rule.startswith("attributes."):
        return (
            json.loads(deal["attributes"]).get(rule.removeprefix("attributes.")) or deal["owner_id"]
        )
    return deal["owner_id"]  # owner, and the plain column owner_id


def _place(rep: str | None, day: dt.date) -> tuple[str, str] | None:
    """(department, team) of ``rep`` on ``day``: the mover is in south from MOVE_DAY."""
    if rep is None:
        return None
    dept, team = HOME[rep]
    return (dept, "south") if rep == MOVER and day >= MOVE_DAY else (dept, team)


def _expected(company: dict[str, list[dict[str, Any]]], rule: str) -> dict[tuple[str, ...], int]:
    """Counts per (department,), (department, team) and (department, team, rep)."""
    out: dict[tuple[str, ...], int] = {}
    for deal in company["deals"]:
        day = deal["created_at"].date()
        if not MAY[0] <= day <= MAY[1]:
            continue
        rep = _credited(company, rule, deal)
        place = _place(rep, day)
        if place is None:
            continue
        for key in (place[:1], place, (*place, rep)):
            out[key] = out.get(key, 0) + 1
    return out


def _target(key: tuple[str, ...]) -> float | None:
    """The plan's target of a department, team or rep: the monthly target split
    by the organisation's shares (a rep the plan does not place in that team has none)."""
    if len(key) == 1:
        return MONTHLY
    share, reps = ORGANISATION[key[0]][key[1]]
    if len(key) == 2:
        return MONTHLY * share
    return MONTHLY * share * reps[key[2]] if key[2] in reps else None


def _cards(found: dict[str, Any]) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    out = {}
    for card in found["cards"]:
        seg = card["segment"]
        key = tuple(seg[k] for k in ("department", "team", "rep") if k in seg)
        for k in card["kpis"]:
            out[(key, k["node"])] = k
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cards_match_a_count_of_the_rows_under_every_credit_rule(tmp_path: Path, seed: int) -> None:
    company = _generate(seed)
    project = _build(tmp_path / "company", company)
    found = {
        by: _cards(scorecards(project, PERIOD, by, "en", AS_OF))
        for by in ("department", "team", "rep")
    }
    checked = credited = 0
    for kpi, (rule, owner) in KPIS.items():
        want = _expected(company, rule)
        assert want, (kpi, seed)
        for by, size in (("department", 1), ("team", 2), ("rep", 3)):
            got = {key: k for (key, node), k in found[by].items() if node == kpi}
            # The owning department's cards, and where an explicit credit rule
            # credits facts to another department's reps, theirs too.
            mine = {
                key: n
                for key, n in want.items()
                if len(key) == size and (key[0] == owner or rule != "owner")
            }
            assert {key: k["actual"] for key, k in got.items() if k["actual"]} == pytest.approx(
                mine
            ), (kpi, by, rule)
            for key, k in got.items():
                target = _target(key) if key[0] == owner else None  # the plan's are the owner's
                assert k["target"] == pytest.approx(target), (kpi, key)
                if target and k["actual"] is not None:
                    assert k["achievement"] == pytest.approx(k["actual"] / target)
                    assert k["volume"] == pytest.approx(k["actual"])
                    checked += 1
                if key[0] != owner:
                    assert k["achievement"] is None and k["score"] is None
                    credited += 1
        # Reps add up to their team, teams to their department (cards' own numbers).
        for finer, coarser in (("rep", "team"), ("team", "department")):
            sums: dict[tuple[str, ...], float] = {}
            for (key, node), k in found[finer].items():
                if node == kpi:
                    sums[key[:-1]] = sums.get(key[:-1], 0.0) + (k["actual"] or 0)
            whole = {
                key: k["actual"] or 0 for (key, node), k in found[coarser].items() if node == kpi
            }
            assert sums == pytest.approx(whole), (kpi, finer)
    assert checked > 10 and credited > 3
    # The rules differ on these rows, so the test tells them apart.
    counts = {kpi: _expected(company, rule) for kpi, (rule, _) in KPIS.items()}
    assert counts["opps_lead"] != counts["opps_sdr"]
