"""Engagement of many days in one pass (every event joined once to the days
whose window holds it, each signal summing its own rows) equals, exactly, the
scoring of each day alone by a join per signal, as the scores were computed
before: decays, caps, the window's first and last day and the day after it,
events at local midnight, an activity two signals count, activities named only
by their lead, lead and deal stage signals."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from kpitree.abm import scoring
from kpitree.compute.events import local_day
from kpitree.compute.links import activity_account, linked_reference
from kpitree.definition.spec_abm import CriterionSpec, SignalSpec
from kpitree.engines import Engine, open_engine

from .company import Company, abm_spec, expected_scores, load

ZONE = "Asia/Tokyo"
UTC = dt.UTC

MODEL = """\
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands: [{{min: 1000, points: 30}}, {{min: 100, max: 1000, points: 10}}]
    engagement:
      max_points: 45
      window_days: 9
{decay}
      signals:
        - {{activity: meeting, points: 10, cap: 20}}
        - {{activity: email, points: 1.5}}
        - {{activity: email, outcome: replied, points: 2.25, cap: 4}}
        - {{activity: web_visit, points: 0.7}}
        - {{lead_stage: mql, points: 5, cap: 10}}
        - {{deal_stage: won, points: 3.3}}
    touch:
      max_points: 7
      window_days: 3
      signals:
        - {{activity: call, outcome: connected, points: 3}}
  tiers: {{A: 50, B: 30}}
"""

DECAYS = {
    "none": "",
    "linear": "      decay: linear",
    "half_life": "      decay: half_life\n      half_life_days: 4",
}

START = dt.date(2026, 6, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(24)]


def _old_events(engine: Engine, signal: SignalSpec) -> Any:
    """``(__acc, __day)`` of one signal's events: the join per signal of the
    scoring before it took every event once."""
    if signal.activity is not None:
        a = engine.table("activities")
        a = a.filter(a.type == signal.activity)
        if signal.outcome is not None:
            a = a.filter(a.outcome == signal.outcome)
        a, acc = activity_account(engine, a)
        a = a.filter(a[acc].notnull())
        return a.select(__acc=a[acc], __day=local_day(a.occurred_at))
    kind, stage = (
        ("leads", signal.lead_stage) if signal.lead_stage else ("deals", signal.deal_stage)
    )
    key = "lead_id" if kind == "leads" else "deal_id"
    hist = engine.table(f"{kind[:-1]}_stage_history")
    hist = hist.filter(hist.stage == stage)
    first = hist.group_by(__rid=hist[key]).aggregate(__at=hist.entered_at.min())
    records, account = linked_reference(engine, kind, key, engine.table(kind), "account_id")
    records = records.filter(records[account].notnull()).select(
        __rid2=records[key], __acc=records[account].cast("string")
    )
    j = first.inner_join(records, first.__rid == records.__rid2)
    return j.select(__acc=j.__acc, __day=local_day(j.__at))


def _old_engagement(
    engine: Engine, spec: CriterionSpec, days: Sequence[dt.date], prefix: str
) -> Any:
    """The engagement of each day by a join per signal (as before)."""
    import ibis

    assert spec.signals is not None and spec.window_days is not None
    window = spec.window_days
    parts = []
    for i, signal in enumerate(spec.signals):
        ev = _old_events(engine, signal)
        d = scoring._days(days, window)
        j = d.inner_join(ev, (ev.__day <= d.__d) & (ev.__day >= d.__f))
        age = j.__d.delta(j.__day, unit="day").cast("float64")
        if spec.decay == "linear":
            weight = 1.0 - age / float(window)
        elif spec.decay == "half_life":
            assert spec.half_life_days is not None
            weight = ibis.literal(0.5) ** (age / float(spec.half_life_days))
        else:
            weight = scoring._real(1.0)
        parts.append(
            j.select(
                __acc=j.__acc,
                __gd=j.__d,
                __sig=ibis.literal(i, "int64"),
                __pts=weight * signal.points,
            )
        )
    u = ibis.union(*parts)
    sums = {f"{prefix}s{i}": u.__pts.sum(where=u.__sig == i) for i in range(len(spec.signals))}
    g = u.group_by("__acc", "__gd").aggregate(**sums)
    capped = {}
    for i, signal in enumerate(spec.signals):
        col = g[f"{prefix}s{i}"].fill_null(0.0)
        held = col if signal.cap is None else ibis.least(col, signal.cap)
        capped[f"{prefix}s{i}"] = held.cast("float64")
    return g.mutate(**capped)


def _instant(day: dt.date, rnd: random.Random) -> dt.datetime:
    """An instant of ``day`` in Tokyo, often on either side of its midnight
    (15:00 UTC) or of the day before's."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=UTC) - dt.timedelta(hours=9)
    edge = rnd.choice([dt.timedelta(0), dt.timedelta(hours=24) - dt.timedelta(microseconds=1)])
    if rnd.random() < 0.5:
        return midnight + edge
    return midnight + dt.timedelta(minutes=rnd.randint(0, 24 * 60 - 1))


