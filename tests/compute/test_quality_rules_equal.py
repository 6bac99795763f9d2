"""Each data-quality rule finds exactly the records a plain computation in
Python finds, on generated companies full of problems: stages entered
backwards on a later day and on the same day (not backwards), stages entered
on a day before their record was created, skipped stages
and stages nobody uses, references to missing records among blanks and
whitespace (and into a table that was never imported), deals dated before
their lead or won before its first activity, contracts ending before they
start. Days are local days of the project's time zone (Asia/Tokyo): the
instants are spread around local midnight."""

from __future__ import annotations

import datetime as dt
import random
import string
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kpitree import Project
from kpitree.compute.quality import check_quality
from kpitree.compute.quality_rules import DEFAULT_ORDER, RULES, TERMINAL, RuleContext
from kpitree.data.warehouse import Warehouse

from .test_semantics import _table

UTC = dt.UTC
ZONE = ZoneInfo("Asia/Tokyo")
AS_OF = dt.date(2026, 9, 30)
START = dt.datetime(2026, 4, 1, 12, tzinfo=UTC)

DEFINITION = """\
kpitree: 1
name: Rules
fiscal_year: 2026
timezone: Asia/Tokyo
nodes:
  revenue: {kind: kgi, unit: currency, metric: revenue, target: 1000000}
data:
  warehouse: warehouse.duckdb
  quality: {examples: 3}
"""

# Ids naming another record: known ones, unknown ones, and blanks of every kind
# (a full-width space is not whitespace to strip: it names a missing record).
BLANKS = [None, "", " ", "\t", " \n ", "\u3000"]


def _instant(rng: random.Random, day: int) -> dt.datetime:
    """An instant ``day`` days after the start, around local midnight (14:00 to
    16:00 UTC is 23:00 to 01:00 in Tokyo) or at noon."""
    minutes = rng.choice([-75, -20, -1, 0, 1, 30, 70, -600])
    return START + dt.timedelta(days=day, hours=2, minutes=minutes)


def _reference(rng: random.Random, known: list[str], prefix: str) -> str | None:
    roll = rng.random()
    if roll < 0.6 and known:
        return rng.choice(known)
    if roll < 0.8:
        return rng.choice(BLANKS)
    return f"{prefix}-missing-{rng.randrange(5)}"


def _company(seed: int, *, accounts: bool) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    account_ids = [f"A{i}" for i in range(8)] if accounts else []
    leads = []
    history: dict[tuple[str, str, dt.datetime], dict[str, Any]] = {}
    # "sql" is never entered by any lead: going from MQL to opportunity skips nothing.
    lead_stages = ["lead", "mql", "opportunity", "won", "lost", "nurture"]
    for i in range(160):
        lid = f"L{i}"
        created = _instant(rng, rng.randrange(40))
        leads.append(
            {
                "lead_id": lid,
                "created_at": created,
                "owner_id": rng.choice(["r1", *BLANKS]),
                "account_id": _reference(rng, account_ids, "A"),
            }
        )
        for _ in range(rng.randrange(5)):
            stage = rng.choice(lead_stages)
            at = _instant(rng, (created - START).days + rng.randrange(-2, 12))
            history[(lid, stage, at)] = {"lead_id": lid, "stage": stage, "entered_at": at}
    lead_ids = [row["lead_id"] for row in leads]
    deals, deal_history = [], {}
    for i in range(90):
        did = f"D{i}"
        created = _instant(rng, rng.randrange(45))
        status = rng.choice(["open", "won", "won", "lost"])
        close = (created + dt.timedelta(days=rng.randrange(-10, 20))).astimezone(ZONE).date()
        deals.append(
            {
                "deal_id": did,
                "lead_id": _reference(rng, lead_ids, "L"),
                "account_id": _reference(rng, account_ids, "A"),
                "created_at": created,
                "status": status,
                "close_date": close,
                "amount": 100.0,
                "owner_id": rng.choice(["r1", *BLANKS]),
            }
        )
        for _ in range(rng.randrange(4)):
            stage = rng.choice(["opportunity", "won", "lost", "proposal"])
            at = _instant(rng, (created - START).days + rng.randrange(-2, 8))
            deal_history[(did, stage, at)] = {"deal_id": did, "stage": stage, "entered_at": at}
    deal_ids = [row["deal_id"] for row in deals]
    activities = [
        {
            "activity_id": f"X{i}",
            "type": "call",
            "occurred_at": _instant(rng, rng.randrange(50)),
            "lead_id": _reference(rng, lead_ids, "L"),
            "deal_id": _reference(rng, deal_ids, "D"),
            "owner_id": "r1",
        }
        for i in range(400)
    ]
    contracts = []
    for i in range(30):
        start = dt.date(2026, 4, 1) + dt.timedelta(days=rng.randrange(30))
        contracts.append(
            {
                "contract_id": f"C{i}",
                "account_id": rng.choice(account_ids or ["A-none"]),
                "start_date": start,
                "end_date": start + dt.timedelta(days=rng.randrange(-5, 300)),
                "amount": 10.0,
            }
        )
    tables = {
        "reps": [{"rep_id": "r1", "name": "佐藤"}],
        "rep_assignments": [{"rep_id": "r1", "valid_from": dt.date(2026, 1, 1), "team": "A"}],
        "leads": leads, "lead_stage_history": list(history.values()),
        "deals": deals, "deal_stage_history": list(deal_history.values()),
        "activities": activities, "contracts": contracts,
    }  # fmt: skip
    if accounts:
        tables["accounts"] = [{"account_id": a, "name": f"会社{a}"} for a in account_ids]
    return tables


