"""Any metric split by target vs other accounts (``by: target_account``), each
fact by its account's membership on its day; facts of deals stored by another
source read the account the cross-source links give them; departments reached
per account. All against an independent count."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project

from .company import TABLES, at

AS_OF = dt.date(2026, 6, 30)

DEFINITION = """\
kpitree: 1
name: abm by target
timezone: Asia/Tokyo
period: month
nodes:
  revenue: {kind: kgi, unit: currency, metric: revenue}
  opportunities: {unit: count, metric: opportunities}
  pipeline_created: {unit: currency, metric: pipeline_created}
  target_pipeline_created: {unit: currency, metric: target_pipeline_created}
  target_departments_reached: {unit: count, metric: target_departments_reached}
  departments_per_account: {unit: count, metric: departments_per_engaged_target_account}
metrics:
  pipeline_created: {type: sum, entity: deals, measure: amount, time: created_at}
abm:
  criteria:
    size:
      field: employees
      max_points: 30
      bands: [{min: 1000, points: 30}]
  tiers: {A: 30}
  targets: {file: targets.csv}
"""

# ALPHA all along; BETA from June 16.
LIST = "会社名,from\nアルファ,\nベータ,2026-06-16\n"
NUMBER = "7000012050002"


def _crm() -> dict[str, list[dict[str, Any]]]:
    made = at(dt.date(2026, 1, 5))
    leads = [
        {"lead_id": f"L{k}", "created_at": made, "account_id": account,
         "attributes": json.dumps({"部署": dept} if dept else {})}
        for k, (account, dept) in enumerate(
            [("ALPHA", "情報システム部"), ("ALPHA", "情報システム部 "), ("ALPHA", "経営企画部"),
             ("ALPHA", None), ("BETA", "総務部"), ("BETA", "経理部"), ("GAMMA", "営業部")]
        )
    ]  # fmt: skip
    acts = [
        # L0 and L1 are one department (trimmed), L2 another, L3 has none.
        ("L0", "ALPHA", 2), ("L1", "ALPHA", 3), ("L2", "ALPHA", 4), ("L3", "ALPHA", 5),
        # BETA: 総務部 before it is a target (not reached as a target), 経理部 after.
        ("L4", "BETA", 10), ("L5", "BETA", 20),
        ("L6", "GAMMA", 12),
    ]  # fmt: skip
    return {
        "accounts": [
            {"account_id": "ALPHA", "name": "アルファ株式会社", "created_at": made,
             "attributes": json.dumps({"法人番号": NUMBER})},
            {"account_id": "BETA", "name": "ベータ", "created_at": made},
            {"account_id": "GAMMA", "name": "ガンマ", "employees": 10, "created_at": made},
        ],
        "leads": leads,
        "activities": [
            {"activity_id": f"X{k}", "type": "email", "lead_id": lead, "account_id": account,
             "occurred_at": at(dt.date(2026, 6, day))}
            for k, (lead, account, day) in enumerate(acts)
        ],
        "deals": [
            {"deal_id": "D1", "account_id": "BETA", "created_at": at(dt.date(2026, 6, 5)),
             "status": "open", "amount": 100.0},
            {"deal_id": "D2", "account_id": "BETA", "created_at": at(dt.date(2026, 6, 20)),
             "status": "open", "amount": 1000.0},
            {"deal_id": "D3", "account_id": "GAMMA", "created_at": at(dt.date(2026, 6, 8)),
             "status": "open", "amount": 7.0},
            {"deal_id": "D4", "account_id": None, "created_at": at(dt.date(2026, 6, 9)),
             "status": "open", "amount": 3.0},
        ],
    }  # fmt: skip


def _sfa() -> dict[str, list[dict[str, Any]]]:
    # Another system's deal: its account id is that system's, its 法人番号 is ALPHA's.
    return {
        "deals": [
            {"deal_id": "S1", "account_id": "001SF", "created_at": at(dt.date(2026, 6, 11)),
             "status": "open", "amount": 50000.0,
             "attributes": json.dumps({"法人番号": NUMBER})},
        ]
    }  # fmt: skip


def _load(folder: Path, tables: dict[str, list[dict[str, Any]]], source: str) -> None:
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse

    arrow = {}
    for name in TABLES:
        if name not in tables:
            continue
        schema = arrow_schema(name)
        rows = [{c: r.get(c) for c in schema.names} for r in tables[name]]
        arrow[name] = pa.Table.from_pylist(rows, schema=schema)
    Warehouse(folder / ".kpitree" / "warehouse.duckdb").bulk_load(
        arrow, label=f"{source}.csv", source=source
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("by_target")
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    (folder / "targets.csv").write_text(LIST, encoding="utf-8")
    _load(folder, _crm(), "crm")
    _load(folder, _sfa(), "sfa")
    return Project.load(folder)


def _target(account: str | None, day: dt.date) -> bool:
    return account == "ALPHA" or (account == "BETA" and day >= dt.date(2026, 6, 16))


def _deals() -> list[tuple[str, str | None, dt.date, float]]:
    """(deal, account as linked, day, amount): S1 is ALPHA's through its 法人番号."""
    out = []
    for d in [*_crm()["deals"], *_sfa()["deals"]]:
        account = "ALPHA" if d["deal_id"] == "S1" else d["account_id"]
        out.append((d["deal_id"], account, d["created_at"].date(), d["amount"]))
    return out


def test_any_metric_by_target_account(project: Project) -> None:
    result = project.status("2026-06", by=["target_account"], as_of=AS_OF, explain=False,
                            compare=False)  # fmt: skip
    got: dict[tuple[str, str], float | None] = {}
    for r in result.rows:
        if r.segment:
            got[(r.node, dict(r.segment)["target_account"])] = r.actual
    deals = _deals()
    for flag in (True, False):
        mine = [d for d in deals if _target(d[1], d[2]) == flag]
        assert got[("opportunities", str(flag).lower())] == len(mine)
        assert got[("pipeline_created", str(flag).lower())] == pytest.approx(
            sum(d[3] for d in mine)
        )
    # The two sides add up to the whole.
    total = {r.node: r.actual for r in result.rows if not r.segment}
    assert total["opportunities"] == len(deals) == 5


def test_a_linked_deal_counts_for_its_linked_account(project: Project) -> None:
    result = project.status("2026-06", as_of=AS_OF, explain=False, compare=False)
    got = {r.node: r.actual for r in result.rows if not r.segment}
    want = sum(d[3] for d in _deals() if _target(d[1], d[2]))
    assert want == 51000.0  # S1 through the link, D2 once BETA is on the list
    assert got["target_pipeline_created"] == pytest.approx(want)


def test_departments_reached_per_target_account(project: Project) -> None:
    result = project.status("2026-06", as_of=AS_OF, explain=False, compare=False)
    got = {r.node: r.actual for r in result.rows if not r.segment}
    # ALPHA: 情報システム部, 経営企画部 (L3 has no department); BETA: 経理部 only.
    assert got["target_departments_reached"] == 3
    # Engaged target accounts: ALPHA and BETA.
    assert got["departments_per_account"] == pytest.approx(3 / 2)
