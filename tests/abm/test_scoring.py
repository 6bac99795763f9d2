"""Account scores for an as-of day: a company whose scores are known by
construction (window boundaries, caps, missing firmographics, decay), and
random companies compared with an independent computation in plain Python."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitree.abm import score_accounts
from kpitree.engines import open_engine

from .company import Company, abm_spec, at, expected_scores, load

AS_OF = dt.date(2026, 6, 30)
ZONE = "Asia/Tokyo"

MODEL = """\
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands:
        - {min: 1000, points: 30}
        - {min: 300, max: 1000, points: 20}
        - {min: 100, max: 300, points: 10}
    industry:
      field: industry
      match: jsic
      max_points: 25
      values: {"39": 25, G: 15, E: 20}
    region:
      field: region
      max_points: 5
      values: {関東: 5}
    budget:
      field: attributes.it_budget
      max_points: 10
      bands: [{min: 100000000, points: 10}]
    engagement:
      max_points: 40
      window_days: 30
      signals:
        - {activity: meeting, points: 10, cap: 20}
        - {activity: web_visit, points: 1, cap: 5}
        - {lead_stage: mql, points: 5}
        - {deal_stage: proposal, points: 8}
    downloads:
      max_points: 20
      window_days: 10
      decay: half_life
      half_life_days: 5
      signals:
        - {activity: download, points: 8}
  tiers: {A: 70, B: 50, C: 30}