def _company(seed: int) -> Company:
    rnd = random.Random(seed)
    ids = [f"A{k}" for k in range(5)]
    accounts = [
        {"account_id": a, "name": a, "employees": rnd.choice([None, 50, 300, 2000]),
         "created_at": _instant(START + dt.timedelta(days=rnd.choice([-30, -30, 5, 20])), rnd)}
        for a in ids
    ]  # fmt: skip
    leads = [
        {"lead_id": f"L{k}", "account_id": rnd.choice(ids), "created_at": _instant(START, rnd)}
        for k in range(8)
    ]
    acts, mql, deals, won = [], [], [], []
    for i in range(-12, 26):  # before the first day's window to after the last day
        day = START + dt.timedelta(days=i)
        for _ in range(rnd.randint(1, 8)):
            kind = rnd.choice(["meeting", "email", "email", "web_visit", "call"])
            outcome = {"email": ["replied", "clicked", None], "call": ["connected", "no_answer"]}
            acts.append({
                "activity_id": f"X{len(acts)}", "type": kind,
                "outcome": rnd.choice(outcome.get(kind, [None])),
                "occurred_at": _instant(day, rnd),
                # Some name only their lead: the lead's account counts them.
                "account_id": None if rnd.random() < 0.2 else rnd.choice(ids),
                "lead_id": rnd.choice([None, *[ld["lead_id"] for ld in leads]]),
            })  # fmt: skip
        if rnd.random() < 0.3:
            lead = rnd.choice(leads)["lead_id"]
            mql.append({"lead_id": lead, "stage": "mql", "entered_at": _instant(day, rnd)})
        if rnd.random() < 0.2:
            deal = f"D{len(deals)}"
            deals.append({"deal_id": deal, "account_id": rnd.choice(ids), "amount": 1.0,
                          "status": "won", "created_at": _instant(day, rnd)})  # fmt: skip
            won.append({"deal_id": deal, "stage": "won", "entered_at": _instant(day, rnd)})
    acts = [a for a in acts if a["account_id"] or a["lead_id"]]
    dedup = {(h["lead_id"], h["entered_at"]): h for h in mql}
    return {
        "accounts": accounts,
        "activities": acts,
        "leads": leads,
        "lead_stage_history": list(dedup.values()),
        "deals": deals,
        "deal_stage_history": won,
    }


def _rows(engine: Engine, expr: Any) -> list[dict[str, Any]]:
    rows = engine.execute(expr).to_pylist()
    return sorted(rows, key=lambda r: (r["day"], r["account_id"]))


@pytest.mark.parametrize(("decay", "seed"), [("none", 3), ("linear", 4), ("half_life", 5)])
def test_all_days_at_once_equal_each_day_by_a_join_per_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decay: str, seed: int
) -> None:
    abm = abm_spec(tmp_path, MODEL.format(decay=DECAYS[decay]))
    company = _company(seed)
    with open_engine("duckdb://", timezone=ZONE) as engine:
        load(engine, company)
        at_once = _rows(engine, scoring.scores_query(engine, abm, DAYS))
        monkeypatch.setattr(scoring, "_engagement", _old_engagement)
        each = [r for day in DAYS for r in _rows(engine, scoring.scores_query(engine, abm, [day]))]
    assert at_once == each  # every column, exactly
    # Not vacuous: signals reached, capped, counted by two signals, on many days.
    signals = [f"c1s{k}" for k in range(6)] + ["c2s0"]
    for column in signals:
        assert any(r[column] > 0 for r in at_once), column
    assert any(r["c1s0"] == 20 for r in at_once)  # meetings held to their cap
    assert any(r["c1s2"] == 4 for r in at_once)  # replies held to theirs
    # A reply counts as an e-mail too: some day has more e-mail points than replies give.
    assert any(0 < r["c1s2"] < 4 and r["c1s1"] > r["c1s2"] / 2.25 * 1.5 for r in at_once)
    # And equal to a plain-Python count of each day (no SQL).
    for day in DAYS[::7]:
        want = expected_scores(company, abm, day, ZONE)
        got = {r["account_id"]: r for r in at_once if r["day"] == day}
        assert set(got) == set(want)
        for account, w in want.items():
            assert got[account]["score"] == pytest.approx(w["score"], abs=1e-9), (day, account)