def _day(at: dt.datetime | dt.date) -> dt.date:
    return at.astimezone(ZONE).date() if isinstance(at, dt.datetime) else at


def _blank(value: str | None) -> bool:
    return value is None or value.strip(string.whitespace) == ""


def _positions(entity: str) -> dict[str, int]:
    order = DEFAULT_ORDER[entity]
    positions = {stage: i for i, stage in enumerate(order)}
    for stage in TERMINAL:
        positions.setdefault(stage, len(order))
    return positions


def _entries(tables: dict[str, list[dict[str, Any]]], entity: str) -> dict[str, list[tuple]]:
    table, key = {
        "leads": ("lead_stage_history", "lead_id"),
        "deals": ("deal_stage_history", "deal_id"),
    }[entity]
    positions = _positions(entity)
    out: dict[str, list[tuple[dt.date, int]]] = defaultdict(list)
    for row in tables[table]:
        if row["stage"] in positions:
            out[row[key]].append((_day(row["entered_at"]), positions[row["stage"]]))
    return out


def expected(tables: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], set[str]]:
    """Every rule's records per table, by hand."""
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entity, table in (("leads", "lead_stage_history"), ("deals", "deal_stage_history")):
        entries = _entries(tables, entity)
        end = len(DEFAULT_ORDER[entity])
        for key, rows in entries.items():
            if any(d2 > d1 and p2 < p1 for d1, p1 in rows for d2, p2 in rows):
                found[("stage_backwards", table)].add(key)
        used = {p for rows in entries.values() for _, p in rows if p < end}
        for key, rows in entries.items():
            mine = {p for _, p in rows if p < end}
            if mine and any(min(mine) < u < max(mine) and u not in mine for u in used):
                found[("stage_skipped", table)].add(key)
    references = (
        ("deals", "deal_id", "lead_id", "leads", "lead_id"),
        ("deals", "deal_id", "account_id", "accounts", "account_id"),
        ("leads", "lead_id", "account_id", "accounts", "account_id"),
        ("activities", "activity_id", "lead_id", "leads", "lead_id"),
        ("activities", "activity_id", "deal_id", "deals", "deal_id"),
        ("contracts", "contract_id", "account_id", "accounts", "account_id"),
    )
    for table, key, column, target, target_key in references:
        known = {row[target_key] for row in tables.get(target, [])}
        for row in tables[table]:
            if known and not _blank(row[column]) and row[column] not in known:
                found[("dangling_reference", table)].add(row[key])
    lead_day = {row["lead_id"]: _day(row["created_at"]) for row in tables["leads"]}
    deal_day = {row["deal_id"]: _day(row["created_at"]) for row in tables["deals"]}
    for table, key, created in (
        ("lead_stage_history", "lead_id", lead_day),
        ("deal_stage_history", "deal_id", deal_day),
    ):
        for row in tables[table]:
            if row[key] in created and _day(row["entered_at"]) < created[row[key]]:
                found[("before_creation", table)].add(row[key])
    for row in tables["deals"]:
        if row["close_date"] < deal_day[row["deal_id"]]:
            found[("before_creation", "deals")].add(row["deal_id"])
    first: dict[str, dt.date] = {}
    for row in tables["activities"]:
        if row["lead_id"] is not None:
            day = _day(row["occurred_at"])
            first[row["lead_id"]] = min(first.get(row["lead_id"], day), day)
    for row in tables["deals"]:
        lead = row["lead_id"]
        if lead in lead_day and (
            _day(row["created_at"]) < lead_day[lead]
            or (row["status"] in ("won", "lost") and row["close_date"] < lead_day[lead])
        ):
            found[("negative_duration", "deals")].add(row["deal_id"])
            found[("negative_duration:dated", "deals")].add(row["deal_id"])
        if row["status"] == "won" and lead in first and row["close_date"] < first[lead]:
            found[("negative_duration", "deals")].add(row["deal_id"])
            found[("negative_duration:won", "deals")].add(row["deal_id"])
        if _blank(row["owner_id"]):
            found[("deal_without_owner", "deals")].add(row["deal_id"])
    for row in tables["contracts"]:
        if row["end_date"] < row["start_date"]:
            found[("negative_duration", "contracts")].add(row["contract_id"])
    for row in tables["leads"]:
        if _blank(row["owner_id"]):
            found[("lead_without_owner", "leads")].add(row["lead_id"])
    return found


