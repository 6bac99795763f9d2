"""Large companies: the stage history is read once per cohort query, linked
deals included, and the latest day of each source's facts is found without
converting every fact's instant; both give what the rows say, worked out in
Python here."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
import yaml

from kpitree.compute.periods import parse_period
from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.project import Project

AS_OF = dt.date(2026, 2, 17)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("onepass")
    company = generate("tiny", seed=5)
    Warehouse(folder / "warehouse.duckdb").bulk_load(company.tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return Project.load(folder / "project")


def _rows(demo: Project, table: str) -> list[dict[str, Any]]:
    with demo.engine() as engine:
        return list(engine.execute(engine.backend.table(table)).to_pylist())


@pytest.mark.parametrize(("period", "scans"), [("2025-Q3", 2), ("FY2025", 1)])
def test_a_cohort_to_a_linked_stage_reads_the_history_once(
    demo: Project, period: str, scans: int
) -> None:
    """商談化率 (MQL → opportunity, 90 days): a lead's opportunity is its own
    entry, else the creation of the first deal linked to it. The history is
    grouped once and joined once; a window of a quarter first looks up its
    entrants (a second, filtered read), a year does not."""
    from kpitree.compute.compile import metric_query

    metric = demo.catalogue["mql_to_opportunity_rate"]
    assert metric.spec.window_days is not None
    window = dt.timedelta(days=metric.spec.window_days)
    span = parse_period(period, 4)
    with demo.engine() as engine:
        query = metric_query(engine, metric, [span], as_of=AS_OF)
        sql = engine.compile(query)
        got = engine.execute(query).to_pylist()
    assert sql.count('"lead_stage_history"') == scans, sql
    if scans == 1:  # nothing shared (DuckDB materialises a shared subquery in full)
        assert not sql.lstrip().startswith("WITH"), sql

    zone = zoneinfo.ZoneInfo(demo.tree.timezone)
    first: dict[tuple[str, str], dt.datetime] = {}
    for row in _rows(demo, "lead_stage_history"):
        key = (row["lead_id"], row["stage"])
        first[key] = min(first.get(key, row["entered_at"]), row["entered_at"])
    deal_created = {d["deal_id"]: d["created_at"] for d in _rows(demo, "deals")}
    linked: dict[str, dt.datetime] = {}
    for link in _rows(demo, "kpitree_links"):
        if link["relation"] == "deal_lead" and link["status"] == "linked":
            at = deal_created[link["from_id"]]
            linked[link["to_id"]] = min(linked.get(link["to_id"], at), at)
    assert linked, "the demo's deals are linked to their leads"
    entrants = num = 0
    for (lead, stage), mql in first.items():
        if stage != "mql" or not span.start <= mql.astimezone(zone).date() <= span.end:
            continue
        entrants += 1
        opp = first.get((lead, "opportunity"), linked.get(lead))
        if opp is None or opp.astimezone(zone).date() > AS_OF:
            continue
        if mql <= opp and opp.astimezone(zone).date() <= mql.astimezone(zone).date() + window:
            num += 1
    assert sum(r["den"] for r in got) == entrants > 0
    assert sum(r["num"] for r in got) == num > 0


@pytest.mark.parametrize(
    "as_of", [dt.date(2024, 1, 1), dt.date(2025, 8, 3), dt.date(2026, 3, 31), dt.date(2031, 1, 1)]
)
def test_the_latest_fact_day_of_each_source_is_that_of_its_rows(
    demo: Project, as_of: dt.date
) -> None:
    """Each source's latest local day with a fact up to the as-of day, for an
    as-of day before, inside and after the data."""
    from kpitree.compute.entities import ENTITIES
    from kpitree.compute.freshness import latest_facts

    zone = zoneinfo.ZoneInfo(demo.tree.timezone)
    metrics = {
        "leads": "leads",
        "deals": "won_deals",
        "activities": "calls",
        "nps": "nps_responses",
    }
    with demo.engine() as engine:
        found = latest_facts(
            engine, demo.catalogue, list(metrics.values()), as_of, demo.query_cache()
        )
    for entity, metric in metrics.items():
        assert demo.catalogue[metric].entity is not None
        ent = ENTITIES[demo.catalogue[metric].entity.name]
        columns = [ent.time, *(column for column, _ in ent.closes.values())]
        days = []
        for row in _rows(demo, ent.table):
            days += [row[c] for c in columns if row[c] is not None]
        if ent.stages is not None:
            days += [r["entered_at"] for r in _rows(demo, ent.stages)]
        local = [d.astimezone(zone).date() if isinstance(d, dt.datetime) else d for d in days]
        kept = [d for d in local if d <= as_of]
        assert found[metric] == (max(kept) if kept else None), entity
