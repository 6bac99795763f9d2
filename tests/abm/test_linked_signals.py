"""Stage signals follow the cross-source links: a HubSpot contact and deal
that name no account, tied to a Salesforce account only by its 法人番号,
count for that account's engagement, its Account page and its KPIs, as the
ABM columns of the metrics already count them; an activity naming only its
lead counts for the lead's account. Marketo activities imported by the
preset give web visits, form fills and e-mail clicks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project
from kpitree.abm import score_accounts

JST = dt.timezone(dt.timedelta(hours=9))
AS_OF = dt.date(2026, 6, 30)
NUMBER = "7000012050002"

DEFINITION = """\
kpitree: 1
name: abm links
timezone: Asia/Tokyo
nodes:
  revenue: {kind: kgi, unit: currency, metric: revenue}
  target_visits: {unit: count, metric: target_visits}
metrics:
  target_visits: {type: count, entity: activities, where: {type: web_visit, target_account: true}}
abm:
  criteria:
    engagement:
      max_points: 100
      window_days: 30
      signals:
        - {lead_stage: mql, points: 5}
        - {deal_stage: proposal, points: 7}
        - {activity: web_visit, points: 1}
  tiers: {A: 12, B: 5}
  targets: {tiers: [A]}
"""


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=JST)


def _load(folder: Path, rows: dict[str, list[dict[str, Any]]], source: str) -> None:
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse

    tables = {}
    for name, items in rows.items():
        schema = arrow_schema(name)
        tables[name] = pa.Table.from_pylist(
            [{c: r.get(c) for c in schema.names} for r in items], schema=schema
        )
    Warehouse(folder / ".kpitree" / "warehouse.duckdb").bulk_load(
        tables, label=f"{source}.csv", source=source
    )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    number = json.dumps({"法人番号": NUMBER})
    _load(tmp_path, {
        "accounts": [
            {"account_id": "SF-ACME", "name": "アクメ株式会社", "attributes": number},
            {"account_id": "SF-OTHER", "name": "オザー株式会社"},
        ],
    }, "salesforce-accounts")  # fmt: skip
    _load(tmp_path, {
        # Neither names an account: only the 法人番号 ties them to SF-ACME.
        "leads": [{"lead_id": "HS-1", "created_at": _at("2026-06-01"), "current_stage": "mql",
                   "attributes": number}],
        "lead_stage_history": [{"lead_id": "HS-1", "stage": "mql",
                                "entered_at": _at("2026-06-20")}],
        "deals": [{"deal_id": "HS-D1", "created_at": _at("2026-06-21"), "status": "open",
                   "stage": "proposal", "amount": 500.0, "attributes": number}],
        "deal_stage_history": [{"deal_id": "HS-D1", "stage": "proposal",
                                "entered_at": _at("2026-06-22")}],
        # A marketing tool's activity names only its lead.
        "activities": [{"activity_id": "W1", "type": "web_visit", "lead_id": "HS-1",
                        "occurred_at": _at("2026-06-25")}],
    }, "hubspot-contacts")  # fmt: skip
    return Project.load(tmp_path)


def test_the_links_give_the_stage_signals_their_account(project: Project) -> None:
    abm = project.tree.abm
    assert abm is not None
    with project.engine() as engine:
        links = engine.query(
            "SELECT relation, from_id, to_id FROM kpitree_links WHERE status = 'linked'"
        ).to_pylist()
        # The construction: the links, not the stored ids, give the account.
        assert {(r["relation"], r["from_id"], r["to_id"]) for r in links} >= {
            ("lead_account", "HS-1", "SF-ACME"),
            ("deal_account", "HS-D1", "SF-ACME"),
        }
        scores = score_accounts(engine, abm, AS_OF).by_id()
    acme = scores["SF-ACME"]
    assert acme.signals["engagement"] == (5.0, 7.0, 1.0)  # no decay: within 30 days
    assert acme.score == 13.0 and acme.tier == "A"
    assert scores["SF-OTHER"].score == 0.0
    # The Account page lists the linked contact, deal and their stage entries.
    detail = project.account("SF-ACME", as_of=AS_OF, lang="en").to_json()
    assert [c["lead_id"] for c in detail["contacts"]] == ["HS-1"]
    assert [d["deal_id"] for d in detail["deals"]] == ["HS-D1"]
    stages = {(e["kind"], e["what"]) for e in detail["timeline"]}
    assert stages == {("lead_stage", "mql"), ("deal_stage", "proposal"), ("activity", "web_visit")}
    assert detail["kpis"]["open_pipeline"] == 500.0
    # A metric of activities on target accounts counts W1 through its lead.
    status = project.status("2026-06", as_of=AS_OF, explain=False, compare=False)
    assert {r.node: r.actual for r in status.rows if not r.segment}["target_visits"] == 1
    # Kept daily scores (what the Accounts page reads) say the same.
    overview = project.accounts(as_of=AS_OF)
    row = next(r for r in overview.rows if r.score.account_id == "SF-ACME")
    assert row.score.points["engagement"] == 13.0


MARKETO = """\
marketoGUID,leadId,activityDate,activityTypeId,campaignId,primaryAttributeValueId,primaryAttributeValue,attributes
g1,HS-1,2026-06-25T01:00:00Z,1,1,1,page,{}
g2,HS-1,2026-06-26T01:00:00Z,11,1,1,mail,{}
g3,HS-1,2026-06-26T02:00:00Z,6,1,1,mail,{}
g4,HS-1,2026-06-27T01:00:00Z,2,1,1,form,{}
"""


def test_marketo_activities_score_visits_forms_and_clicks(project: Project) -> None:
    from kpitree.cli import main

    text = (project.path / "kpitree.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "        - {activity: web_visit, points: 1}\n",
        "        - {activity: web_visit, points: 1}\n"
        "        - {activity: email, outcome: clicked, points: 2}\n"
        "        - {activity: form_fill, points: 4}\n",
    )
    (project.path / "kpitree.yaml").write_text(text, encoding="utf-8")
    export = project.path / "activities.csv"
    export.write_text(MARKETO, encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["import", str(export), "-m", "marketo-activities", "-p", str(project.path)])
    assert done.value.code in (0, None)
    reloaded = Project.load(project.path)
    abm = reloaded.tree.abm
    assert abm is not None
    with reloaded.engine() as engine:
        acme = score_accounts(engine, abm, AS_OF).by_id()["SF-ACME"]
    # One visit (W1) and one from Marketo, one click (the send does not count), one form.
    assert acme.signals["engagement"] == (5.0, 7.0, 2.0, 2.0, 4.0)
