"""Canonical tables as views over HubSpot data as Airbyte and dlt land it.

The demo company is written in each tool's HubSpot layout (Airbyte's streams with
``properties_*`` columns, property-history streams and Airbyte's own columns;
dlt's resources with the properties as columns, its child tables
``contacts__deals`` and ``pipelines_deals__stages``, ``stages_timing_deals`` and
``_dlt_*`` columns), with HubSpot's own lifecycle and stage values, in a DuckDB
schema and in a Spark database; the presets must give the numbers the imported
warehouse gives, and the data-quality rules the same findings."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engines.test_landed import LIFECYCLE, NODES, STAGE_IDS, _labels, _tokyo_midnight
from engines.whole_status import AS_OF, MONTHS, make_company
from kpitree.engines import Engine, attach_engine, open_engine
from kpitree.engines.landed import attach_landed
from kpitree.project import Project

pytestmark = [pytest.mark.slow]

EXTRACTED = dt.datetime(2026, 3, 21, tzinfo=dt.UTC)


def _ms(column: pa.ChunkedArray) -> pa.Array:
    """Instants as epoch milliseconds (HubSpot's property-history timestamps)."""
    return pa.array(
        [None if v is None else int(v.timestamp() * 1000) for v in column.to_pylist()],
        pa.int64(),
    )


def _owners(reps: pa.Table, first: str, last: str) -> dict[str, Any]:
    names = [(name or " ").split(" ", 1) for name in reps["name"].to_pylist()]
    return {
        "id": reps["rep_id"],
        "email": reps["email"],
        last: [n[0] for n in names],
        first: [n[1] if len(n) > 1 else None for n in names],
    }


def _with_airbyte_columns(table: pa.Table) -> pa.Table:
    n = table.num_rows
    table = table.append_column("_airbyte_raw_id", pa.array([f"r{i}" for i in range(n)]))
    table = table.append_column("_airbyte_extracted_at", pa.array([EXTRACTED] * n))
    return table.append_column("_airbyte_meta", pa.array(['{"changes": []}'] * n))


def airbyte_layout(tables: dict[str, pa.Table], *, arrays: bool = False) -> dict[str, pa.Table]:
    """The demo as Airbyte's HubSpot source lands it. A deal's associated contacts
    are a JSON array (DuckDB, PostgreSQL destinations), or an array (``arrays``)."""
    leads, deals = tables["leads"], tables["deals"]
    n = leads.num_rows
    contacts = pa.table(
        {
            "id": leads["lead_id"],
            "createdAt": leads["created_at"],
            "updatedAt": leads["created_at"],
            "archived": [False] * n,
            "properties_createdate": leads["created_at"],
            "properties_hs_analytics_source": leads["channel"],
            "properties_hubspot_owner_id": leads["owner_id"],
            "properties_associatedcompanyid": leads["account_id"],
            "properties_lifecyclestage": _labels(leads["current_stage"], LIFECYCLE),
        }
    )
    archived = contacts.slice(0, 1).to_pylist()[0] | {"id": "C-archived", "archived": True}
    contacts = pa.concat_tables([contacts, pa.Table.from_pylist([archived], contacts.schema)])
    stages = tables["lead_stage_history"]
    moves = stages.filter(pc.not_equal(stages["stage"], "lead"))
    history = pa.table(
        {
            "vid": moves["lead_id"],
            "property": ["lifecyclestage"] * moves.num_rows,
            "value": _labels(moves["stage"], LIFECYCLE),
            "timestamp": _ms(moves["entered_at"]),
            "source-type": ["CRM_UI"] * moves.num_rows,
        }
    )
    other = history.slice(0, 5).set_column(1, "property", pa.array(["hs_lead_status"] * 5))
    status = deals["status"].to_pylist()
    lead_ids = deals["lead_id"].to_pylist()
    associated: Any = [[i] if i is not None else [] for i in lead_ids]
    if not arrays:
        associated = pa.array([json.dumps(ids) for ids in associated])
    deal = pa.table(
        {
            "id": deals["deal_id"],
            "createdAt": deals["created_at"],
            "archived": [False] * deals.num_rows,
            "properties_createdate": deals["created_at"],
            "properties_closedate": _tokyo_midnight(deals["close_date"].to_pylist()),
            "properties_amount": deals["amount"],
            "properties_dealstage": _labels(deals["stage"], STAGE_IDS),
            "properties_pipeline": deals["pipeline"],
            "properties_hubspot_owner_id": deals["owner_id"],
            "properties_hs_is_closed": [s != "open" for s in status],
            "properties_hs_is_closed_won": [s == "won" for s in status],
            "contacts": associated,
        }
    )
    entered = tables["deal_stage_history"]
    deal_history = pa.table(
        {
            "dealId": entered["deal_id"],
            "property": ["dealstage"] * entered.num_rows,
            "value": _labels(entered["stage"], STAGE_IDS),
            "timestamp": [  # ISO text, as the stream's schema types it
                v.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                for v in entered["entered_at"].to_pylist()
            ],
        }
    )
    owners = pa.table(_owners(tables["reps"], "firstName", "lastName"))
    owners = owners.append_column("archived", pa.array([False] * owners.num_rows))
    layout = {
        "contacts": contacts,
        "contacts_property_history": pa.concat_tables([history, other]),
        "deals": deal,
        "deals_property_history": deal_history,
        "owners": owners,
    }
    return {name: _with_airbyte_columns(t) for name, t in layout.items()}


def _with_dlt_columns(table: pa.Table) -> pa.Table:
    n = table.num_rows
    table = table.append_column("_dlt_load_id", pa.array(["1742515200.1"] * n))
    return table.append_column("_dlt_id", pa.array([f"d{i}" for i in range(n)]))


def dlt_layout(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The demo as dlt's HubSpot source lands it (``include_history=True``; the
    default properties, so no ``hs_analytics_source``)."""
    leads, deals = tables["leads"], tables["deals"]
    contacts = pa.table(
        {
            "id": leads["lead_id"],
            "createdate": leads["created_at"],
            "hs_object_id": leads["lead_id"],
            "lifecyclestage": _labels(leads["current_stage"], LIFECYCLE),
            "hubspot_owner_id": leads["owner_id"],
            "associatedcompanyid": leads["account_id"],
        }
    )
    stages = tables["lead_stage_history"]
    moves = stages.filter(pc.not_equal(stages["stage"], "lead"))
    history = pa.table(
        {
            "object_id": moves["lead_id"],
            "property_name": ["lifecyclestage"] * moves.num_rows,
            "value": _labels(moves["stage"], LIFECYCLE),
            "timestamp": moves["entered_at"],
            "source_type": ["CRM_UI"] * moves.num_rows,
        }
    )
    linked = deals.filter(pc.is_valid(deals["lead_id"]))
    contact_deals = pa.table(
        {
            "value": linked["lead_id"],
            "deals_id": linked["deal_id"],
            "_dlt_parent_id": [f"d{i}" for i in range(linked.num_rows)],
            "_dlt_list_idx": [0] * linked.num_rows,
        }
    )
    deal = pa.table(
        {
            "id": deals["deal_id"],
            "amount": deals["amount"],
            "closedate": _tokyo_midnight(deals["close_date"].to_pylist()),
            "createdate": deals["created_at"],
            "dealname": deals["deal_id"],
            "dealstage": _labels(deals["stage"], STAGE_IDS),
            "pipeline": deals["pipeline"],
            "hubspot_owner_id": deals["owner_id"],
        }
    )
    pipeline_stages = pa.table(
        {
            "id": list(STAGE_IDS.values()),
            "label": list(STAGE_IDS),
            "metadata__is_closed": ["true" if s.startswith("closed") else "false"
                                    for s in STAGE_IDS],
            "metadata__probability": ["1.0" if s == "closed_won" else "0.0"
                                      if s == "closed_lost" else "0.5" for s in STAGE_IDS],
            "_dlt_parent_id": ["p0"] * len(STAGE_IDS),
            "_dlt_list_idx": list(range(len(STAGE_IDS))),
        }
    )  # fmt: skip
    entered = tables["deal_stage_history"]
    timing = pa.table(
        {
            "id": entered["deal_id"],
            "hs_v2_date_entered_x": entered["entered_at"],
            "stage": _labels(entered["stage"], STAGE_IDS),
        }
    )
    layout = {
        "contacts": contacts,
        "contacts_property_history": history,
        "contacts__deals": contact_deals,
        "deals": deal,
        "pipelines_deals": pa.table({"id": ["default"], "label": ["Sales Pipeline"]}),
        "pipelines_deals__stages": pipeline_stages,
        "stages_timing_deals": timing,
        "owners": pa.table(_owners(tables["reps"], "first_name", "last_name")),
    }
    return {name: _with_dlt_columns(t) for name, t in layout.items()}


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, Any]]:
    return make_company(tmp_path_factory.mktemp("company"))


def _attach(engine: Engine, project: Project, preset: str, database: str) -> Engine:
    attach_landed(
        engine,
        preset,
        database=database,
        lead_statuses={"other": "disqualified", "lost": "lost"},
        deal_stages={v: k for k, v in STAGE_IDS.items()},
    )
    engine.roster = project.roster()
    return engine


def _duckdb(project: Project, tables: dict[str, Any], layout: dict[str, pa.Table],
            preset: str) -> Engine:  # fmt: skip
    engine = open_engine("duckdb://", timezone="Asia/Tokyo")
    con = engine.con
    con.execute("CREATE SCHEMA hubspot")
    for name, table in layout.items():
        con.register("landing", table)
        cast = "CAST(contacts AS JSON) AS contacts" if "contacts" in table.column_names else ""
        select = f"* REPLACE ({cast})" if cast else "*"
        con.execute(f'CREATE TABLE hubspot."{name}" AS SELECT {select} FROM landing')
        con.unregister("landing")
    con.register("landing", tables["rep_assignments"])
    con.execute("CREATE TABLE rep_assignments AS SELECT * FROM landing")
    con.unregister("landing")
    return _attach(engine, project, preset, "hubspot")


def differences(project: Project, engine: Engine, months: list[str], by: list[str]) -> list[Any]:
    with project.engine() as duck:
        expected = project.status(months, by=by, as_of=AS_OF, engine=duck).frame
    got = project.status(months, by=by, as_of=AS_OF, engine=engine).frame
    columns = ["period", "segment", "node", "actual", "target", "status", "volume"]
    want = expected[expected["node"].isin(NODES)][columns].reset_index(drop=True)
    have = got[got["node"].isin(NODES)][columns].reset_index(drop=True)
    assert len(want) == len(have) and want["actual"].notna().sum() > 20 * len(months)
    return [
        (a["node"], a["period"], a["segment"], c, a[c], b[c])
        for (_, a), (_, b) in zip(want.iterrows(), have.iterrows(), strict=True)
        for c in columns
        if not (a[c] == b[c] or (a[c] != a[c] and b[c] != b[c]))
    ]


@pytest.fixture(scope="module", params=["airbyte_hubspot", "dlt_hubspot"])
def landed(request: pytest.FixtureRequest, company: Any) -> Iterator[Engine]:
    project, tables = company
    layout = airbyte_layout(tables) if request.param == "airbyte_hubspot" else dlt_layout(tables)
    with _duckdb(project, tables, layout, request.param) as engine:
        yield engine


def test_hubspot_as_airbyte_and_dlt_land_it_gives_the_imported_numbers(
    company: tuple[Project, dict[str, Any]], landed: Engine
) -> None:
    """Leads, MQLs (lifecycle history), opportunities, won deals and revenue per
    month and per department, team and rep equal the imported numbers; HubSpot's
    own lifecycle values are named as canonical stages."""
    project, _ = company
    assert differences(project, landed, MONTHS, ["department", "team", "rep"]) == []
    stages = landed.table("lead_stage_history")
    names = set(landed.execute(stages.select("stage").distinct()).column(0).to_pylist())
    assert names == {"lead", *LIFECYCLE}
    leads = landed.table("leads")
    archived = leads.filter(leads.lead_id == "C-archived").count()
    assert landed.execute(archived).column(0)[0].as_py() == 0


def test_data_quality_checks_run_on_airbyte_and_dlt_tables(
    company: tuple[Project, dict[str, Any]], landed: Engine
) -> None:
    """The data check's rules give the imported warehouse's findings on leads,
    deals and their stage history as these tools land them."""
    from kpitree.compute.quality import check_quality

    project, _ = company
    with project.engine() as duck:
        imported = check_quality(duck, project.catalogue, project.tree, AS_OF)
    got = check_quality(landed, project.catalogue, project.tree, AS_OF)

    def found(report: Any, tables: set[str]) -> dict[tuple[str, str], Any]:
        return {
            (f.rule, f.table): (f.code, f.level, f.count, f.examples)
            for f in report.findings
            if f.table in tables
        }

    same = {"leads", "deals", "deal_stage_history"}
    assert found(got, same) == found(imported, same)
    assert ("in_future", "deals") in found(got, same)


def test_without_history_a_lead_has_only_its_creation_and_missing_tables_are_named(
    company: tuple[Project, dict[str, Any]],
) -> None:
    """dlt without ``include_history`` lands no property history: a lead's only
    stage entry is its creation (MQLs are zero, not guessed). A table the preset
    needs that is not there is KT550, naming it and the tables there."""
    from kpitree.errors import UserError

    project, tables = company
    layout = {k: v for k, v in dlt_layout(tables).items() if k != "contacts_property_history"}
    with _duckdb(project, tables, layout, "dlt_hubspot") as engine:
        stages = engine.table("lead_stage_history")
        names = engine.execute(stages.select("stage").distinct()).column(0).to_pylist()
        assert names == ["lead"]
        deals = engine.table("deals")
        won = deals.filter(deals.status == "won").count()
        assert engine.execute(won).column(0)[0].as_py() == sum(
            s == "won" for s in tables["deals"]["status"].to_pylist()
        )
    layout = {k: v for k, v in airbyte_layout(tables).items() if k != "deals"}
    with pytest.raises(UserError) as exc:
        _duckdb(project, tables, layout, "airbyte_hubspot")
    assert exc.value.diagnostics[0].code == "KT550"
    assert "deals" in str(exc.value) and "contacts_property_history" in str(exc.value)


@pytest.mark.engine
@pytest.mark.parametrize("preset", ["airbyte_hubspot", "dlt_hubspot"])
def test_hubspot_as_airbyte_and_dlt_land_it_on_spark(
    company: tuple[Project, dict[str, Any]], spark_session: Any, preset: str
) -> None:
    """The same layouts in a Spark database (Airbyte's associated contacts as a
    Spark array): the imported numbers for a quarter, per team."""
    project, tables = company
    layout = (
        airbyte_layout(tables, arrays=True) if preset == "airbyte_hubspot" else dlt_layout(tables)
    )
    database = preset
    spark_session.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    for name, table in layout.items():
        frame = spark_session.createDataFrame(table)
        frame.write.mode("overwrite").saveAsTable(f"{database}.`{name}`")
    frame = spark_session.createDataFrame(tables["rep_assignments"])
    frame.write.mode("overwrite").saveAsTable("rep_assignments")
    engine = _attach(attach_engine(spark_session, timezone="Asia/Tokyo"), project, preset, database)
    assert differences(project, engine, MONTHS[-3:], ["team"]) == []


def airbyte_entered_columns(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Airbyte's layout without ``deals_property_history``: each deal carries
    HubSpot's per-stage ``hs_v2_date_entered_<stage id>`` (and ``..._exited_...``)
    properties, flattened by Airbyte to ``properties_...`` columns (ISO text), and
    ``..._current_stage``, which is not a stage."""
    layout = airbyte_layout(tables)
    del layout["deals_property_history"]
    deals = layout["deals"]
    entered: dict[tuple[str, str], dt.datetime] = {}
    for row in tables["deal_stage_history"].to_pylist():
        key = (row["deal_id"], STAGE_IDS.get(row["stage"], row["stage"]))
        assert key not in entered  # one entry per deal and stage: a column holds one
        entered[key] = row["entered_at"]

    def iso(value: dt.datetime | None) -> str | None:
        return None if value is None else value.astimezone(dt.UTC).isoformat()

    ids = deals["id"].to_pylist()
    for stage in sorted({s for _, s in entered}):
        at = [entered.get((d, stage)) for d in ids]
        deals = deals.append_column(f"properties_hs_v2_date_entered_{stage}", pa.array(
            [iso(v) for v in at]))  # fmt: skip
        deals = deals.append_column(f"properties_hs_v2_date_exited_{stage}", pa.array(
            [iso(v + dt.timedelta(days=1)) if v else None for v in at]))  # fmt: skip
    current = [iso(dt.datetime(2026, 1, 5, tzinfo=dt.UTC))] * len(ids)
    deals = deals.append_column("properties_hs_v2_date_entered_current_stage", pa.array(current))
    layout["deals"] = deals
    return layout


def test_airbyte_deal_stages_from_the_deals_date_entered_columns(
    company: tuple[Project, dict[str, Any]],
) -> None:
    """Without ``deals_property_history``, the deals' date-entered properties give
    the stage entries: the same numbers as imported. With neither, the deals have
    no stage entries and the data check says the history is missing (KT572)."""
    from kpitree.compute.quality import check_quality

    project, tables = company
    layout = airbyte_entered_columns(tables)
    with _duckdb(project, tables, layout, "airbyte_hubspot") as engine:
        history = engine.execute(engine.table("deal_stage_history")).to_pylist()
        want = tables["deal_stage_history"].to_pylist()
        assert sorted((r["deal_id"], r["stage"], r["entered_at"]) for r in history) == sorted(
            (r["deal_id"], r["stage"], r["entered_at"]) for r in want
        )
        assert differences(project, engine, MONTHS, ["department", "team", "rep"]) == []
        report = check_quality(engine, project.catalogue, project.tree, AS_OF)
        assert "history_missing" not in {f.rule for f in report.findings}
    layout["deals"] = layout["deals"].select(
        [c for c in layout["deals"].column_names if "_hs_v2_date_" not in c]
    )
    with _duckdb(project, tables, layout, "airbyte_hubspot") as engine:
        stages = engine.table("deal_stage_history")
        assert engine.execute(stages.count()).column(0)[0].as_py() == 0
        report = check_quality(engine, project.catalogue, project.tree, AS_OF)
        [missing] = [f for f in report.findings if f.rule == "history_missing"]
        assert (missing.code, missing.table, missing.count) == (
            "KT572", "deal_stage_history", tables["deals"].num_rows)  # fmt: skip
        assert missing.nodes and "deals_property_history" in missing.detail["missing"]
