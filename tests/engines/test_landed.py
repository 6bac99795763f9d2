"""Canonical tables as views over Salesforce data as Fivetran lands it.

The demo company is written in Fivetran's Salesforce layout (one table per
object, API field names in snake case, ``is_deleted``) into a schema of an
in-memory DuckDB, with the statuses and stages as a Salesforce org names them;
kpitree reads it through the ``fivetran_salesforce`` preset and must give the
numbers the imported warehouse gives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engines.whole_status import AS_OF, MONTHS, make_company
from kpitree.engines import Engine, open_engine
from kpitree.engines.landed import attach_landed
from kpitree.project import Project

pytestmark = [pytest.mark.slow]

# Lead statuses and opportunity stages as a Salesforce org names them.
LEAD_STATUSES = {
    "mql": "Marketing Qualified",
    "sql": "Sales Accepted",
    "opportunity": "Closed - Converted",
    "disqualified": "Closed - Not Converted",
    "won": "Customer",
    "lost": "Lost",
}
DEAL_STAGES = {
    "qualification": "Qualification",
    "proposal": "Proposal/Price Quote",
    "negotiation": "Negotiation/Review",
    "closed_won": "Closed Won",
    "closed_lost": "Closed Lost",
}
# Nodes whose metrics read leads, their stages and deals only.
NODES = ("leads", "mqls", "won_deals", "new_revenue", "avg_deal_size", "opportunities")


def _labels(column: pa.ChunkedArray, names: dict[str, str]) -> list[Any]:
    return [names.get(v, v) for v in column.to_pylist()]


def _fivetran(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The canonical demo tables in Fivetran's Salesforce layout."""
    leads, deals = tables["leads"], tables["deals"]
    first_deal: dict[str, str] = {}
    for row in sorted(deals.select(["deal_id", "lead_id", "created_at"]).to_pylist(),
                      key=lambda r: r["created_at"]):  # fmt: skip
        if row["lead_id"] is not None:
            first_deal.setdefault(row["lead_id"], row["deal_id"])
    n = leads.num_rows
    lead = pa.table(
        {
            "id": leads["lead_id"],
            "created_date": leads["created_at"],
            "lead_source": leads["channel"],
            "owner_id": leads["owner_id"],
            "industry": leads["industry"],
            "status": _labels(leads["current_stage"], LEAD_STATUSES),
            "converted_account_id": leads["account_id"],
            "converted_opportunity_id": [first_deal.get(i) for i in leads["lead_id"].to_pylist()],
            "is_deleted": [False] * n,
        }
    )
    gone = pa.table(  # deleted in Salesforce: never counted
        {
            "id": ["L-deleted"],
            "created_date": pa.array(
                [dt.datetime(2025, 10, 1, 3, tzinfo=dt.UTC)], lead["created_date"].type
            ),
            "lead_source": ["web"],
            "owner_id": ["R0001"],
            "industry": [None],
            "status": ["Marketing Qualified"],
            "converted_account_id": [None],
            "converted_opportunity_id": [None],
            "is_deleted": [True],
        },
        schema=lead.schema,
    )  # fmt: skip
    stages = tables["lead_stage_history"]
    moves = stages.filter(pc.not_equal(stages["stage"], "lead"))
    lead_history = pa.table(
        {
            "id": [f"H{i}" for i in range(moves.num_rows)],
            "lead_id": moves["lead_id"],
            "field": ["Status"] * moves.num_rows,
            "old_value": pa.nulls(moves.num_rows, pa.string()),
            "new_value": _labels(moves["stage"], LEAD_STATUSES),
            "created_date": moves["entered_at"],
            "is_deleted": [False] * moves.num_rows,
        }
    )
    rating = lead_history.slice(0, 5).set_column(2, "field", pa.array(["Rating"] * 5))
    status = deals["status"].to_pylist()
    opportunity = pa.table(
        {
            "id": deals["deal_id"],
            "account_id": deals["account_id"],
            "owner_id": deals["owner_id"],
            "created_date": deals["created_at"],
            "close_date": deals["close_date"],
            "amount": deals["amount"],
            "stage_name": _labels(deals["stage"], DEAL_STAGES),
            "is_closed": [s != "open" for s in status],
            "is_won": [s == "won" for s in status],
            "type": deals["pipeline"],
            "is_deleted": [False] * deals.num_rows,
        }
    )
    history = tables["deal_stage_history"]
    opportunity_history = pa.table(
        {
            "id": [f"OH{i}" for i in range(history.num_rows)],
            "opportunity_id": history["deal_id"],
            "stage_name": _labels(history["stage"], DEAL_STAGES),
            "created_date": history["entered_at"],
            "is_deleted": [False] * history.num_rows,
        }
    )
    accounts, reps = tables["accounts"], tables["reps"]
    account = pa.table(
        {
            "id": accounts["account_id"],
            "name": accounts["name"],
            "industry": accounts["industry"],
            "number_of_employees": accounts["employees"],
            "annual_revenue": accounts["annual_revenue"],
            "owner_id": accounts["owner_id"],
            "created_date": accounts["created_at"],
            "is_deleted": [False] * accounts.num_rows,
        }
    )
    user = pa.table({"id": reps["rep_id"], "name": reps["name"], "email": reps["email"]})
    return {
        "lead": pa.concat_tables([lead, gone]),
        "lead_history": pa.concat_tables([lead_history, rating]),
        "opportunity": opportunity,
        "opportunity_history": opportunity_history,
        "account": account,
        "user": user,
    }


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, Any]]:
    return make_company(tmp_path_factory.mktemp("landed"))


