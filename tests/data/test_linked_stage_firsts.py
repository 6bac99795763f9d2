"""The first stage entries of leads read in one pass (``stage_firsts``) equal
the per-stage reading (``event_times``) on a warehouse with cross-source links:
a lead's own entry of a stage wins, else the first entry a linked deal gives,
also when the window of a cohort narrows the leads looked at. The company is
the two-source one of tests/data/test_links_two_sources.py, plus a lead whose
own history has an opportunity entry beside a linked deal, and one whose
first stage comes only from a linked deal (opportunity -> won)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpitree import Project
from kpitree.compute.entities import entity
from kpitree.compute.events import ID, event_times, stage_firsts
from kpitree.compute.periods import parse_period
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse, default_warehouse_path

from . import test_links_two_sources as two

STAGE_PAIRS = [("mql", "opportunity"), ("opportunity", "won"), ("mql", "won")]


# Lead 101's own history has an opportunity entry (later than the creation of
# its linked deal, 2026-01-20: the own entry wins); lead 104's a won entry.
OWN = [("101", "opportunity", "2026-03-02"), ("104", "won", "2026-05-01")]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow as pa

    folder: Path = two.company.__wrapped__(tmp_path_factory)  # type: ignore[attr-defined]
    schema = arrow_schema("lead_stage_history")
    rows = [
        dict.fromkeys(schema.names)
        | {
            "lead_id": lead,
            "stage": stage,
            "entered_at": dt.datetime.fromisoformat(day + "T01:00:00+00:00"),
        }
        for lead, stage, day in OWN
    ]
    table = pa.Table.from_pylist(rows, schema=schema)
    Warehouse(default_warehouse_path(folder)).bulk_load(
        {"lead_stage_history": table}, label="stages.csv", source="hubspot-contacts"
    )
    return folder


def _per_stage(project: Project, names: tuple[str, str], within: list) -> dict[str, tuple]:
    """``{lead: (first of names[0], first of names[1])}`` the per-stage way:
    the first stage's entries around the window, the second stage's of the
    leads found."""
    ent = entity("leads")
    with project.engine() as engine:
        base = engine.table("leads")
        a = event_times(engine, ent, base, names[0], within=within or None).to_pyarrow()
        firsts = {r[ID]: r["__at"] for r in a.to_pylist()}
        b = event_times(engine, ent, base, names[1], only=list(firsts) or None).to_pyarrow()
        seconds = {r[ID]: r["__at"] for r in b.to_pylist()}
    return {k: (v, seconds.get(k)) for k, v in firsts.items()}


def _one_pass(project: Project, names: tuple[str, str], within: list) -> dict[str, tuple]:
    ent = entity("leads")
    with project.engine() as engine:
        t = stage_firsts(engine, ent, list(names), within=within or None).to_pyarrow()
    return {r[ID]: (r["__first0"], r["__first1"]) for r in t.to_pylist() if r["__first0"]}


@pytest.mark.parametrize("names", STAGE_PAIRS)
@pytest.mark.parametrize("month", [None, "2026-01", "2026-02", "2026-03"])
def test_one_pass_equals_the_per_stage_reading(
    company: Path, names: tuple[str, str], month: str | None
) -> None:
    project = Project.load(company)
    within = [parse_period(month, 1)] if month else []
    expected = _per_stage(project, names, within)
    got = _one_pass(project, names, within)
    if within:
        # The window narrows the leads looked at; both keep those whose first
        # entry is near it (one pass may keep a few more, never fewer).
        assert set(expected) <= set(got)
        got = {k: v for k, v in got.items() if k in expected}
    assert got == expected
    if names == ("mql", "opportunity") and month is None:
        # The construction: 9 contacts an opportunity came from (linked), 8 of
        # them MQLs (113 never was); the own entry of 101 wins over its linked
        # deal's creation.
        assert sum(1 for _, b in got.values() if b is not None) == 8
        assert got["101"][1] == dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC)
    if names == ("opportunity", "won") and month is None:
        assert got["104"][1] == dt.datetime(2026, 5, 1, 1, tzinfo=dt.UTC)
