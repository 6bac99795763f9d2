"""Scores kept per day: a kept day equals its recomputation, many days at once
equal each day alone, a data change makes a new store; metrics of target
accounts read the membership of each fact's day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project
from kpitree.abm import score_accounts
from kpitree.abm.daily import DailyScores, daily_scores, scores_of_day

from .company import TABLES, at

ZONE = "Asia/Tokyo"
AS_OF = dt.date(2026, 6, 30)

DEFINITION = """\
kpitree: 1
name: abm daily
timezone: Asia/Tokyo
period: month
nodes:
  revenue: {kind: kgi, unit: currency, metric: revenue}
  target_pipeline_created: {unit: currency, metric: target_pipeline_created}
  target_opportunities: {unit: count, metric: target_opportunities}
  target_accounts: {unit: count, metric: target_accounts}
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands: [{min: 1000, points: 30}, {min: 100, max: 1000, points: 10}]
    engagement:
      max_points: 40
      window_days: 20
      decay: linear
      signals:
        - {activity: meeting, points: 15, cap: 30}
        - {activity: web_visit, points: 1.5}
  tiers: {A: 45, B: 20}
  targets: {tiers: [A], file: targets.csv}
"""

# BETA joins the list in the middle of June; ALPHA is on it all along.
LIST = "会社名,from\nアルファ,\nベータ,2026-06-16\n"


def _company() -> dict[str, list[dict[str, Any]]]:
    acts = []
    for k, (account, kind, day) in enumerate(
        [
            ("GAMMA", "meeting", dt.date(2026, 6, 1)),
            ("GAMMA", "meeting", dt.date(2026, 6, 3)),
            ("GAMMA", "web_visit", dt.date(2026, 6, 3)),
            ("DELTA", "meeting", dt.date(2026, 6, 21)),
            ("DELTA", "web_visit", dt.date(2026, 6, 29)),
            ("BETA", "web_visit", dt.date(2026, 6, 10)),
        ]
    ):
        acts.append({"activity_id": f"X{k}", "type": kind, "account_id": account,
                     "occurred_at": at(day, hour=k % 23)})  # fmt: skip
    return {
        "accounts": [
            {"account_id": "ALPHA", "name": "アルファ株式会社", "employees": 300,
             "created_at": at(dt.date(2026, 1, 5))},
            {"account_id": "BETA", "name": "ベータ", "employees": 50,
             "created_at": at(dt.date(2026, 1, 5))},
            {"account_id": "GAMMA", "name": "ガンマ", "employees": 5000,
             "created_at": at(dt.date(2026, 1, 5))},
            {"account_id": "DELTA", "name": "デルタ", "employees": 2000,
             "created_at": at(dt.date(2026, 6, 20))},
        ],
        "activities": acts,
        "deals": [
            # BETA before it is on the list, then after.
            {"deal_id": "D1", "account_id": "BETA", "created_at": at(dt.date(2026, 6, 5)),
             "status": "open", "amount": 100.0},
            {"deal_id": "D2", "account_id": "BETA", "created_at": at(dt.date(2026, 6, 20)),
             "status": "open", "amount": 1000.0},
            {"deal_id": "D3", "account_id": "ALPHA", "created_at": at(dt.date(2026, 6, 10)),
             "status": "open", "amount": 10.0},
            # GAMMA is tier A from 06-01 to about 06-13 (its meetings decay), not on the 30th.
            {"deal_id": "D4", "account_id": "GAMMA", "created_at": at(dt.date(2026, 6, 4)),
             "status": "open", "amount": 20000.0},
            {"deal_id": "D5", "account_id": "GAMMA", "created_at": at(dt.date(2026, 6, 25)),
             "status": "open", "amount": 300000.0},
        ],
    }  # fmt: skip


def _project(folder: Path, company: dict[str, list[dict[str, Any]]]) -> Project:
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    (folder / "targets.csv").write_text(LIST, encoding="utf-8")
    _load(folder, company, "abm")
    return Project.load(folder)


def _load(folder: Path, company: dict[str, list[dict[str, Any]]], label: str) -> None:
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse

    arrow = {}
    for name in TABLES:
        schema = arrow_schema(name)
        rows = [{c: r.get(c) for c in schema.names} for r in company.get(name, [])]
        arrow[name] = pa.Table.from_pylist(rows, schema=schema)
    Warehouse(folder / ".kpitree" / "warehouse.duckdb").bulk_load(arrow, label=label)


def _same(a: Any, b: Any) -> None:
    """Two Scores equal exactly (no tolerance)."""
    assert [x.account_id for x in a.accounts] == [x.account_id for x in b.accounts]
    for x, y in zip(a.accounts, b.accounts, strict=True):
        assert (x.score, x.tier, dict(x.points), x.missing, dict(x.signals)) == (
            y.score,
            y.tier,
            dict(y.points),
            y.missing,
            dict(y.signals),
        ), x.account_id


def test_a_kept_day_equals_its_recomputation(tmp_path: Path) -> None:
    project = _project(tmp_path, _company())
    abm = project.tree.abm
    assert abm is not None
    past = dt.date(2026, 6, 12)
    project.accounts(as_of=AS_OF, compared_with=past)
    kept = list((tmp_path / ".kpitree" / "cache" / "abm").glob("daily-*.parquet"))
    assert len(kept) == 1
    with project.engine() as engine:
        store = engine.abm_scores
        assert isinstance(store, DailyScores) and store.path == kept[0]
        rows = store._load()  # read from the file, computed by the earlier process
        assert rows is not None and set(rows.column("day").to_pylist()) == {past, AS_OF}
        for day in (past, AS_OF):
            _same(scores_of_day(abm, rows, day), score_accounts(engine, abm, day))
        gamma = store.scores(past).by_id()["GAMMA"]
        # 30 for size; meetings of 06-01 and 06-03 at ages 11 and 9 of 20 days
        # (linear decay), a visit at age 9: 15*(9/20) + 15*(11/20) + 1.5*(11/20).
        assert gamma.points["engagement"] == pytest.approx(15.825)
        assert gamma.tier == "A"


def test_many_days_at_once_equal_each_day_alone(tmp_path: Path) -> None:
    project = _project(tmp_path, _company())
    abm = project.tree.abm
    assert abm is not None
    june = [dt.date(2026, 6, 1) + dt.timedelta(days=i) for i in range(30)]
    with project.engine() as engine:
        rows = daily_scores(engine, abm, june)
        for day in june:
            _same(scores_of_day(abm, rows, day), score_accounts(engine, abm, day))
    # DELTA exists from the 20th only.
    ids = {(r["day"], r["account_id"]) for r in rows.select(["day", "account_id"]).to_pylist()}
    assert (dt.date(2026, 6, 19), "DELTA") not in ids
    assert (dt.date(2026, 6, 20), "DELTA") in ids


def test_new_data_makes_a_new_store(tmp_path: Path) -> None:
    company = _company()
    project = _project(tmp_path, company)
    project.accounts(as_of=AS_OF)
    folder = tmp_path / ".kpitree" / "cache" / "abm"
    (first,) = folder.glob("daily-*.parquet")
    meeting = {"activity_id": "NEW", "type": "meeting", "account_id": "BETA"}
    company["activities"].append({**meeting, "occurred_at": at(AS_OF, hour=1)})
    _load(tmp_path, company, "abm again")
    overview = project.accounts(as_of=AS_OF)
    (second,) = folder.glob("daily-*.parquet")
    assert second != first
    beta = next(r for r in overview.rows if r.score.account_id == "BETA")
    assert beta.score.points["engagement"] == 15.0  # the visit of 06-10 is 20 days old


def test_target_metrics_read_the_membership_of_the_facts_day(tmp_path: Path) -> None:
    project = _project(tmp_path, _company())
    abm = project.tree.abm
    assert abm is not None
    with project.engine() as engine:
        store = engine.abm_scores
        june = [dt.date(2026, 6, 1) + dt.timedelta(days=i) for i in range(30)]
        members = {
            day: {r["account_id"] for r in store.rows([day]).to_pylist() if r["target_account"]}
            for day in june
        }
    # Independent count: each deal counts when its account is a target on its day.
    deals = _company()["deals"]
    want = [d for d in deals if d["account_id"] in members[d["created_at"].date()]]
    assert {d["deal_id"] for d in want} == {"D2", "D3", "D4"}  # BETA's D1 came before the list
    result = project.status("2026-06", as_of=AS_OF, explain=False, compare=False)
    got = {r.node: r.actual for r in result.rows if not r.segment}
    assert got["target_pipeline_created"] == pytest.approx(sum(d["amount"] for d in want))
    assert got["target_opportunities"] == len(want)
    assert got["target_accounts"] == len(members[AS_OF]) == 2  # ALPHA, BETA on the 30th


def _generated(seed: int) -> dict[str, list[dict[str, Any]]]:
    """A company with activities on every day of May and June (so every age
    of the 20-day window, its first and last day and the day after it, is
    hit on some day of June), some accounts created within June and one
    without employees."""
    import random

    rnd = random.Random(seed)
    names = {"ALPHA": "アルファ株式会社", "BETA": "ベータ"}
    accounts = []
    for k in range(10):
        account = ["ALPHA", "BETA"][k] if k < 2 else f"ACC{k}"
        created = (
            dt.date(2026, 1, 5) if k < 7 else dt.date(2026, 6, 1) + dt.timedelta(days=7 * k - 45)
        )
        accounts.append({"account_id": account, "name": names.get(account, account),
                         "employees": None if k == 3 else rnd.choice([50, 300, 2000]),
                         "created_at": at(created)})  # fmt: skip
    acts = []
    start = dt.date(2026, 5, 1)
    for i in range(61):
        for _ in range(rnd.randint(0, 3)):
            day = start + dt.timedelta(days=i)
            acts.append(
                {
                    "activity_id": f"G{len(acts)}",
                    "account_id": rnd.choice(accounts)["account_id"],
                    "type": rnd.choice(["meeting", "web_visit", "web_visit"]),
                    "occurred_at": at(day, hour=rnd.randint(0, 23)),
                }
            )
    return {"accounts": accounts, "activities": acts}


@pytest.mark.parametrize("seed", [1, 2])
def test_every_day_at_once_equals_the_scoring_of_each_day(tmp_path: Path, seed: int) -> None:
    from kpitree.abm.scoring import tier_of

    from .company import expected_scores

    company = _generated(seed)
    project = _project(tmp_path, company)
    abm = project.tree.abm
    assert abm is not None and abm.targets is not None
    june = [dt.date(2026, 6, 1) + dt.timedelta(days=i) for i in range(30)]
    with project.engine() as engine:
        entries, matched = engine.abm_scores.list_rows()
        rows = daily_scores(engine, abm, june, entries, matched)
        per_day = {day: score_accounts(engine, abm, day) for day in june}
    listed = {(a, d) for e in entries for a in matched[e.row] for d in june if e.on_list(d)}
    assert ("BETA", dt.date(2026, 6, 15)) not in listed and ("BETA", AS_OF) in listed
    assert set(rows.column("tier").to_pylist()) == {"A", "B", None}
    assert set(rows.column("target_account").to_pylist()) == {True, False}
    for day in june:
        _same(scores_of_day(abm, rows, day), per_day[day])
        want = expected_scores(company, abm, day, ZONE)  # plain Python, no SQL
        got = [r for r in rows.to_pylist() if r["day"] == day]
        assert {r["account_id"] for r in got} == set(want)
        for r in got:
            w = want[r["account_id"]]
            assert r["score"] == pytest.approx(w["score"], abs=1e-9)
            assert r["engagement"] == pytest.approx(w["points"]["engagement"], abs=1e-9)
            assert r["tier"] == tier_of(abm, r["score"]) == w["tier"]
            assert r["by_tier"] == (r["tier"] in abm.targets.tiers)
            assert r["by_list"] == ((r["account_id"], day) in listed)
            assert r["target_account"] == (r["by_tier"] or r["by_list"])