@pytest.fixture(scope="module")
def landed(company: tuple[Project, dict[str, Any]]) -> Iterator[Engine]:
    project, tables = company
    with open_engine("duckdb://", timezone="Asia/Tokyo") as engine:
        con = engine.con
        con.execute("CREATE SCHEMA salesforce")
        for name, table in _fivetran(tables).items():
            con.register("landing", table)
            con.execute(f'CREATE TABLE salesforce."{name}" AS SELECT * FROM landing')
            con.unregister("landing")
        # The company keeps its organisation's history itself, as kpitree does.
        con.register("landing", tables["rep_assignments"])
        con.execute("CREATE TABLE rep_assignments AS SELECT * FROM landing")
        con.unregister("landing")
        got = attach_landed(
            engine,
            "fivetran_salesforce",
            database="salesforce",
            lead_statuses={v: k for k, v in LEAD_STATUSES.items()},
            deal_stages={v: k for k, v in DEAL_STAGES.items()},
        )
        assert got == [
            "accounts", "deal_stage_history", "deals", "lead_stage_history", "leads", "reps",
        ]  # fmt: skip
        engine.roster = project.roster()
        yield engine


def test_the_landed_tables_give_the_imported_numbers(
    company: tuple[Project, dict[str, Any]], landed: Engine
) -> None:
    """Leads, MQLs (first entry of the mapped status), opportunities (credited to
    the converted lead's owner), won deals and revenue, per month and per
    department, team and rep: the same as from the imported warehouse."""
    project, _ = company
    by = ["department", "team", "rep"]
    with project.engine() as duck:
        expected = project.status(MONTHS, by=by, as_of=AS_OF, engine=duck).frame
    got = project.status(MONTHS, by=by, as_of=AS_OF, engine=landed).frame
    columns = ["level", "period", "segment", "node", "actual", "target", "status", "volume"]
    columns = [c for c in columns if c in expected.columns]
    keep = expected["node"].isin(NODES)
    want = expected[keep][columns].reset_index(drop=True)
    have = got[got["node"].isin(NODES)][columns].reset_index(drop=True)
    assert want["actual"].notna().sum() > 300
    assert len(want) == len(have)
    differences = [
        (a["node"], a["period"], a["segment"], c, a[c], b[c])
        for (_, a), (_, b) in zip(want.iterrows(), have.iterrows(), strict=True)
        for c in columns
        if not (a[c] == b[c] or (a[c] != a[c] and b[c] != b[c]))
    ]
    assert differences == []


def test_deleted_rows_and_other_fields_are_left_out(landed: Engine) -> None:
    leads = landed.table("leads")
    assert (
        landed.execute(leads.filter(leads.lead_id == "L-deleted").count()).column(0)[0].as_py() == 0
    )
    stages = landed.table("lead_stage_history")
    names = set(landed.execute(stages.select("stage").distinct()).column(0).to_pylist())
    assert names == {"lead", *LEAD_STATUSES}
    deals = landed.table("deals")
    counts = landed.execute(deals.group_by("status").agg(n=deals.count())).to_pylist()
    assert {r["status"] for r in counts} == {"open", "won", "lost"}


