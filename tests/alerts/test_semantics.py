"""Alerts read numbers as status does: the minimum volume guards rates and
averages only, a replay of an earlier moment touches no live state, numbers
are sent exact in JSON and readable in text, and the monthly pack and
``kpitree sla --period`` measure a month's SLA cases to the same moment.
Real receivers on loopback (tests/receivers.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpitree import Project

from .company import DEFINITION, JST, NOW, build, jst
from .conftest import HttpReceiver, SmtpReceiver

CALLS_NODE = """\
  calls:
    label: {ja: 架電数, en: Calls}
    unit: count
    owner: inside_sales
    metric: calls
    target: {monthly: 40}
"""

RULES = """\
notifications:
  language: ja
  retry: {{attempts: 1, backoff_seconds: 0}}
  channels:
    hook: {{type: webhook, url: "http://127.0.0.1:{http}/hook", secret_env: KT_TEST_HOOK_SECRET}}
    mail: {{type: email, host: 127.0.0.1, port: {smtp}, security: none,
           from: kpitree@example.co.jp, to: [is-managers@example.co.jp]}}
alerts:
{rules}"""

CALLS_BEHIND = """\
  calls_behind:
    node: calls
    condition: below_pace
    threshold: {threshold}
    by: rep
    min_volume: 5
    notify: [hook]
"""

FIRST_TOUCH = """\
  first_touch_low:
    node: first_touch
    condition: below_target
    threshold: 80
    by: rep
    notify: [mail, hook]
"""


def project_with(folder: Path, http: int, smtp: int, rules: str) -> Project:
    definition = DEFINITION.replace("organisation:\n", CALLS_NODE + "organisation:\n", 1)
    text = definition + RULES.format(http=http, smtp=smtp, rules=rules)
    build(folder, text)
    return Project.load(folder)


def test_a_count_behind_pace_is_never_held_back_by_volume(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    # On 10-14 r1 has 4 calls and r2 3 (a status counts whole days), of 20 a
    # month each: both below a minimum volume of 5, the very reps the rule is for.
    rules = CALLS_BEHIND.format(threshold=80)
    project = project_with(tmp_path, http_receiver.port, smtp_receiver.port, rules)
    run = project.alerts_run(now=NOW)
    fired = {dict(e.segment)["rep"]: e for e in run.events if e.rule == "calls_behind"}
    assert set(fired) == {"r1", "r2"} and run.guarded == 0
    assert fired["r2"].facts["actual"] == 3 and fired["r2"].facts["volume"] == 3
    hooks = http_receiver.to("/hook")
    assert len(hooks) == 2 and all(p.verified for p in hooks)


def test_a_rate_below_the_minimum_volume_is_still_guarded(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    rules = FIRST_TOUCH + "    min_volume: 5\n"
    project = project_with(tmp_path, http_receiver.port, smtp_receiver.port, rules)
    run = project.alerts_run(now=NOW)
    assert run.events == [] and run.guarded == 2


def test_a_threshold_is_sent_as_written(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    rules = CALLS_BEHIND.format(threshold=110)
    project = project_with(tmp_path, http_receiver.port, smtp_receiver.port, rules)
    project.alerts_run(now=NOW)
    hook = http_receiver.to("/hook")[0]
    assert hook.json()["facts"]["threshold"] == 110
    assert b"110.00000000000001" not in hook.body
    assert "110.0%" in hook.json()["message"]
    event = project.alert_events()[0]
    assert event.facts["threshold"] == 110


def test_a_replay_of_an_earlier_moment_touches_no_live_state(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    project = project_with(tmp_path, http_receiver.port, smtp_receiver.port, FIRST_TOUCH)
    live = project.alerts_run(now=NOW)
    assert sorted(e.kind for e in live.events) == ["fired", "fired"] and not live.replay
    posts, mails = len(http_receiver.posts), len(smtp_receiver.messages)

    # On 10-05 nothing held: a replay must not resolve today's alerts.
    earlier = project.alerts_run(now=dt.datetime(2026, 10, 5, 16, 0, tzinfo=JST))
    assert earlier.replay and earlier.events == []
    # 10-09: r1's L3 and L7 had breached; shown as it would have fired then.
    replay = project.alerts_run(now=dt.datetime(2026, 10, 9, 12, 0, tzinfo=JST))
    assert replay.replay and all(e.id is None for e in replay.events)
    assert [(e.kind, dict(e.segment)["rep"]) for e in replay.events] == [("fired", "r1")]

    assert len(http_receiver.posts) == posts and len(smtp_receiver.messages) == mails
    history = project.alert_events()
    assert [e.kind for e in history] == ["fired", "fired"]
    from kpitree.alerts.run import open_alerts

    assert len(open_alerts(project)) == 2
    # The live clock goes on from where it was: nothing new, nothing resolved.
    later = project.alerts_run(now=NOW + dt.timedelta(hours=1))
    assert not later.replay and later.events == []


def test_the_monthly_pack_and_kpitree_sla_agree_on_a_month(tmp_path: Path) -> None:
    """An MQL of Friday 10-30 17:00 without a call is open at the end of
    October (due Monday 11-02 17:00) and breached on 11-05: a pack of October
    made on 11-05 counts it as `kpitree sla --period 2026-10` does then."""
    import pyarrow as pa

    from kpitree.data.schema import arrow_schema
    from kpitree.data.warehouse import Warehouse
    from kpitree.reports import build_report, render

    from .company import tables

    (tmp_path / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    rows = tables()
    rows["leads"].append({"lead_id": "L9", "created_at": jst("2026-10-29T10:00"), "owner_id": "r2"})
    rows["lead_stage_history"].append(
        {"lead_id": "L9", "stage": "mql", "entered_at": jst("2026-10-30T17:00")}
    )
    arrow = {}
    for name, table_rows in rows.items():
        schema = arrow_schema(name)
        full = [{c: row.get(c) for c in schema.names} for row in table_rows]
        arrow[name] = pa.Table.from_pylist(full, schema=schema)
    Warehouse(tmp_path / "warehouse.duckdb").bulk_load(arrow, label="hand-made")
    project = Project.load(tmp_path)
    as_of = dt.date(2026, 11, 5)

    sla = project.sla_report("2026-10", as_of=as_of).rule("mql_first_touch").summary
    report = build_report(project, "2026-10", "monthly", "en", as_of)
    (line,) = report.sla.rules
    assert (line.compliance, line.breaches, line.open) == (
        sla.compliance,
        sla.breached,
        sla.open,
    )
    assert sla.breached == 5 and sla.open == 0  # L4, L6 and L9 unanswered, L3 and L7 late
    md = render(report, "md").decode("utf-8")
    assert "as they stand at 2026-11-06 00:00" in md
    assert "kpitree sla --period 2026-10 --as-of 2026-11-05" in md


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_kpitree_sla_says_which_moment_it_measures_to(tmp_path: Path, lang: str) -> None:
    from typer.testing import CliRunner

    from kpitree.cli import app

    build(tmp_path)
    result = CliRunner().invoke(
        app, ["--lang", lang, "sla", str(tmp_path), "--period", "2026-10", "--as-of", "2026-11-05"]
    )
    assert result.exit_code == 0, result.output
    assert "2026-11-06 00:00" in result.output
