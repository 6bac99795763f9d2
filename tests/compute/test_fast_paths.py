"""The fast paths of status give the same answers as the plain ones: targets a
node at a time vs one by one, the status table vs its rows, compiled SQL taken
from the query cache (in memory and on disk) vs compiled afresh."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from kpitree.compute.periods import Period, business_days_between, parse_period, period_of
from kpitree.compute.querycache import QueryCache, query_cache
from kpitree.compute.status_table import NUMBERS
from kpitree.compute.targets import SegmentKey, Targets
from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.project import Project
from kpitree.sealed import seal, unseal

AS_OF = dt.date(2025, 11, 18)  # mid-month, mid-quarter: pacing and partial periods


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tiny demo company with this fiscal year planned from the last one."""
    folder = tmp_path_factory.mktemp("fast")
    company = generate("tiny", seed=11)
    Warehouse(folder / "warehouse.duckdb").bulk_load(company.tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    project = Project.load(folder / "project")
    project.plan_from_history("FY2024", fiscal_year=2025)
    return Project.load(folder / "project")


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)


def _expected_target(
    demo: Project, node_id: str, period: Period, segment: SegmentKey
) -> float | None:
    """A period's target worked out from the plan's monthly values: each month
    it overlaps weighs the share of its business days inside the period; sums
    add up, averages are weighted means; a month without a value means none."""
    settings = demo.tree.plan
    node = demo.tree.nodes[node_id]
    total = weights = 0.0
    month = period_of(period.start, "month", 4)
    while month.start <= period.end:
        plan = demo.plan(fiscal_year=month.fiscal_year)
        node_plan = plan.nodes.get(node_id)
        if node_plan is not None and segment:
            seg = dict(segment)
            if seg.get("department") != node.owner:
                return None
            key = "/".join(seg[d] or "" for d in ("department", "team", "rep") if d in seg)
            node_plan = node_plan if len(seg) == 1 else node_plan.segments.get(key)
        value = node_plan.per_period.get(month.key) if node_plan is not None else None
        if value is None:
            return None
        lo, hi = max(month.start, period.start), min(month.end, period.end)
        days = business_days_between(
            month.start, month.end, country=settings.holidays, closed_days=settings.closed_days
        )
        inside = business_days_between(
            lo, hi, country=settings.holidays, closed_days=settings.closed_days
        )
        weight = inside / days
        total += value * weight
        weights += weight
        month = month.next()
    return total if node.is_additive else total / weights


def test_targets_of_any_period_follow_the_monthly_plan(demo: Project) -> None:
    periods = [
        parse_period(text, 4)
        for text in ("2025-04", "2025-11", "2025-Q3", "FY2025", "2025-W45", "2025-H1")
    ]
    status = demo.status(periods[:2], by="rep", as_of=AS_OF, explain=False, compare=False)
    segments = list(dict.fromkeys(r.segment for r in status.rows))
    assert len(segments) > 10  # company, departments, teams and reps
    targets = Targets(demo.tree, demo.plan_or_none)
    checked = 0
    for node_id in demo.tree.nodes:
        matrix = targets.target_matrix(node_id, periods, segments)
        assert matrix.shape == (len(periods), len(segments))
        for j, period in enumerate(periods):
            for s, segment in enumerate(segments):
                expected = _expected_target(demo, node_id, period, segment)
                got = None if math.isnan(matrix[j, s]) else float(matrix[j, s])
                assert _same(got, expected), (node_id, period.key, segment)
                assert _same(targets.target(node_id, period, segment), expected)
                checked += expected is not None
    assert checked >= 300  # departments, teams and reps with plans, six kinds of period


def test_target_overrides_apply_in_the_matrix(demo: Project) -> None:
    month = parse_period("2025-10", 4)
    segment = (("department", "inside_sales"),)
    targets = Targets(demo.tree, demo.plan_or_none)
    targets.overrides[("calls", "2025-10", segment)] = 1234.0
    matrix = targets.target_matrix("calls", [month], [(), segment])
    assert matrix[0, 1] == 1234.0
    assert matrix[0, 0] == targets.target("calls", month, ())


def test_status_rows_are_the_table(demo: Project) -> None:
    result = demo.status(["2025-10", "2025-11"], by="rep", as_of=AS_OF)
    frame = result.frame
    assert len(result.rows) == len(frame) > 0
    for i in range(0, len(frame), 37):
        row = result.rows[i]
        assert row.node == frame["node"].iloc[i]
        assert row.segment == frame["segment"].iloc[i]
        for name in NUMBERS:
            value = frame[name].iloc[i]
            assert _same(getattr(row, name), None if math.isnan(value) else float(value))
        assert result.row(row.node, row.period, row.segment) == row
    with pytest.raises(KeyError):
        result.row("no_such_node")
    table = result.to_pandas()
    assert len(table) == len(frame)
    assert {"expected_to_date", "segment.department", "segment.rep"} <= set(table.columns)
    assert table["actual"].isna().sum() == frame["actual"].isna().sum()