def test_a_canonical_table_nothing_landed_is_empty(landed: Engine, tmp_path: Path) -> None:
    activities = landed.table("activities")
    assert landed.execute(activities.count()).column(0)[0].as_py() == 0
    assert "fivetran_salesforce salesforce" in landed.where


# HubSpot's lifecycle stages (internal values) and deal stage ids of a portal.
LIFECYCLE = {
    "mql": "marketingqualifiedlead",
    "sql": "salesqualifiedlead",
    "opportunity": "opportunity",
    "won": "customer",
    "disqualified": "other",
    "lost": "lost",
}
STAGE_IDS = {
    "qualification": "appointmentscheduled",
    "proposal": "presentationscheduled",
    "negotiation": "contractsent",
    "closed_won": "closedwon",
    "closed_lost": "closedlost",
}


def _tokyo_midnight(days: list[Any]) -> pa.Array:
    """HubSpot's close date: an instant, the midnight that starts the day in the
    portal's zone (Tokyo)."""
    jst = dt.timezone(dt.timedelta(hours=9))
    return pa.array(
        [None if d is None else dt.datetime(d.year, d.month, d.day, tzinfo=jst) for d in days],
        pa.timestamp("us", "UTC"),
    )


def _hubspot(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The canonical demo tables in Fivetran's HubSpot layout."""
    leads, deals = tables["leads"], tables["deals"]
    n = leads.num_rows
    contact = pa.table(
        {
            "id": leads["lead_id"],
            "property_createdate": leads["created_at"],
            "property_hs_analytics_source": leads["channel"],
            "property_hubspot_owner_id": leads["owner_id"],
            "property_associatedcompanyid": leads["account_id"],
            "property_lifecyclestage": _labels(leads["current_stage"], LIFECYCLE),
            "_fivetran_deleted": [False] * n,
        }
    )
    stages = tables["lead_stage_history"]
    moves = stages.filter(pc.not_equal(stages["stage"], "lead"))
    history = pa.table(
        {
            "contact_id": moves["lead_id"],
            "name": ["lifecyclestage"] * moves.num_rows,
            "value": _labels(moves["stage"], LIFECYCLE),
            "timestamp": moves["entered_at"],
            "source": ["CRM_UI"] * moves.num_rows,
        }
    )
    other = history.slice(0, 5).set_column(1, "name", pa.array(["hs_lead_status"] * 5))
    deal = pa.table(
        {
            "deal_id": deals["deal_id"],
            "owner_id": deals["owner_id"],
            "deal_pipeline_id": deals["pipeline"],
            "deal_pipeline_stage_id": _labels(deals["stage"], STAGE_IDS),
            "property_createdate": deals["created_at"],
            "property_closedate": _tokyo_midnight(deals["close_date"].to_pylist()),
            "property_amount": deals["amount"],
            "is_deleted": [False] * deals.num_rows,
        }
    )
    pipeline_stage = pa.table(
        {
            "stage_id": list(STAGE_IDS.values()),
            "label": list(STAGE_IDS),
            "closed_won": [s == "closed_won" for s in STAGE_IDS],
            "probability": [1.0 if s == "closed_won" else 0.0 if s == "closed_lost" else 0.5
                            for s in STAGE_IDS],
            "_fivetran_deleted": [False] * len(STAGE_IDS),
        }
    )  # fmt: skip
    linked = deals.filter(pc.is_valid(deals["lead_id"]))
    deal_contact = pa.table({"deal_id": linked["deal_id"], "contact_id": linked["lead_id"]})
    entered = tables["deal_stage_history"]
    deal_stage = pa.table(
        {
            "deal_id": entered["deal_id"],
            "value": _labels(entered["stage"], STAGE_IDS),
            "date_entered": entered["entered_at"],
        }
    )
    reps = tables["reps"]
    names = [(name or " ").split(" ", 1) for name in reps["name"].to_pylist()]
    owner = pa.table(
        {
            "owner_id": reps["rep_id"],
            "email": reps["email"],
            "last_name": [n[0] for n in names],
            "first_name": [n[1] if len(n) > 1 else None for n in names],
        }
    )
    return {
        "contact": contact,
        "contact_property_history": pa.concat_tables([history, other]),
        "deal": deal,
        "deal_pipeline_stage": pipeline_stage,
        "deal_contact": deal_contact,
        "deal_stage": deal_stage,
        "owner": owner,
    }


@pytest.fixture(scope="module")
def hubspot(company: tuple[Project, dict[str, Any]]) -> Iterator[Engine]:
    project, tables = company
    with open_engine("duckdb://", timezone="Asia/Tokyo") as engine:
        con = engine.con
        con.execute("CREATE SCHEMA hubspot")
        for name, table in _hubspot(tables).items():
            con.register("landing", table)
            con.execute(f'CREATE TABLE hubspot."{name}" AS SELECT * FROM landing')
            con.unregister("landing")
        con.register("landing", tables["rep_assignments"])
        con.execute("CREATE TABLE rep_assignments AS SELECT * FROM landing")
        con.unregister("landing")
        attach_landed(
            engine,
            "fivetran_hubspot",
            database="hubspot",
            lead_statuses={"other": "disqualified", "lost": "lost"},
            deal_stages={v: k for k, v in STAGE_IDS.items()},
        )
        engine.roster = project.roster()
        yield engine


def test_hubspot_as_fivetran_lands_it_gives_the_imported_numbers(
    company: tuple[Project, dict[str, Any]], hubspot: Engine
) -> None:
    """Contacts, lifecycle-stage history (HubSpot's own stage names), deals with
    their pipeline stages (won: closed_won; lost: closed at probability 0) and
    the contact each deal is associated with."""
    project, _ = company
    by = ["department", "team", "rep"]
    with project.engine() as duck:
        expected = project.status(MONTHS, by=by, as_of=AS_OF, engine=duck).frame
    got = project.status(MONTHS, by=by, as_of=AS_OF, engine=hubspot).frame
    columns = ["period", "segment", "node", "actual", "target", "status", "volume"]
    want = expected[expected["node"].isin(NODES)][columns].reset_index(drop=True)
    have = got[got["node"].isin(NODES)][columns].reset_index(drop=True)
    assert len(want) == len(have) and want["actual"].notna().sum() > 300
    differences = [
        (a["node"], a["period"], a["segment"], c, a[c], b[c])
        for (_, a), (_, b) in zip(want.iterrows(), have.iterrows(), strict=True)
        for c in columns
        if not (a[c] == b[c] or (a[c] != a[c] and b[c] != b[c]))
    ]
    assert differences == []
    leads = hubspot.table("lead_stage_history")
    names = set(hubspot.execute(leads.select("stage").distinct()).column(0).to_pylist())
    assert names == {"lead", *LIFECYCLE}


# -- Airbyte's and dlt's Salesforce layouts --------------------------------------------


def _airbyte(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The demo in Airbyte's Salesforce layout as its Destinations V2 land it in
    DuckDB or PostgreSQL: one table per object, table and field API names
    lowercased (``leadhistory``, ``createddate``), and Airbyte's own columns."""
    out = {}
    for name, table in _fivetran(tables).items():
        renamed = table.rename_columns([c.replace("_", "") for c in table.column_names])
        n = renamed.num_rows
        renamed = renamed.append_column("_airbyte_raw_id", pa.array([f"r{i}" for i in range(n)]))
        at = dt.datetime(2026, 3, 21, tzinfo=dt.UTC)
        renamed = renamed.append_column("_airbyte_extracted_at", pa.array([at] * n))
        renamed = renamed.append_column("_airbyte_meta", pa.array(['{"changes": []}'] * n))
        out[name.replace("_", "")] = renamed
    return out


def _dlt(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The demo in dlt's Salesforce layout: its resources (no field history) as
    snake-case tables and columns, with dlt's ``_dlt_load_id`` and ``_dlt_id``."""
    out = {}
    for name, table in _fivetran(tables).items():
        if name.endswith("_history"):
            continue
        n = table.num_rows
        table = table.append_column("_dlt_load_id", pa.array(["1742515200.1"] * n))
        out[name] = table.append_column("_dlt_id", pa.array([f"d{i}" for i in range(n)]))
    return out


def _landed_engine(
    project: Project, tables: dict[str, Any], layout: dict[str, pa.Table], preset: str
) -> Engine:
    engine = open_engine("duckdb://", timezone="Asia/Tokyo")
    con = engine.con
    con.execute("CREATE SCHEMA crm")
    for name, table in layout.items():
        con.register("landing", table)
        con.execute(f'CREATE TABLE crm."{name}" AS SELECT * FROM landing')
        con.unregister("landing")
    con.register("landing", tables["rep_assignments"])
    con.execute("CREATE TABLE rep_assignments AS SELECT * FROM landing")
    con.unregister("landing")
    attach_landed(
        engine,
        preset,
        database="crm",
        lead_statuses={v: k for k, v in LEAD_STATUSES.items()},
        deal_stages={v: k for k, v in DEAL_STAGES.items()},
    )
    engine.roster = project.roster()
    return engine


def _node_differences(project: Project, engine: Engine, nodes: tuple[str, ...]) -> list[Any]:
    by = ["department", "team", "rep"]
    with project.engine() as duck:
        expected = project.status(MONTHS, by=by, as_of=AS_OF, engine=duck).frame
    got = project.status(MONTHS, by=by, as_of=AS_OF, engine=engine).frame
    columns = ["period", "segment", "node", "actual", "target", "status", "volume"]
    want = expected[expected["node"].isin(nodes)][columns].reset_index(drop=True)
    have = got[got["node"].isin(nodes)][columns].reset_index(drop=True)
    assert want["actual"].notna().sum() > 200 and len(want) == len(have)
    return [
        (a["node"], a["period"], a["segment"], c, a[c], b[c])
        for (_, a), (_, b) in zip(want.iterrows(), have.iterrows(), strict=True)
        for c in columns
        if not (a[c] == b[c] or (a[c] != a[c] and b[c] != b[c]))
    ]


def test_salesforce_as_airbyte_lands_it_gives_the_imported_numbers(
    company: tuple[Project, dict[str, Any]],
) -> None:
    """Airbyte keeps Salesforce's API names (lowercased by the destination):
    the same leads, MQLs, opportunities, won deals and revenue as imported."""
    project, tables = company
    with _landed_engine(project, tables, _airbyte(tables), "airbyte_salesforce") as engine:
        assert _node_differences(project, engine, NODES) == []
        leads = engine.table("leads")
        gone = leads.filter(leads.lead_id == "L-deleted").count()  # IsDeleted
        assert engine.execute(gone).column(0)[0].as_py() == 0


def test_salesforce_as_dlt_lands_it_gives_the_imported_numbers(
    company: tuple[Project, dict[str, Any]],
) -> None:
    """dlt's Salesforce source loads no field history: leads, opportunities, won
    deals and revenue equal the imported numbers; stage entries other than the
    lead's creation are not invented."""
    project, tables = company
    with _landed_engine(project, tables, _dlt(tables), "dlt_salesforce") as engine:
        nodes = tuple(n for n in NODES if n != "mqls")
        assert _node_differences(project, engine, nodes) == []
        stages = engine.table("lead_stage_history")
        names = engine.execute(stages.select("stage").distinct()).column(0).to_pylist()
        assert names == ["lead"]
        history = engine.table("deal_stage_history")
        assert engine.execute(history.count()).column(0)[0].as_py() == 0


def test_a_preset_names_the_landed_table_it_lacks(
    company: tuple[Project, dict[str, Any]],
) -> None:
    from kpitree.errors import UserError

    project, tables = company
    layout = {k: v for k, v in _airbyte(tables).items() if k != "opportunity"}
    with pytest.raises(UserError) as exc:
        _landed_engine(project, tables, layout, "airbyte_salesforce")
    assert exc.value.diagnostics[0].code == "KT550"
    assert "Opportunity" in str(exc.value) and "leadhistory" in str(exc.value)


def test_data_quality_checks_run_on_landed_tables(
    company: tuple[Project, dict[str, Any]], landed: Engine
) -> None:
    """``kpitree data check``'s rules read the canonical tables through the
    engine, so they check what Fivetran landed as they check an import."""
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
    assert ("in_future", "deals") in found(got, same)  # deals closing after the as-of day
    # The preset records each lead's creation as its ``lead`` entry, which the
    # generated history lacks for the edge lead E4 (created after the as-of day).
    (before,) = found(imported, {"lead_stage_history"}).values()
    (after,) = found(got, {"lead_stage_history"}).values()
    assert after[2] == before[2] + 1 and "E4" in after[3]