CHECKED = (
    "stage_backwards",
    "before_creation",
    "stage_skipped",
    "dangling_reference",
    "negative_duration",
    "deal_without_owner",
    "lead_without_owner",
)


@pytest.fixture(scope="module", params=[(1, True), (2, False), (3, True)], ids=str)
def company(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Project, dict[str, list[dict[str, Any]]]]:
    seed, accounts = request.param
    tables = _company(seed, accounts=accounts)
    folder = tmp_path_factory.mktemp(f"rules{seed}")
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    Warehouse(folder / "warehouse.duckdb").bulk_load(
        {name: _table(name, rows) for name, rows in tables.items()}, label="generated"
    )
    return Project.load(folder), tables


def test_each_rule_finds_the_records_computed_by_hand(company: Any) -> None:
    project, tables = company
    want = expected(tables)
    got: dict[tuple[str, str], set[str]] = defaultdict(set)
    with project.engine() as engine:
        ctx = RuleContext(engine, AS_OF, dict(DEFAULT_ORDER))
        for rule in RULES:
            if rule.name not in CHECKED:
                continue
            for table, ids in rule.find(ctx):
                found = engine.execute(ids).column("id").to_pylist()
                assert len(found) == len(set(found)), (rule.name, table)  # each id once
                got[(rule.name, table)] |= set(found)
    got = {k: v for k, v in got.items() if v}
    want = {k: v for k, v in want.items() if v and ":" not in k[0]}
    assert got == want
    # The generated company trips every rule checked here (the test can fail).
    assert {rule for rule, _ in want} == set(CHECKED)
    assert ("stage_backwards", "lead_stage_history") in want
    assert ("dangling_reference", "activities") in want
    assert ("before_creation", "deal_stage_history") in want
    # A deal with both reasons of a negative duration (one deal, counted once).
    both = expected(tables)
    assert both[("negative_duration:dated", "deals")] & both[("negative_duration:won", "deals")]


def test_the_report_counts_and_names_the_first_ids(company: Any) -> None:
    project, tables = company
    want = expected(tables)
    with project.engine() as engine:
        report = check_quality(engine, project.catalogue, project.tree, AS_OF)
    seen = {(f.rule, f.table): f for f in report.findings if f.rule in CHECKED}
    assert set(seen) == {k for k, v in want.items() if v and ":" not in k[0]}
    for key, finding in seen.items():
        ids = sorted(want[key])
        assert finding.count == len(ids), key
        assert finding.examples == tuple(ids[:3]), key
