"""A hand-made company for alert and SLA tests (Asia/Tokyo; JST = UTC+9).

Inside sales has two teams: 東日本 (rep r1) and 西日本 (rep r2). The SLA
``mql_first_touch`` is "a call within 8 business hours of the MQL"
(Mon-Fri 09:00-18:00, Japanese holidays closed). October 2026: Monday 10-12
is Sports Day (スポーツの日). The cases, as they stand at
Wednesday 2026-10-14 12:00 JST (NOW), worked out by hand:

=====  ====  =======================  ============================  =====================
lead   rep   MQL (JST)                first call (JST)              result
=====  ====  =======================  ============================  =====================
L1     r1    Mon 10-05 10:00          Mon 10-05 15:00               met, 5 h
L2     r1    Fri 10-09 17:30          Tue 10-13 10:00 (Mon holiday) met, 0.5 + 1 = 1.5 h
L3     r1    Wed 10-07 09:00          Thu 10-08 12:00               breached, 9 + 3 = 12 h
L7     r1    Tue 10-06 09:30          Tue 10-06 20:00 (an e-mail    breached, 8.5 h
                                      at 10:00 does not count)
L4     r2    Sat 10-10 11:00          none; clock starts Tue 09:00  breached (due Tue 17:00),
                                                                    12 h by NOW
L5     r2    Wed 10-14 10:00          none                          open, 2 h, 6 h left
L6     r2    Tue 10-13 14:00          none                          open, 7 h, 1 h left:
                                                                    about to breach (< 2 h)
L8     r2    Thu 10-01 09:00          Thu 10-01 10:00 (a call at    met, 1 h
                                      08:00 came before the MQL)
=====  ====  =======================  ============================  =====================

Totals: met 3, breached 3, open 2 → compliance 3/6 = 50%; response hours of
the answered cases 1, 1.5, 5, 8.5, 12 → P50 5 h, P95 8.5 + 0.8 × 3.5 = 11.3 h.
r1: 2 met, 2 breached (50%); r2: 1 met, 1 breached, 2 open (50%).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

JST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 10, 14, 12, 0, tzinfo=JST)


def jst(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST).astimezone(dt.UTC)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


MQLS = {
    "L1": ("r1", "2026-10-05T10:00"),
    "L2": ("r1", "2026-10-09T17:30"),
    "L3": ("r1", "2026-10-07T09:00"),
    "L7": ("r1", "2026-10-06T09:30"),
    "L4": ("r2", "2026-10-10T11:00"),
    "L5": ("r2", "2026-10-14T10:00"),
    "L6": ("r2", "2026-10-13T14:00"),
    "L8": ("r2", "2026-10-01T09:00"),
}
ACTIVITIES = [
    ("A1", "call", "2026-10-05T15:00", "r1", "L1"),
    ("A2", "call", "2026-10-13T10:00", "r1", "L2"),
    ("A3", "call", "2026-10-08T12:00", "r1", "L3"),
    ("A4", "email", "2026-10-06T10:00", "r1", "L7"),
    ("A5", "call", "2026-10-06T20:00", "r1", "L7"),
    ("A6", "call", "2026-10-01T08:00", "r2", "L8"),
    ("A7", "call", "2026-10-01T10:00", "r2", "L8"),
    # After NOW: not known at NOW.
    ("A8", "call", "2026-10-14T15:00", "r2", "L5"),
]


def tables() -> dict[str, list[dict[str, Any]]]:
    leads = [
        {"lead_id": lid, "created_at": jst(at) - dt.timedelta(days=1), "owner_id": rep,
         "channel": "web" if lid in ("L1", "L4") else "イベント"}
        for lid, (rep, at) in MQLS.items()
    ]  # fmt: skip
    history = [
        {"lead_id": lid, "stage": "mql", "entered_at": jst(at)} for lid, (_, at) in MQLS.items()
    ]
    return {
        "reps": [{"rep_id": "r1", "name": "佐藤"}, {"rep_id": "r2", "name": "鈴木"}],
        "rep_assignments": [
            {"rep_id": "r1", "valid_from": d("2026-01-01"), "department": "inside_sales",
             "team": "東日本"},
            {"rep_id": "r2", "valid_from": d("2026-01-01"), "department": "inside_sales",
             "team": "西日本"},
        ],
        "leads": leads,
        "lead_stage_history": history,
        "activities": [
            {"activity_id": a, "type": kind, "occurred_at": jst(at), "owner_id": rep,
             "lead_id": lead}
            for a, kind, at, rep, lead in ACTIVITIES
        ],
    }  # fmt: skip


DEFINITION = """\
kpitree: 1
name: アラート検証
fiscal_year: 2026
nodes:
  revenue:
    kind: kgi
    unit: currency
    formula: mqls * value_per_mql
    target: 12000000
  mqls:
    label: {ja: MQL数, en: MQLs}
    unit: count
    owner: inside_sales
    metric: mqls
    target: {monthly: 20}
  value_per_mql: {unit: currency, assume: 50000}
  first_touch:
    label: {ja: MQL初回対応率, en: MQL first-touch compliance}
    unit: ratio
    owner: inside_sales
    metric: first_touch_compliance
    target: 0.9
    min_volume: 1  # a handful of cases per rep, judged all the same in these tests
organisation:
  inside_sales:
    teams:
      東日本: {share: 0.5, reps: {r1: 1.0}}
      西日本: {share: 0.5, reps: {r2: 1.0}}
metrics:
  first_touch_compliance: {type: sla_compliance, sla: mql_first_touch}
  first_touch_p95: {type: sla_response_p95, sla: mql_first_touch}
  first_touch_breaches: {type: sla_breaches, sla: mql_first_touch}
sla:
  mql_first_touch:
    label: {ja: MQL初回対応, en: MQL first touch}
    from: mql
    to: first_activity
    activity_types: [call]
    within_hours: 8
    warn_hours: 2
data:
  warehouse: warehouse.duckdb
"""


def build(folder: Path, definition: str = DEFINITION) -> Path:
    """Write the definition and load the company into ``folder``."""
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse

    (folder / "kpitree.yaml").write_text(definition, encoding="utf-8")
    arrow = {}
    for name, rows in tables().items():
        schema = arrow_schema(name)
        full = [{c: row.get(c) for c in schema.names} for row in rows]
        arrow[name] = pa.Table.from_pylist(full, schema=schema)
    Warehouse(folder / "warehouse.duckdb").bulk_load(arrow, label="hand-made")
    return folder
