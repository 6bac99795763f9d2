"""A generated company with planted effects, so that measured verdicts are
known by construction.

Two fiscal years (April 2024 – March 2026, Asia/Tokyo):

- **leads**: every day a Poisson number of leads; the month's rate follows
  the calls made two months before (``LEAD_LAG`` months), so calls lead the
  KGI by two months;
- **MQL rate**: each lead becomes an MQL (two days after creation) with
  probability ``RATE_BEFORE`` until ``LIFT_DAY``, ``RATE_AFTER`` from then
  on: an action started that day truly lifts the rate by 10 points;
- **calls**: a month's calls are drawn at random (a varying, leading signal);
- **e-mails**: a month's e-mails are noise, unrelated to anything.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

START = dt.date(2024, 4, 1)
END = dt.date(2026, 3, 31)
LIFT_DAY = dt.date(2025, 10, 1)
RATE_BEFORE = 0.20
RATE_AFTER = 0.30
LEAD_LAG = 2
TZ = "Asia/Tokyo"

DEFINITION = """\
kpitree: 1
name: Planted company
fiscal_year_start: 4
currency: JPY
period: month
timezone: Asia/Tokyo
nodes:
  mqls:
    label: {ja: MQL数, en: MQLs}
    kind: kgi
    unit: count
    metric: mqls
    formula: leads * mql_rate
    target: 1800
  leads:
    label: {ja: リード獲得数, en: Leads}
    unit: count
    owner: marketing
    indicator: leading
    metric: leads
    drivers: [calls, emails]
  mql_rate:
    label: {ja: MQL化率, en: Lead to MQL rate}
    unit: ratio
    owner: marketing
    assume: 0.25
  calls:
    label: {ja: 架電数, en: Calls}
    unit: count
    owner: inside_sales
    indicator: leading
    metric: calls
    target: {monthly: 600}
  emails:
    label: {ja: メール数, en: E-mails}
    unit: count
    owner: inside_sales
    indicator: leading
    metric: emails
    target: {monthly: 400}
metrics:
  emails:
    label: {ja: メール数, en: E-mails}
    type: count
    entity: activities
    where: {type: email}
organisation:
  marketing: {label: {ja: マーケティング, en: Marketing}}
  inside_sales: {label: {ja: インサイドセールス, en: Inside sales}}
"""


def _months() -> list[dt.date]:
    out, day = [], START
    while day <= END:
        out.append(day)
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return out


def generate(seed: int = 11) -> dict[str, object]:
    """The canonical tables (pyarrow) of the planted company."""
    import pyarrow as pa

    from kpitree.data.demo.arrow import build_table, timestamps

    rng = np.random.default_rng(seed)
    months = _months()
    calls = rng.integers(300, 900, size=len(months))
    emails = rng.integers(200, 600, size=len(months))
    lead_ids: list[str] = []
    created: list[int] = []
    stage_lead: list[str] = []
    stage: list[str] = []
    stage_at: list[int] = []
    current: list[str] = []
    day = START
    while day <= END:
        m = (day.year - START.year) * 12 + day.month - START.month
        driver = calls[m - LEAD_LAG] if m >= LEAD_LAG else 600
        per_day = 4 + driver / 60  # 9 to 19 leads a day
        rate = RATE_AFTER if day >= LIFT_DAY else RATE_BEFORE
        base = np.datetime64(day, "us").astype("int64") + 10 * 3600 * 10**6
        for _ in range(int(rng.poisson(per_day))):
            lid = f"L{len(lead_ids) + 1:06d}"
            at = base + int(rng.integers(0, 7 * 3600)) * 10**6
            lead_ids.append(lid)
            created.append(at)
            stage_lead.append(lid)
            stage.append("lead")
            stage_at.append(at)
            if rng.random() < rate:
                stage_lead.append(lid)
                stage.append("mql")
                stage_at.append(at + 2 * 86400 * 10**6)
                current.append("mql")
            else:
                current.append("lead")
        day += dt.timedelta(days=1)
    act_ids: list[str] = []
    kinds: list[str] = []
    occurred: list[int] = []
    for m, first in enumerate(months):
        base = np.datetime64(first, "us").astype("int64") + 11 * 3600 * 10**6
        for kind, count in (("call", calls[m]), ("email", emails[m])):
            offsets = rng.integers(0, 28, size=int(count)) * 86400 * 10**6
            for off in offsets.tolist():
                act_ids.append(f"A{len(act_ids) + 1:07d}")
                kinds.append(kind)
                occurred.append(base + off)
    leads = build_table(
        "leads",
        {
            "lead_id": pa.array(lead_ids),
            "created_at": timestamps(np.array(created, dtype="int64"), TZ),
            "current_stage": pa.array(current),
            "channel": pa.array(["web"] * len(lead_ids)),
        },
    )
    history = build_table(
        "lead_stage_history",
        {
            "lead_id": pa.array(stage_lead),
            "stage": pa.array(stage),
            "entered_at": timestamps(np.array(stage_at, dtype="int64"), TZ),
        },
    )
    activities = build_table(
        "activities",
        {
            "activity_id": pa.array(act_ids),
            "type": pa.array(kinds),
            "occurred_at": timestamps(np.array(occurred, dtype="int64"), TZ),
        },
    )
    return {"leads": leads, "lead_stage_history": history, "activities": activities}


def build_planted(folder: Path) -> Path:
    """A project folder with the planted company's data loaded."""
    from kpitree.data.warehouse import Warehouse, warehouse_path

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    warehouse = Warehouse(warehouse_path(folder, None))
    warehouse.bulk_load(generate(), label="planted", source="tests/review/planted.py")  # type: ignore[arg-type]
    return folder
