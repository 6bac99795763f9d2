"""Properties of statuses on generated companies: whatever the deals, leads,
contracts, as-of day and minimums, a rate or average below its minimum volume
is never called on or off track, counts are never low volume, and a source
without facts since the period started is never shown as a number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitree import Project
from kpitree.data.schema import TABLES
from kpitree.engines import load_canonical, open_engine

from .test_trust_status import DEFINITION, TARGETS, _table

JUDGED = ("on_track", "at_risk", "off_track")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trust-properties")
    lines = ["node,period,target"] + [f"{n},2026-11,{v}" for n, v in TARGETS.items()]
    (out / "targets.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _company(
    won: list[tuple[int, float, int]], mqls: int, loose: int, due: list[int]
) -> dict[str, Any]:
    """Deals won on November days (day, amount, rep), MQLs spread over the
    month, opportunities without a lead, contract terms ending on days."""
    ts = lambda day: dt.datetime(2026, 11, day, 2, tzinfo=dt.UTC)  # noqa: E731
    leads = [
        {"lead_id": f"L{i}", "created_at": ts(1 + i % 28), "owner_id": "r1"} for i in range(mqls)
    ]
    history = [
        {"lead_id": f"L{i}", "stage": "mql", "entered_at": ts(1 + i % 28)} for i in range(mqls)
    ]
    deals = [
        {"deal_id": f"W{i}", "lead_id": f"L{i}" if i < mqls else None, "owner_id": f"r{rep}",
         "created_at": ts(day), "status": "won", "close_date": dt.date(2026, 11, day),
         "amount": amount}
        for i, (day, amount, rep) in enumerate(won)
    ] + [
        {"deal_id": f"X{i}", "owner_id": "r2", "created_at": ts(3), "status": "open"}
        for i in range(loose)
    ]  # fmt: skip
    contracts = [
        {"contract_id": f"C{i}", "account_id": f"A{i}", "start_date": dt.date(2025, 12, 1),
         "end_date": dt.date(2026, 11, day), "mrr": 10_000.0, "arr": 120_000.0,
         "status": "renewed" if i % 3 else "churned"}
        for i, day in enumerate(due)
    ]  # fmt: skip
    assignments = [
        {"rep_id": r, "valid_from": dt.date(2026, 1, 1), "department": "field_sales", "team": t}
        for r, t in (("r1", "A"), ("r2", "B"))
    ]
    return {
        "reps": [{"rep_id": "r1", "name": "r1"}, {"rep_id": "r2", "name": "r2"}],
        "rep_assignments": assignments,
        "leads": leads,
        "lead_stage_history": history,
        "deals": deals,
        "contracts": contracts,
    }


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    won=st.lists(
        st.tuples(
            st.integers(1, 30), st.floats(10_000, 5_000_000, allow_nan=False), st.integers(1, 2)
        ),
        max_size=25,
    ),
    mqls=st.integers(0, 60),
    loose=st.integers(0, 10),
    due=st.lists(st.integers(1, 30), max_size=15),
    as_of_day=st.integers(1, 30),
    minimums=st.tuples(st.integers(1, 40), st.integers(1, 20), st.none() | st.integers(1, 40)),
)
def test_below_the_minimum_volume_nothing_is_judged(
    folder: Path,
    won: list[tuple[int, float, int]],
    mqls: int,
    loose: int,
    due: list[int],
    as_of_day: int,
    minimums: tuple[int, int, int | None],
) -> None:
    ratio, currency, own = minimums
    pacing = f"pacing: {{min_volume: {{ratio: {ratio}, currency: {currency}}}}}\n"
    text = DEFINITION.replace("period: month\n", "period: month\n" + pacing)
    text = text.replace("min_volume: 5", f"min_volume: {own}" if own is not None else "")
    (folder / "kpitree.yaml").write_text(text, encoding="utf-8")
    project = Project.load(folder)
    rows = _company(won, mqls, loose, due)
    tables = {t.name: _table(t.name, rows.get(t.name, [])) for t in TABLES}
    with open_engine("duckdb://", timezone=project.tree.timezone) as engine:
        load_canonical(engine, tables)
        as_of = dt.date(2026, 11, as_of_day)
        result = project.status("2026-11", by="team", as_of=as_of, compare=False, engine=engine)
    for row in result.rows:
        node = project.tree.nodes[row.node]
        if node.is_additive:
            assert row.status != "low_volume", row
            assert row.min_volume is None
            continue
        minimum = project.tree.pacing.minimum(node)
        assert row.min_volume == minimum
        if minimum is not None and row.volume is not None and row.volume < minimum:
            assert row.status in ("no_data", "low_volume"), row
        if row.status in JUDGED:
            assert row.volume is None or minimum is None or row.volume >= minimum
        if row.status == "no_data":
            assert row.actual is None and row.pace is None
    # A source without any fact is never a number: calls and NPS responses here.
    assert result.row("calls").status == "no_data" and result.row("calls").actual is None
