"""Syncing a Salesforce org: the warehouse holds the org's true funnel after a full
sync, after changes (incremental), after deletions and after interruptions."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from salesforce_project import assert_true_funnel, environ, expected, held, write_project

from fakes.salesforce import FakeSalesforce
from fakes.salesforce_org import Org
from kpitree.connectors.sync import SourceSync, sync_project


def _sync(project: Path, fake: FakeSalesforce, **kw: object) -> SourceSync:
    (result,) = sync_project(project, environ=environ(fake), **kw)  # type: ignore[arg-type]
    return result


def _ok(project: Path, fake: FakeSalesforce, **kw: object) -> SourceSync:
    result = _sync(project, fake, **kw)
    assert result.error is None, result.to_json()
    return result


def _change(org: Org) -> None:
    """A day in the org: new leads, status moves, a conversion, stage moves, an
    amount change, a lead and an opportunity deleted."""
    org.tick(3600)
    org.create_opportunity()  # a rep's own, from no lead
    org.tick(60)
    for _ in range(5):
        org.create_lead()
        org.tick(60)
    open_leads = [r["Id"] for r in org.live("Lead") if r["Status"] == "Open - Not Contacted"]
    org.set_lead_status(open_leads[0], "Working - Contacted")
    org.tick(30)
    working = [r["Id"] for r in org.live("Lead") if r["Status"] == "Working - Contacted"]
    org.convert_lead(working[0])
    org.tick(30)
    opps = [r for r in org.live("Opportunity") if not r["IsClosed"]]
    org.move_opportunity(opps[0]["Id"], "Negotiation/Review")
    org.move_opportunity(opps[1]["Id"], "Closed Won")
    org.change_amount(opps[2]["Id"], 1_230_000.0)
    org.move_opportunity(opps[4]["Id"], "Negotiation/Review")
    org.move_opportunity(opps[4]["Id"], "Qualification")  # back: not a first entry
    org.tick(5)
    org.delete("Lead", open_leads[1])
    org.delete("Opportunity", opps[3]["Id"])


def test_full_then_incremental_sync_equal_the_true_funnel(
    salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", salesforce)
    first = _ok(project, salesforce)
    assert first.import_id is not None
    assert_true_funnel(project, salesforce)

    with salesforce.changing() as org:
        _change(org)
    second = _ok(project, salesforce)
    assert_true_funnel(project, salesforce)
    leads = {o.object: o for o in second.objects}["leads"]
    assert leads.read < 20 and leads.deleted_in_source == 1  # only what changed

    with salesforce.changing() as org:
        # A lead converted into that opportunity: the opportunity itself does not
        # change, yet it now comes from the lead.
        org.tick(60)
        direct = next(d for d, f in org.truth_log.deals.items() if f["lead_id"] is None)
        working = next(r["Id"] for r in org.live("Lead") if r["Status"] == "Working - Contacted")
        org.convert_lead(working, into=direct)
    _ok(project, salesforce)
    assert held(project)["deals"][direct]["lead_id"] == working
    assert_true_funnel(project, salesforce)

    third = _ok(project, salesforce)
    assert third.import_id is None  # nothing changed, nothing written
    assert_true_funnel(project, salesforce)


def test_a_change_committed_late_is_not_missed(salesforce: FakeSalesforce, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", salesforce)
    _ok(project, salesforce)
    with salesforce.changing() as org:
        # Saved in a transaction that committed after the sync's query: its stamp is
        # older than the sync's cursor.
        cursor = max(r["SystemModstamp"] for r in org.records["Lead"].values())
        now, org.now = org.now, cursor - dt.timedelta(minutes=2)
        late = org.create_lead()
        org.now = now
    _ok(project, salesforce)
    assert late["Id"] in held(project)["leads"]
    assert_true_funnel(project, salesforce)


def test_full_sync_drops_records_gone_from_the_org(
    salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", salesforce)
    _ok(project, salesforce)
    with salesforce.changing() as org:
        org.tick(60)
        gone = next(r["Id"] for r in org.live("Lead") if not r["IsConverted"])
        org.delete("Lead", gone)
        org.records["Lead"].pop(gone)  # emptied from the recycle bin too
    _ok(project, salesforce, full=True)
    assert gone not in held(project)["leads"]
    assert_true_funnel(project, salesforce)


def test_expired_session_mid_sync(salesforce: FakeSalesforce, tmp_path: Path) -> None:
    salesforce.expire_every = 3
    project = write_project(tmp_path / "p", salesforce)
    _ok(project, salesforce)
    assert salesforce.tokens_issued > 2
    assert_true_funnel(project, salesforce)


def test_request_limit_exceeded_then_resume(salesforce: FakeSalesforce, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", salesforce)
    _ok(project, salesforce)
    before = held(project)
    with salesforce.changing() as org:
        _change(org)
    salesforce.limit_after = 4  # other integrations use up the day's requests meanwhile
    failed = _sync(project, salesforce)
    assert failed.error is not None and "KT935" in str(failed.to_json())
    assert held(project) == before  # nothing of the failed sync is stored
    salesforce.api_usage = 0  # the rolling 24 hours moved on
    _ok(project, salesforce)
    assert_true_funnel(project, salesforce)


def test_without_field_history_leads_enter_at_creation_and_conversion(
    tmp_path: Path, rsa_key: tuple[str, str]
) -> None:
    from fakes.salesforce import serve

    org = Org(leads=60, seed=3, field_history=False)
    with serve(FakeSalesforce(org, public_key=rsa_key[1])) as fake:
        project = write_project(tmp_path / "p", fake)
        _ok(project, fake)
        history = held(project)["lead_stage_history"]
    converted = {r["Id"]: r for r in org.live("Lead") if r["IsConverted"]}
    assert converted
    tokyo_midnight = {
        (lead_id, "opportunity",
         dt.datetime.combine(r["ConvertedDate"], dt.time(), dt.timezone(dt.timedelta(hours=9)))
         .timestamp())
        for lead_id, r in converted.items()
    }  # fmt: skip
    assert {h for h in history if h[1] == "opportunity"} == tokyo_midnight
    assert {h[1] for h in history} == {"lead", "opportunity"}


@pytest.mark.slow
def test_killed_sync_leaves_the_warehouse_as_it_was(
    salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", salesforce)
    _ok(project, salesforce)
    rng = random.Random(os.getpid())
    for _round in range(3):
        with salesforce.changing() as org:
            _change(org)
        before = held(project)
        start = len(salesforce.requests)
        kill_after = rng.randrange(1, 8)  # an incremental sync sends about ten
        env = {**os.environ, **environ(salesforce)}
        process = subprocess.Popen(
            [sys.executable, "-m", "kpitree", "sync", str(project), "--json"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while len(salesforce.requests) - start < kill_after and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert process.returncode == -signal.SIGKILL  # killed mid-sync
        # Killed before its commit, the sync stored nothing; after it, everything.
        assert held(project) in (before, expected(salesforce))
        _ok(project, salesforce)
        assert_true_funnel(project, salesforce)


def test_reserve_of_the_daily_limit_stops_then_resumes(
    salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", salesforce)
    _ok(project, salesforce)
    with salesforce.changing() as org:
        _change(org)
    before = held(project)
    salesforce.api_limit = salesforce.api_usage + 5  # 10% of the limit is left for others
    failed = _sync(project, salesforce)
    assert failed.error is not None and "KT936" in str(failed.to_json())
    assert held(project) == before
    salesforce.api_limit = 100_000
    _ok(project, salesforce)
    assert_true_funnel(project, salesforce)


def test_jwt_bearer_flow_from_the_definition(
    salesforce: FakeSalesforce, tmp_path: Path, rsa_key: tuple[str, str]
) -> None:
    key_file = tmp_path / "keys" / "salesforce.key"  # outside the project
    key_file.parent.mkdir()
    key_file.write_text(rsa_key[0], encoding="utf-8")
    project = tmp_path / "p"
    project.mkdir()
    (project / "kpitree.yaml").write_text(
        f"""\
