"""A generated company for the ABM tests, and an independent computation of
its scores in plain Python (no Ibis, no SQL)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kpitree.data.schema import arrow_schema
from kpitree.definition import jsic
from kpitree.definition.resolve import load_tree
from kpitree.definition.spec_abm import AbmSpec
from kpitree.engines import Engine, load_canonical

Company = dict[str, list[dict[str, Any]]]
TABLES = ("accounts", "activities", "leads", "lead_stage_history", "deals", "deal_stage_history")


def abm_spec(tmp: Path, text: str) -> AbmSpec:
    (tmp / "kpitree.yaml").write_text(
        "kpitree: 1\nname: abm\nnodes:\n  revenue: {kind: kgi, unit: count}\n" + text,
        encoding="utf-8",
    )
    tree = load_tree(str(tmp / "kpitree.yaml"))
    assert tree.abm is not None
    return tree.abm


def load(engine: Engine, company: Company) -> None:
    import pyarrow as pa

    tables = {}
    for name in TABLES:
        schema = arrow_schema(name)
        rows = company.get(name, [])
        tables[name] = pa.Table.from_pylist(
            [{c: r.get(c) for c in schema.names} for r in rows], schema=schema
        )
    load_canonical(engine, tables)


def _day(at: Any, zone: str) -> dt.date:
    if isinstance(at, dt.datetime):
        return at.astimezone(ZoneInfo(zone)).date()
    assert isinstance(at, dt.date)
    return at


def expected_scores(
    company: Company, abm: AbmSpec, as_of: dt.date, zone: str
) -> dict[str, dict[str, Any]]:
    """account_id -> {points: {criterion: points}, missing: set, score, tier}."""
    out: dict[str, dict[str, Any]] = {}
    for acc in company["accounts"]:
        created = acc.get("created_at")
        if created is not None and _day(created, zone) > as_of:
            continue
        points: dict[str, float] = {}
        missing: set[str] = set()
        for cid, c in abm.criteria.items():
            if c.signals is not None:
                points[cid] = _engagement(company, acc["account_id"], c, as_of, zone)
                continue
            assert c.field is not None
            if c.field.startswith("attributes."):
                value = json.loads(acc.get("attributes") or "{}").get(c.field[11:])
            else:
                value = acc.get(c.field)
            if c.bands is not None:
                number = None
                try:
                    number = None if value is None else float(value)
                except ValueError:
                    number = None
                if number is None:
                    missing.add(cid)
                    points[cid] = 0.0
                    continue
                points[cid] = next(
                    (
                        b.points
                        for b in c.bands
                        if (b.min is None or number >= b.min) and (b.max is None or number < b.max)
                    ),
                    0.0,
                )
                continue
            text = None if value is None else str(value).strip()
            if not text:
                missing.add(cid)
                points[cid] = 0.0
                continue
            values = c.values or {}
            if c.match == "jsic":
                division, digits = jsic.normalise(text)
                best, best_len = 0.0, 0
                for code, p in values.items():
                    hit = code == division if code.isalpha() else digits.startswith(code)
                    size = 1 if code.isalpha() else len(code)
                    if hit and size > best_len:
                        best, best_len = p, size
                points[cid] = best
            else:
                points[cid] = values.get(text, 0.0)
        score = sum(points.values())
        tier = None
        for name, threshold in sorted(abm.tiers.items(), key=lambda kv: -kv[1]):
            if score >= threshold:
                tier = name
                break
        out[acc["account_id"]] = {
            "points": points,
            "missing": missing,
            "score": score,
            "tier": tier,
        }
    return out


def _signal_days(company: Company, account: str, signal: Any, zone: str) -> list[dt.date]:
    if signal.activity is not None:
        # An activity's account is its own, else its lead's (one source: no links).
        of_lead = {r["lead_id"]: r.get("account_id") for r in company.get("leads", [])}
        return [
            _day(a["occurred_at"], zone)
            for a in company.get("activities", [])
            if (a.get("account_id") or of_lead.get(a.get("lead_id"))) == account
            and a["type"] == signal.activity
            and (signal.outcome is None or a.get("outcome") == signal.outcome)
        ]
    kind, stage, key = (
        ("leads", signal.lead_stage, "lead_id")
        if signal.lead_stage
        else ("deals", signal.deal_stage, "deal_id")
    )
    mine = {r[key] for r in company.get(kind, []) if r.get("account_id") == account}
    first: dict[str, Any] = {}
    for h in company.get(f"{kind[:-1]}_stage_history", []):
        earlier = h[key] not in first or h["entered_at"] < first[h[key]]
        if h[key] in mine and h["stage"] == stage and earlier:
            first[h[key]] = h["entered_at"]
    return [_day(at, zone) for at in first.values()]


def _engagement(company: Company, account: str, c: Any, as_of: dt.date, zone: str) -> float:
    total = 0.0
    for signal in c.signals:
        got = 0.0
        for day in _signal_days(company, account, signal, zone):
            age = (as_of - day).days
            if age < 0 or age >= c.window_days:
                continue
            if c.decay == "linear":
                weight = 1 - age / c.window_days
            elif c.decay == "half_life":
                weight = 0.5 ** (age / c.half_life_days)
            else:
                weight = 1.0
            got += signal.points * weight
        total += got if signal.cap is None else min(got, signal.cap)
    return min(total, c.max_points)


def at(day: dt.date, hour: int = 3) -> dt.datetime:
    """An instant on ``day`` (UTC hour ``hour``: 03:00 UTC is noon in Tokyo)."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def rows(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return dict(mapping)