"""


def ago(days: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days)


def _company() -> Company:
    acts: list[dict[str, Any]] = []

    def act(account: str, kind: str, day: dt.date, hour: int = 3) -> None:
        acts.append(
            {"activity_id": f"X{len(acts)}", "type": kind, "occurred_at": at(day, hour),
             "account_id": account}
        )  # fmt: skip

    # ACME: a meeting on the window's first day counts, one the day before it
    # does not, nor one at 00:30 on the day after the as-of day in Tokyo
    # (15:30 UTC on the as-of day); 7 web visits are capped at 5 points.
    act("ACME", "meeting", ago(29))
    act("ACME", "meeting", ago(30))
    act("ACME", "meeting", AS_OF, hour=15)
    for i in range(7):
        act("ACME", "web_visit", ago(i))
    act("ACME", "download", ago(5))  # half of 8 after one half-life
    act("ACME", "download", ago(10))  # outside a 10-day window
    # GAMMA: five meetings today, capped at 20.
    for _ in range(5):
        act("GAMMA", "meeting", AS_OF)
    # EPS: everything over its cap; the criterion is held to 40.
    for i in range(2):
        act("EPS", "meeting", ago(i))
    for i in range(10):
        act("EPS", "web_visit", ago(i))
    leads = [
        {"lead_id": "L1", "created_at": at(ago(60)), "account_id": "ACME"},
        {"lead_id": "L2", "created_at": at(ago(60)), "account_id": "GAMMA"},
        *({"lead_id": f"LE{i}", "created_at": at(ago(60)), "account_id": "EPS"} for i in range(3)),
    ]
    lead_hist = [
        {"lead_id": "L1", "stage": "mql", "entered_at": at(ago(3))},
        # L2 first became an MQL before the window: its re-entry does not count.
        {"lead_id": "L2", "stage": "mql", "entered_at": at(ago(40))},
        {"lead_id": "L2", "stage": "mql", "entered_at": at(ago(3))},
        *({"lead_id": f"LE{i}", "stage": "mql", "entered_at": at(ago(1))} for i in range(3)),
    ]
    deals = [
        {"deal_id": "D1", "account_id": "ACME", "created_at": at(ago(20)), "status": "open"},
        {"deal_id": "D2", "account_id": "GAMMA", "created_at": at(ago(20)), "status": "open"},
        *({"deal_id": f"DE{i}", "account_id": "EPS", "created_at": at(ago(20)), "status": "open"}
          for i in range(2)),
    ]  # fmt: skip
    deal_hist = [
        {"deal_id": "D1", "stage": "proposal", "entered_at": at(ago(2))},
        {"deal_id": "D2", "stage": "proposal", "entered_at": at(ago(2))},
        *({"deal_id": f"DE{i}", "stage": "proposal", "entered_at": at(ago(2))} for i in range(2)),
    ]
    accounts = [
        {"account_id": "ACME", "name": "アクメ", "employees": 1500, "industry": "3911",
         "region": "関東", "attributes": json.dumps({"it_budget": 200000000})},
        # BETA: no employees, no region, no budget: missing, not small.
        {"account_id": "BETA", "name": "ベータ", "industry": "E2911"},
        # GAMMA: 300 employees is in the band starting at 300; a text that is no code.
        {"account_id": "GAMMA", "employees": 300, "industry": "情報通信業", "region": "関西",
         "attributes": json.dumps({"it_budget": "unknown"})},
        # DELTA is created after the as-of day (in Tokyo): not scored yet.
        {"account_id": "DELTA", "employees": 5000, "created_at": at(AS_OF, hour=16)},
        {"account_id": "EPS", "employees": 100, "industry": "G", "region": "関東",
         "created_at": at(AS_OF, hour=14)},
    ]  # fmt: skip
    return {
        "accounts": accounts,
        "activities": acts,
        "leads": leads,
        "lead_stage_history": lead_hist,
        "deals": deals,
        "deal_stage_history": deal_hist,
    }


KNOWN = {
    # size, industry, region, budget, engagement, downloads -> score, tier
    "ACME": ((30, 25, 5, 10, 10 + 5 + 5 + 8, 4), "A"),
    "BETA": ((0, 20, 0, 0, 0, 0), None),
    "GAMMA": ((20, 0, 0, 0, 20 + 0 + 8, 0), "C"),
    "EPS": ((10, 15, 5, 0, 40, 0), "A"),
}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return abm_spec(tmp_path_factory.mktemp("abm"), MODEL)


def test_scores_known_by_construction(model: Any) -> None:
    with open_engine("duckdb://", timezone=ZONE) as engine:
        load(engine, _company())
        scores = score_accounts(engine, model, AS_OF).by_id()
    assert set(scores) == set(KNOWN)  # DELTA does not exist yet
    for account, (points, tier) in KNOWN.items():
        got = scores[account]
        assert tuple(got.points.values()) == pytest.approx(points), account
        assert got.score == pytest.approx(sum(points)), account
        assert got.tier == tier, account
    assert scores["BETA"].missing == {"size", "region", "budget"}
    assert scores["GAMMA"].missing == {"budget"}  # a budget that is no number
    assert scores["ACME"].missing == frozenset()
    assert scores["ACME"].signals["engagement"] == (10, 5, 5, 8)
    assert scores["EPS"].signals["engagement"] == (20, 5, 15, 16)  # 56, held to 40
    assert scores["EPS"].score == 70  # exactly the threshold of A


def test_an_earlier_day_is_recomputed_exactly(model: Any) -> None:
    """The day before, the window starts a day earlier (both of ACME's early
    meetings count) and nothing of the as-of day is there yet."""
    company = _company()
    day = ago(1)
    with open_engine("duckdb://", timezone=ZONE) as engine:
        load(engine, company)
        scores = score_accounts(engine, model, day).by_id()
    want = expected_scores(company, model, day, ZONE)
    assert set(scores) == set(want)
    for account, w in want.items():
        assert scores[account].points == pytest.approx(w["points"]), account
        assert scores[account].tier == w["tier"]
    assert "EPS" not in scores  # created on the as-of day
    # The first-day meeting (29 days before AS_OF) is 28 days old and counts;
    # the one 30 days before is 29 days old now and counts too.
    assert scores["ACME"].signals["engagement"][0] == 20


def test_the_independent_computation_agrees_on_the_constructed_company(model: Any) -> None:
    want = expected_scores(_company(), model, AS_OF, ZONE)
    for account, (points, tier) in KNOWN.items():
        assert tuple(want[account]["points"].values()) == pytest.approx(points)
        assert want[account]["tier"] == tier


DECAYING = MODEL.replace("      window_days: 30\n", "      window_days: 30\n      decay: linear\n")


_EMPLOYEES = st.one_of(st.none(), st.sampled_from([50, 100, 299, 300, 999, 1000, 4000]))
_INDUSTRY = st.one_of(st.none(), st.sampled_from(["3911", "G", "E2911", "391", " 39 ", "xx", ""]))
_REGION = st.one_of(st.none(), st.sampled_from(["関東", " 関東 ", "関西"]))
_KIND = st.sampled_from(["meeting", "web_visit", "download", "call"])


@st.composite
def companies(draw: Any) -> Company:
    n = draw(st.integers(1, 6))
    ids = [f"A{i}" for i in range(n)]
    accounts = [
        {
            "account_id": account,
            "employees": draw(_EMPLOYEES),
            "industry": draw(_INDUSTRY),
            "region": draw(_REGION),
            "created_at": at(ago(draw(st.integers(-2, 100)))),
        }
        for account in ids
    ]
    n_leads = draw(st.integers(0, 6))
    acts = [
        {
            "activity_id": f"X{k}",
            "type": draw(_KIND),
            "occurred_at": at(ago(draw(st.integers(-3, 40))), hour=draw(st.integers(0, 23))),
            "account_id": draw(st.one_of(st.none(), st.sampled_from(ids))),
            # A marketing tool's activity names only its lead (its account: the lead's).
            "lead_id": draw(st.one_of(st.none(), st.sampled_from([f"L{j}" for j in range(6)]))),
        }
        for k in range(draw(st.integers(0, 30)))
    ]
    leads, hist = [], []
    for k in range(n_leads):
        account = draw(st.sampled_from(ids))
        leads.append({"lead_id": f"L{k}", "created_at": at(ago(90)), "account_id": account})
        for _ in range(draw(st.integers(0, 2))):
            day = ago(draw(st.integers(-2, 40)))
            hist.append({"lead_id": f"L{k}", "stage": "mql", "entered_at": at(day)})
    dedup = {(h["lead_id"], h["stage"], h["entered_at"]): h for h in hist}
    return {
        "accounts": accounts,
        "activities": acts,
        "leads": leads,
        "lead_stage_history": list(dedup.values()),
    }


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(company=companies(), days_back=st.integers(0, 5))
def test_random_companies_equal_the_independent_computation(
    tmp_path_factory: pytest.TempPathFactory, company: Company, days_back: int
) -> None:
    model = _decaying(tmp_path_factory)
    day = ago(days_back)
    with open_engine("duckdb://", timezone=ZONE) as engine:
        load(engine, company)
        scores = score_accounts(engine, model, day).by_id()
    want = expected_scores(company, model, day, ZONE)
    assert set(scores) == set(want)
    for account, w in want.items():
        got = scores[account]
        assert got.points == pytest.approx(w["points"], abs=1e-9), account
        assert got.missing == w["missing"], account
        assert got.tier == w["tier"], account


_CACHE: dict[str, Any] = {}


def _decaying(factory: pytest.TempPathFactory) -> Any:
    if "model" not in _CACHE:
        _CACHE["model"] = abm_spec(Path(factory.mktemp("decay")), DECAYING)
    return _CACHE["model"]