sources:
  sfdc:
    type: salesforce
    instance_url: {salesforce.base_url}
    auth: {{flow: jwt, client_id_env: SF_CLIENT_ID, username: {salesforce.username},
            private_key_file_env: SF_KEY_FILE}}
""",
        encoding="utf-8",
    )
    env = {"SF_CLIENT_ID": salesforce.client_id, "SF_KEY_FILE": str(key_file)}
    (result,) = sync_project(project, environ=env)
    assert result.error is None, result.to_json()
    assert_true_funnel(project, salesforce)

    (tmp_path / "keys" / "other.key").write_text("not a key", encoding="utf-8")
    env["SF_KEY_FILE"] = str(tmp_path / "keys" / "other.key")
    (failed,) = sync_project(project, environ=env, full=True)
    assert failed.error is not None and "KT932" in str(failed.to_json())
    assert "not a key" not in str(failed.to_json())


def test_large_objects_are_read_whole_through_bulk_api_2(
    salesforce: FakeSalesforce, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpitree.connectors.salesforce import bulk, objects

    monkeypatch.setattr(objects, "BULK_FROM", 20)  # all but users
    monkeypatch.setattr(bulk, "RESULT_SET", 100)  # several result sets per job
    project = write_project(tmp_path / "p", salesforce)
    _ok(project, salesforce)
    assert salesforce.bulk_jobs == 6  # accounts, leads, opportunities, their histories, conversions
    assert any("/results" in u and "locator=" in u for u in salesforce.urls)
    assert_true_funnel(project, salesforce)
    with salesforce.changing() as org:
        _change(org)
    jobs = salesforce.bulk_jobs
    _ok(project, salesforce)  # incremental: REST
    assert salesforce.bulk_jobs == jobs
    assert_true_funnel(project, salesforce)