def test_rows_and_their_json_made_a_column_at_a_time_are_each_rows_own(demo: Project) -> None:
    """All rows made at once (and their JSON, without making them) equal each
    row made alone, flags, missing values and segments included."""
    result = demo.status(["2025-10", "2025-Q3"], by=["department", "team", "rep"], as_of=AS_OF)
    one_by_one = [result._make(i) for i in range(len(result.table))]
    assert result.rows == one_by_one
    assert any(r.flags for r in one_by_one) and any(r.actual is None for r in one_by_one)
    assert any(r.data_until is not None for r in one_by_one)
    rows_json = result.json_rows()
    assert rows_json == [r.to_json() for r in one_by_one]
    assert [list(j) for j in rows_json] == [list(r.to_json()) for r in one_by_one]  # key order
    tree = demo.tree
    flagged = result.json_rows(lambda f: f.to_json(tree, "ja"))
    assert [j["flags"] for j in flagged] == [
        [f.to_json(tree, "ja") for f in r.flags] for r in one_by_one
    ]


def test_status_select_is_a_filter_of_the_rows(demo: Project) -> None:
    result = demo.status(["2025-10", "2025-11"], by="rep", as_of=AS_OF)
    fresh = demo.status(["2025-10", "2025-11"], by="rep", as_of=AS_OF)
    rep = ("department", "team", "rep")
    asked: list[dict[str, Any]] = [
        {},
        {"level": ()},
        {"level": ("department",)},
        {"level": rep, "period": "2025-10"},
        {"node": "won_deals", "level": ()},
        {"node": "won_deals", "period": "2025-11"},
        {"level": ("no_such_dimension",)},
    ]
    for query in asked:
        expected = [
            r
            for r in result.rows
            if (query.get("node") in (None, r.node))
            and (query.get("period") in (None, r.period))
            and ("level" not in query or tuple(d for d, _ in r.segment) == query["level"])
        ]
        assert result.select(**query) == expected, query
        assert fresh.select(**query) == expected, query  # before its rows are made
    assert len(result.select(level=())) == len(demo.tree.nodes) * 2
    assert result.select(level=("no_such_dimension",)) == []


def test_a_status_from_cached_sql_is_the_same(demo: Project, tmp_path: Path) -> None:
    """Cold (compiling), warm (in memory) and from the file (a new process's view)
    give identical tables; the file is only used by the code that wrote it."""
    store = tmp_path / "queries.json"

    def run(cache: QueryCache) -> object:
        from kpitree.compute.status import compute_status

        with demo.engine() as engine:
            return compute_status(
                demo.tree,
                demo.catalogue,
                engine,
                Targets(demo.tree, demo.plan_or_none),
                [parse_period("2025-10", 4), parse_period("2025-Q3", 4)],
                [(), ("department", "team", "rep")],
                as_of=AS_OF,
                cache=cache,
            )

    cold_cache = QueryCache(store)
    cold = run(cold_cache)
    assert cold_cache.misses > 0 and cold_cache.hits == 0
    compiled = cold_cache.misses
    warm = run(cold_cache)
    # Nothing compiled again; a query run early in a batch (the evidence beside
    # the metric queries) is looked up twice.
    assert cold_cache.misses == compiled and cold_cache.hits >= compiled
    cold_cache.save()
    from_file = QueryCache(store)
    again = run(from_file)
    assert from_file.misses == 0 and from_file.hits > 0
    for other in (warm, again):
        assert other.frame.equals(cold.frame)  # type: ignore[attr-defined]

    body = unseal(store.read_bytes())  # sealed with the user's key (kpitree.sealed)
    assert body is not None
    stored = json.loads(bytes(body))
    stored["code"] = "another version"
    store.write_bytes(seal(json.dumps(stored).encode()))
    stale = QueryCache(store)
    run(stale)
    assert stale.hits == 0  # SQL written by other code is not trusted

    store.write_text("{not json", encoding="utf-8")
    damaged = QueryCache(store)
    assert run(damaged).frame.equals(cold.frame)  # type: ignore[attr-defined]


def test_queries_over_in_memory_tables_are_not_cached(demo: Project) -> None:
    import ibis

    cache = QueryCache()
    with demo.engine() as engine:
        for rows in ([1, 2], [5]):
            table = cache.run(engine, "same-key", lambda r=rows: ibis.memtable({"x": r}))
            assert table.column("x").to_pylist() == rows
    assert cache.misses == 2 and cache.hits == 0


