"""A small project with ABM for the views (façade, CLI, web): ACME moves
from tier B to A in June by two meetings; BETA is on the target list by its
法人番号; GAMMA has no firmographics."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

JST = dt.timezone(dt.timedelta(hours=9))
AS_OF = dt.date(2026, 6, 30)

DEFINITION = """\
kpitree: 1
name: abm views
timezone: Asia/Tokyo
nodes:
  revenue: {kind: kgi, unit: currency, metric: revenue}
abm:
  criteria:
    size:
      label: {ja: 企業規模, en: Company size}
      field: employees
      max_points: 30
      bands: [{min: 1000, points: 30}, {min: 100, max: 1000, points: 10}]
    engagement:
      label: {ja: エンゲージメント, en: Engagement}
      max_points: 40
      window_days: 30
      signals:
        - {label: {ja: 面談, en: Meetings}, activity: meeting, points: 10}
        - {lead_stage: mql, points: 5}
  tiers: {A: 50, B: 30}
  targets: {tiers: [A], file: targets.csv}
"""

LIST = "法人番号,会社名\n7000012050002,\n,どこにもない会社\n"


def jst(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=JST)


def build(folder: Path, definition: str = DEFINITION) -> Path:
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse

    (folder / "kpitree.yaml").write_text(definition, encoding="utf-8")
    (folder / "targets.csv").write_text(LIST, encoding="utf-8")
    rows: dict[str, list[dict[str, Any]]] = {
        "accounts": [
            {"account_id": "ACME", "name": "アクメ株式会社", "employees": 1500,
             "industry": "製造", "region": "関東"},
            {"account_id": "BETA", "name": "<b>ベータ</b>", "employees": 200,
             "attributes": json.dumps({"corporate_number": "7000012050002"})},
            {"account_id": "GAMMA", "name": "ガンマ"},
        ],
        "activities": [
            {"activity_id": "M1", "type": "meeting", "occurred_at": jst("2026-06-02"),
             "account_id": "ACME", "outcome": "held"},
            {"activity_id": "M2", "type": "meeting", "occurred_at": jst("2026-06-03"),
             "account_id": "ACME", "outcome": "held"},
        ],
        "leads": [
            {"lead_id": "L1", "created_at": jst("2026-05-01"), "account_id": "ACME",
             "current_stage": "mql"},
        ],
        "lead_stage_history": [
            {"lead_id": "L1", "stage": "mql", "entered_at": jst("2026-06-10")},
        ],
        "deals": [
            {"deal_id": "D1", "account_id": "ACME", "created_at": jst("2026-06-12"),
             "status": "open", "amount": 3000000.0, "close_date": dt.date(2026, 8, 31)},
            {"deal_id": "D0", "account_id": "ACME", "created_at": jst("2026-01-12"),
             "status": "won", "amount": 1000000.0, "close_date": dt.date(2026, 3, 31)},
        ],
        "deal_stage_history": [
            {"deal_id": "D1", "stage": "proposal", "entered_at": jst("2026-06-20")},
        ],
    }  # fmt: skip
    arrow = {}
    for name, table_rows in rows.items():
        schema = arrow_schema(name)
        full = [{c: r.get(c) for c in schema.names} for r in table_rows]
        arrow[name] = pa.Table.from_pylist(full, schema=schema)
    Warehouse(folder / ".kpitree" / "warehouse.duckdb").bulk_load(arrow, label="abm")
    return folder
