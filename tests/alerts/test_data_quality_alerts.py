"""Alerts on the data-quality check (``condition: data_quality``): one alert
per finding (a quality rule on a table) while the check finds it, resolved
when a corrected import removes it, fired again when that import is undone.

A hand-made company (Asia/Tokyo), checked as of 2026-06-30: the deals D3 and
D4 are won before they were created (before_creation, an error, 2 records);
D2 is won without an amount (deal_without_amount, a warning); the newest deal
is from 06-01, more than 7 days before (stale_source, a warning)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from kpitree import Project
from kpitree.data.batch import MappedBatch
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse

from .conftest import HttpReceiver

JST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=JST)

DEFINITION = """\
kpitree: 1
name: Quality alerts
fiscal_year: 2026
nodes:
  revenue:
    kind: kgi
    unit: currency
    metric: revenue
    target: 24000000
    label: {{ja: 売上, en: Revenue}}
  won_deals: {{unit: count, metric: won_deals, target: 12, label: {{ja: 受注数, en: Won deals}}}}
  leads: {{unit: count, metric: leads, target: 100}}
data:
  warehouse: warehouse.duckdb
notifications:
  language: {lang}
  base_url: https://kpi.example.co.jp
  retry: {{attempts: 1, backoff_seconds: 0}}
  channels:
    dq-slack: {{type: slack, url: "{url}/slack"}}
    app: {{type: in_app}}
alerts:
{alerts}"""

ERRORS = """\
  data_errors:
    label: {ja: データエラー, en: Data errors}
    condition: data_quality
    severity: critical
    notify: [dq-slack, app]
