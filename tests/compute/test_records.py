"""The records behind a number: for every node with lists, over periods
(months, a quarter, fiscal years, the month in progress, a custom range),
segments (department, team, rep, channel) and credit rules (each fact's owner,
or the owner of its lead) of the demo company, a list has exactly as many rows
as the count it explains, a sum's values add up to the sum, a rate's lists are
its entrants and its converted, and the node's number on the pages is the one
explained."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitree.compute.measure import measure
from kpitree.compute.metrics import Catalogue, builtin_specs, catalogue
from kpitree.compute.records import RecordSet, record_page, record_sets, record_table
from kpitree.definition.tree import MetricDef
from kpitree.engines import Engine
from kpitree.errors import UserError
from kpitree.project import Project

PERIODS = (
    "2026-04",
    "2026-07",
    "2026-10",
    "this-month",
    "last-month",
    "FY2026-Q2",
    "FY2025",
    "FY2026",
    "2026-11-02..2026-11-20",
)
SEGMENTS: tuple[dict[str, list[str | None]], ...] = (
    {},
    {"department": ["field_sales"]},
    {"department": ["inside_sales"]},
    {"department": ["marketing", "customer_success"]},
    {"channel": ["event"]},
    {"team": ["インバウンドIS"]},
    {"department": ["field_sales"], "team": ["東日本営業部"]},
    {"rep": ["R0009"]},
    {"rep": ["R0014", "R0016"]},
)
# Whom a fact counts for: the metric's own rule (None), its owner, the owner of
# the lead it came from (for every metric of an entity linked to a lead).
CREDITS = (None, "owner", "lead_owner")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Engine]]:
    folder = tmp_path_factory.mktemp("records") / "demo"
    subprocess.run(
        [sys.executable, "-m", "kpitree", "demo", str(folder), "--size", "tiny", "--no-serve"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    project = Project.load(folder)
    with project.engine() as engine:
        yield project, engine


def _credited(project: Project, credit: str | None) -> Catalogue:
    """The project's metrics with every metric of an entity linked to a lead
    crediting its facts by ``credit`` (``None``: as defined)."""
    if credit is None:
        return project.catalogue
    tree = project.tree
    specs = {**builtin_specs(), **{m: d.spec for m, d in tree.metrics.items()}}
    metrics = dict(tree.metrics)
    for mid, spec in specs.items():
        ent = project.catalogue[mid].entity if mid in project.catalogue else None
        if ent is not None and ent.lead_column is not None and not spec.type.startswith("sla_"):
            metrics[mid] = MetricDef(mid, spec.model_copy(update={"credit": credit}))
    found = catalogue(dataclasses.replace(tree, metrics=metrics))
    assert not found.diagnostics, found.diagnostics
    return found


def _nodes(project: Project) -> list[str]:
    return [n for n in project.tree.nodes if record_sets(project.tree, project.catalogue, n)]


def _measured(
    metrics: Catalogue,
    engine: Engine,
    metric: str,
    period: Any,
    filters: dict[str, Any],
    as_of: dt.date,
) -> dict[str, float]:
    frame = measure(engine, metrics, [metric], [period], filters=filters, as_of=as_of)[()]
    rows = frame[frame["period"] == 0]
    out = {}
    for suffix in ("", "#num", "#den", "#n"):
        column = f"{metric}{suffix}"
        if column in rows and len(rows):
            value = rows[column].iloc[0]
            out[suffix] = 0.0 if value is None or math.isnan(value) else float(value)
        else:
            out[suffix] = 0.0
    return out


def _check_list(
    metrics: Catalogue,
    engine: Engine,
    s: RecordSet,
    period: Any,
    filters: dict[str, Any],
    as_of: dt.date,
) -> tuple[int, float | None]:
    """Check one list against the measured metric; its row count and value total."""
    table = record_table(engine, metrics, s, period, filters, as_of)
    page = record_page(engine, table, limit=1)
    metric = metrics[s.metric]
    measured = _measured(metrics, engine, s.metric, period, filters, as_of)
    what = f"{s} in {period.key} {filters}"
    if metric.type == "conversion":
        expected = measured["#num"] if s.role == "converted" else measured["#den"]
        assert page.count == expected, what
    elif metric.type == "count":
        assert page.count == measured[""], what
    elif metric.type == "sum":
        assert page.value_total == pytest.approx(measured[""] if page.count else None), what
    elif metric.type in ("average", "duration"):
        with_value = record_page(engine, table.filter(table.value.notnull()), limit=1)
        assert with_value.count == measured["#n"], what
        if with_value.count and metric.type == "average":
            mean = (with_value.value_total or 0.0) / with_value.count
            assert mean == pytest.approx(measured[""]), what
    return page.count, page.value_total


@settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_list_has_as_many_rows_as_its_number(
    demo: tuple[Project, Engine], data: st.DataObject
) -> None:
    project, engine = demo
    as_of = project.today()
    node = data.draw(st.sampled_from(_nodes(project)), label="node")
    period = project.period(data.draw(st.sampled_from(PERIODS), label="period"), as_of=as_of)
    filters = data.draw(st.sampled_from(SEGMENTS), label="segment")
    credit = data.draw(st.sampled_from(CREDITS), label="credit")
    metrics = _credited(project, credit)
    cut = period.to_date(as_of)
    if cut is None:
        return
    sets = record_sets(project.tree, metrics, node)
    try:
        counts = {s.role: _check_list(metrics, engine, s, cut, filters, as_of) for s in sets}
    except UserError as exc:  # a filter the node's metric cannot take (renewals by channel)
        if {d.code for d in exc.diagnostics} <= {"KT530", "KT760"}:
            return
        raise
    if credit is not None:  # the pages measure the metrics as defined
        return
    status = project.status(period, as_of=as_of, filters=filters, explain=False, compare=False)
    row = next(iter(status.select(node=node, period=period.key, level=())), None)
    actual = None if row is None else row.actual
    if actual is None or (isinstance(actual, float) and math.isnan(actual)):
        return
    metric = project.tree.nodes[node].metric
    kind = project.catalogue[metric].type if metric else None
    if set(counts) == {"facts"} and kind == "count":
        assert counts["facts"][0] == actual
    if set(counts) == {"entrants", "converted"}:
        # A rate of counts (conversions, funnel rates) or of amounts (GRR: MRR
        # retained over MRR due).
        amounts = counts["entrants"][1] is not None
        entrants, converted = (counts[r][1 if amounts else 0] for r in ("entrants", "converted"))
        if entrants:
            assert (converted or 0) / entrants == pytest.approx(actual)


def test_a_rate_lists_its_entrants_and_converted(demo: tuple[Project, Engine]) -> None:
    project, _ = demo
    sets = record_sets(project.tree, project.catalogue, "mql_rate")
    assert [(s.role, s.metric) for s in sets] == [("entrants", "leads"), ("converted", "mqls")]
    # A sum of other nodes has no list of its own.
    assert record_sets(project.tree, project.catalogue, "revenue") == []


def test_pages_search_and_sort_in_the_database(demo: tuple[Project, Engine]) -> None:
    project, engine = demo
    as_of = project.today()
    period = project.period("FY2026-Q2", as_of=as_of)
    s = record_sets(project.tree, project.catalogue, "leads")[0]
    table = record_table(engine, project.catalogue, s, period, {}, as_of)
    whole = record_page(engine, table, limit=None)
    pages = [record_page(engine, table, offset=o, limit=40).rows for o in range(0, whole.count, 40)]
    assert [r["lead_id"] for p in pages for r in p] == sorted(r["lead_id"] for r in whole.rows)
    by_day = record_page(engine, table, sort="day", descending=True, limit=None).rows
    assert [r["day"] for r in by_day] == sorted((r["day"] for r in whole.rows), reverse=True)
    channel = whole.rows[0]["channel"]
    found = record_page(engine, table, search=channel.upper(), limit=None)
    assert found.count == whole.count
    assert found.total == sum(1 for r in whole.rows if channel in str(r).lower())
    assert 0 < found.total <= whole.count