def test_project_keeps_its_query_cache_in_the_project(demo: Project) -> None:
    demo.status("2025-10", as_of=AS_OF, explain=False)
    assert (demo.path / ".kpitree" / "cache" / "queries.json").is_file()
    assert demo.query_cache() is query_cache(demo.path / ".kpitree" / "cache" / "queries.json")


def test_a_filter_that_matches_nothing_gives_zeros_not_an_error(demo: Project) -> None:
    result = demo.status(
        "2025-10", by="rep", as_of=AS_OF, filters={"team": ["no such team"]}, explain=False
    )
    company = result.row("leads", "2025-10", ())
    assert company.actual == 0.0
    assert all(len(r.segment) == 0 for r in result.rows)  # no rep, team or department


def test_queries_run_side_by_side_keep_the_session_time_zone(demo: Project) -> None:
    """Two at a time on their own DuckDB cursors: each cursor must use the
    project's time zone, or an evening in UTC lands on the wrong local day."""
    sql = "SELECT CAST(TIMESTAMPTZ '2026-03-31 15:30:00+00' AS DATE) AS day, {n} AS n"
    with demo.engine() as engine:
        tables = list(engine.execute_sql_many([sql.format(n=n) for n in range(5)]))
    assert [t.column("n")[0].as_py() for t in tables] == list(range(5))
    assert {t.column("day")[0].as_py() for t in tables} == {dt.date(2026, 4, 1)}


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [("lead", "mql", False), ("mql", "sql", False), ("created_at", "won", False)],
)
def test_a_cohort_reads_second_events_of_its_own_entities_only(
    demo: Project, first: str, second: str, shared: bool
) -> None:
    """The first-time grouping of a cohort's second events runs over the
    cohort's entities, not every entity's history; a first event that is a
    column is read again from its table, and two stages come from one
    grouping of their history, so no subquery is shared (DuckDB materialises
    a shared one in full)."""
    from kpitree.compute.compile import metric_query
    from kpitree.compute.metrics import Metric
    from kpitree.definition.spec import MetricSpec
    from kpitree.definition.tree import Label

    entity = "deals" if second == "won" else "leads"
    raw = {"type": "conversion", "mode": "cohort", "entity": entity, "from": first,
           "to": second, "window_days": 90}  # fmt: skip
    metric = Metric("c", MetricSpec.model_validate(raw), Label(None, "c"), builtin=True)
    with demo.engine() as engine:
        sql = engine.compile(metric_query(engine, metric, [parse_period("2025-10", 4)]))
    assert " IN (SELECT" in sql
    assert sql.lstrip().startswith("WITH") == shared


@pytest.mark.parametrize("mode", ["cohort", "period"])
def test_a_conversion_between_two_stages_reads_their_history_once(demo: Project, mode: str) -> None:
    """Both stages' first entries come from one grouping of the stage history
    (the cohort's window adds only the look-up of entrants near it), and the
    rate is what the first entries give, counted in Python."""
    import dataclasses
    import zoneinfo

    from kpitree.compute.compile import metric_query

    metric = demo.catalogue["mql_to_sql_rate"]
    metric = dataclasses.replace(metric, spec=metric.spec.model_copy(update={"mode": mode}))
    period = parse_period("2025-Q3", 4)
    with demo.engine() as engine:
        query = metric_query(engine, metric, [period], as_of=AS_OF)
        sql = engine.compile(query)
        got = engine.execute(query).to_pylist()
        hist = engine.execute(engine.table("lead_stage_history")).to_pylist()
    scans = sql.count('"lead_stage_history"')
    assert scans == (2 if mode == "cohort" else 1), sql

    zone = zoneinfo.ZoneInfo(demo.tree.timezone)
    first: dict[tuple[str, str], dt.date] = {}
    for row in hist:
        day = row["entered_at"].astimezone(zone).date()
        key = (row["lead_id"], row["stage"])
        first[key] = min(first.get(key, day), day)
    mql = {lead: d for (lead, stage), d in first.items() if stage == "mql"}
    sql_ = {lead: d for (lead, stage), d in first.items() if stage == "sql" and d <= AS_OF}
    inside = period.start, period.end
    entrants = {lead for lead, d in mql.items() if inside[0] <= d <= inside[1]}
    if mode == "cohort":
        window = metric.spec.window_days
        assert window is not None
        num = sum(
            1
            for lead in entrants
            if lead in sql_ and mql[lead] <= sql_[lead] <= mql[lead] + dt.timedelta(days=window)
        )
    else:
        num = sum(1 for d in sql_.values() if inside[0] <= d <= inside[1])
    assert sum(r["num"] for r in got) == num > 0
    assert sum(r["den"] for r in got) == len(entrants)