"""


def batch(tables: dict[str, list[dict[str, Any]]], file: str) -> MappedBatch:
    """An import of ``file``, its rows already mapped to the canonical tables."""
    arrow = {}
    for name, rows in tables.items():
        types = arrow_schema(name)
        columns = list(dict.fromkeys(k for r in rows for k in r))
        arrow[name] = pa.table(
            {c: pa.array([r.get(c) for r in rows], types.field(c).type) for c in columns}
        )
    read = max(t.num_rows for t in arrow.values())
    return MappedBatch(file, "0" * 64, "test-mapping", read, arrow, [], [])


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


def _deal(deal_id: str, created: str, closed: str, amount: float | None) -> dict[str, Any]:
    return {
        "deal_id": deal_id,
        "owner_id": "r1",
        "created_at": _ts(created),
        "status": "won",
        "close_date": dt.date.fromisoformat(closed),
        "amount": amount,
    }


BAD_DEALS = [
    _deal("D1", "2026-04-10T12:00", "2026-05-10", 1_000_000.0),
    _deal("D2", "2026-04-20T12:00", "2026-05-20", None),
    _deal("D3", "2026-05-25T12:00", "2026-05-15", 2_000_000.0),
    _deal("D4", "2026-06-01T12:00", "2026-05-30", 3_000_000.0),
]
FIXED_DEALS = [
    _deal("D2", "2026-04-20T12:00", "2026-05-20", 500_000.0),
    _deal("D3", "2026-05-25T12:00", "2026-06-10", 2_000_000.0),
    _deal("D4", "2026-06-01T12:00", "2026-06-20", 3_000_000.0),
]


def project_at(folder: Path, url: str, alerts: str = ERRORS, lang: str = "ja") -> Project:
    text = DEFINITION.format(url=url, alerts=alerts, lang=lang)
    (folder / "kpitree.yaml").write_text(text, encoding="utf-8")
    if not (folder / "warehouse.duckdb").exists():
        wh = Warehouse(folder / "warehouse.duckdb")
        rep = {"rep_id": "r1", "valid_from": dt.date(2026, 1, 1), "department": "field_sales"}
        wh.apply(
            batch(
                {
                    "reps": [{"rep_id": "r1", "name": "佐藤 花子"}],
                    "rep_assignments": [{**rep, "team": "A"}],
                    "deals": BAD_DEALS,
                },
                file="deals.csv",
            ),
            skip_invalid=False,
        )
    return Project.load(folder)


def test_fires_once_per_finding_and_resolves_after_a_corrected_import(
    tmp_path: Path, http_receiver: HttpReceiver
) -> None:
    project = project_at(tmp_path, http_receiver.url)
    run = project.alerts_run(now=NOW)
    # Only the error (level defaults to error): before_creation on deals.
    (event,) = run.events
    assert (event.kind, event.rule, event.node) == (
        "fired",
        "data_errors",
        "quality:before_creation:deals",
    )
    facts = event.facts
    assert (facts["quality_rule"], facts["code"], facts["level"]) == (
        "before_creation",
        "KT842",
        "error",
    )
    assert (facts["table"], facts["count"], facts["examples"]) == ("deals", 2, ["D3", "D4"])
    assert facts["nodes"] == ["revenue", "won_deals"]
    assert {d.channel: d.status for d in event.deliveries} == {"dq-slack": "sent", "app": "sent"}
    (post,) = http_receiver.to("/slack")
    text = post.json()["text"]
    assert "データエラー" in text and "KT842" in text and "2 件" in text
    assert "D3, D4" in text and "売上, 受注数" in text and "deals" in text
    assert event.message("en") == (
        "Data quality (KT842, error): 2 records with a stage entry or close before their "
        "creation day in deals (e.g. D3, D4); nodes affected: Revenue, Won deals"
    )
    button = post.json()["blocks"][-1]["elements"][0]
    assert button["url"] == "https://kpi.example.co.jp/data/quality"

    # A second run with the finding still there: nothing new, nothing sent.
    again = project.alerts_run(now=NOW + dt.timedelta(hours=1))
    assert again.events == [] and again.holding == 1
    assert len(http_receiver.to("/slack")) == 1

    # A corrected file is imported: the finding is gone, the alert resolves.
    fixed = Warehouse(tmp_path / "warehouse.duckdb").apply(
        batch({"deals": FIXED_DEALS}, file="deals-fixed.csv"), skip_invalid=False
    )
    cleared = project.alerts_run(now=NOW + dt.timedelta(hours=2))
    (resolved,) = cleared.events
    assert (resolved.kind, resolved.node) == ("resolved", "quality:before_creation:deals")
    assert resolved.message("en") == (
        "Resolved: Data quality (KT842): records with a stage entry or close before their creation "
        "day in deals: no longer found"
    )
    assert len(http_receiver.to("/slack")) == 2
    resolved_text = http_receiver.to("/slack")[-1].json()["text"]
    assert "解消" in resolved_text and "KT842" in resolved_text
    assert "見つからなくなりました" in resolved_text
    assert project.alerts_run(now=NOW + dt.timedelta(hours=3)).events == []

    # The corrected import is undone: the bad records are back, so is the alert.
    Warehouse(tmp_path / "warehouse.duckdb").undo(fixed.import_id)
    back = project.alerts_run(now=NOW + dt.timedelta(hours=4))
    assert [(e.kind, e.facts["count"]) for e in back.events] == [("fired", 2)]
    history = [(e.kind, e.node) for e in project.alert_events()]
    assert history == [
        ("fired", "quality:before_creation:deals"),
        ("resolved", "quality:before_creation:deals"),
        ("fired", "quality:before_creation:deals"),
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "{condition: data_quality, level: warning, notify: [app]}",
            {
                ("before_creation", 2),
                ("deal_without_amount", 1),
                ("stale_source", 4),
            },
        ),
        (
            "{condition: data_quality, level: warning, rules: [deal_without_amount], "
            "notify: [app]}",
            {("deal_without_amount", 1)},
        ),
        ("{condition: data_quality, rules: [deal_without_amount], notify: [app]}", set()),
    ],
)
def test_level_and_rules_choose_the_findings(
    tmp_path: Path, http_receiver: HttpReceiver, rule: str, expected: set[tuple[str, int]]
) -> None:
    project = project_at(tmp_path, http_receiver.url, f"  dq: {rule}\n", lang="en")
    run = project.alerts_run(now=NOW)
    assert {(e.facts["quality_rule"], e.facts["count"]) for e in run.events} == expected
    assert all(e.kind == "fired" and e.facts["table"] == "deals" for e in run.events)


def test_the_alerts_page_lists_a_quality_alert_and_links_the_data_check(
    tmp_path: Path, http_receiver: HttpReceiver
) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    project = project_at(tmp_path, http_receiver.url)
    project.alerts_run(now=NOW)
    with TestClient(create_app(tmp_path), base_url="http://localhost") as client:
        page = client.get("/alerts", params={"since": "2026-06-01", "lang": "ja"})
    assert page.status_code == 200
    assert "データエラー" in page.text and "KT842" in page.text and "D3, D4" in page.text
    assert 'href="/data/quality"' in page.text
    assert 'href="/nodes/quality' not in page.text


def _errors(tmp_path: Path, alerts: str) -> list[tuple[str, int, str]]:
    text = DEFINITION.format(url="http://127.0.0.1:9", alerts=alerts, lang="en")
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    result = Project.check(tmp_path)
    return [(d.code, d.span.line if d.span else 0, d.message("en")) for d in result.errors]


def test_a_bad_level_or_rule_is_located_with_a_fix(tmp_path: Path) -> None:
    alerts = """\
  dq:
    condition: data_quality
    level: warnings
    rules: [deal_without_amout]
    node: revenue
  low:
    node: revenue
    condition: below_target
    level: error
"""
    found = _errors(tmp_path, alerts)
    text = (tmp_path / "kpitree.yaml").read_text(encoding="utf-8").splitlines()

    def line(needle: str) -> int:
        return next(i for i, s in enumerate(text, 1) if needle in s)

    assert {(code, n) for code, n, _ in found} == {
        ("KT331", line("level: warnings")),
        ("KT331", line("rules: [deal_without_amout]")),
        ("KT331", line("node: revenue")),
        ("KT331", line("level: error")),
    }
    messages = " | ".join(m for _, _, m in found)
    assert "level 'warnings' is not a data-quality level" in messages
    assert "did you mean 'warning'" in messages
    assert "did you mean 'deal_without_amount'" in messages
    assert "takes no 'node'" in messages
    assert "'level' belongs to data_quality rules, not to below_target" in messages
