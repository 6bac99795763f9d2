"""``kpitree sources test`` and ``sources verify`` on a Salesforce source, and
secrets kept out of everything kpitree prints or stores."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from salesforce_project import ENV_ID, ENV_SECRET, environ, write_project

from fakes.salesforce import FakeSalesforce
from kpitree.cli import main


def _run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    project: Path,
    env: dict[str, str],
    *args: str,
) -> tuple[int, str]:
    """Run ``kpitree *args`` in the project's folder."""
    monkeypatch.setenv("KPITREE_LANG", "en")
    monkeypatch.chdir(project)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    assert code is None or isinstance(code, int)
    return code or 0, captured.out + captured.err


def test_sources_test_says_what_to_grant(
    salesforce: FakeSalesforce,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = write_project(tmp_path / "p", salesforce)
    code, out = _run(monkeypatch, capsys, project, environ(salesforce), "sources", "test")
    assert code == 0, out
    assert "Object Lead" in out and "Object OpportunityHistory" in out and "✗" not in out

    salesforce.hidden_fields["Lead"] = {"LeadSource"}
    salesforce.hidden_objects.add("OpportunityHistory")
    salesforce.org.field_history = False
    code, out = _run(monkeypatch, capsys, project, environ(salesforce), "sources", "test")
    assert code == 1
    failed = [line for line in out.splitlines() if "✗" in line]
    assert any("Lead.LeadSource" in f and "field-level security" in f for f in failed)
    assert any("OpportunityHistory" in f and "grant Read" in f for f in failed)
    assert any("LeadHistory" in f and "field history tracking" in f for f in failed)

    salesforce.scope = "id openid"
    code, out = _run(monkeypatch, capsys, project, environ(salesforce), "sources", "test")
    assert code == 1 and "Manage user data via APIs (api)" in out

    wrong = {ENV_ID: salesforce.client_id, ENV_SECRET: "wrong-secret-0815"}
    code, out = _run(monkeypatch, capsys, project, wrong, "sources", "test")
    assert code == 1
    assert "invalid_client" in out and ENV_SECRET in out and "wrong-secret-0815" not in out


def test_verify_compares_salesforce_counts_per_month(
    salesforce: FakeSalesforce,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kpitree.connectors.sync import selected_sources, sync_project
    from kpitree.connectors.verify import verify_source

    project = write_project(tmp_path / "p", salesforce)
    with salesforce.changing() as org:
        # A lead created on the last evening of a month in UTC: the next morning
        # in Tokyo, so it counts in the next month, in Salesforce's answer as in
        # kpitree's (SOQL's CALENDAR_MONTH would put it in the month before).
        first = min(r["CreatedDate"] for r in org.live("Lead"))
        nxt = dt.datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=dt.UTC)
        now, org.now = org.now, nxt - dt.timedelta(hours=4)  # 20:00 UTC, 05:00 in Tokyo
        evening = org.create_lead()
        org.now = now
    (result,) = sync_project(project, environ=environ(salesforce))
    assert result.error is None
    spec = selected_sources(project, "sfdc")["sfdc"]
    tokyo = dt.timezone(dt.timedelta(hours=9))
    created = [r["CreatedDate"].astimezone(tokyo) for r in salesforce.org.live("Lead")]
    months = sorted({dt.date(c.year, c.month, 1) for c in created})
    lines = verify_source(project, "sfdc", spec, months, environ(salesforce))
    leads = [line for line in lines if line.object == "leads"]
    assert len(leads) == len(months)
    assert all(line.matches for line in lines), [line.to_json() for line in lines]
    assert sum(line.source_count for line in leads) == len(created)
    label = f"{nxt:%Y-%m}"
    assert evening["CreatedDate"].astimezone(tokyo).strftime("%Y-%m") == label
    in_next = next(line for line in leads if line.month == label)
    assert in_next.source_count == sum(c.strftime("%Y-%m") == label for c in created)
    assert {line.column for line in lines} == {"leads.created_at", "deals.created_at"}

    with salesforce.changing() as org:
        org.tick(60)
        gone = next(r for r in org.live("Lead") if not r["IsConverted"])
        org.delete("Lead", gone["Id"])
    month = gone["CreatedDate"].astimezone(tokyo).strftime("%Y-%m")
    lines = verify_source(project, "sfdc", spec, months, environ(salesforce))
    differs = [(line.object, line.month) for line in lines if not line.matches]
    assert differs == [("leads", month)]  # deleted since the last sync
    code, out = _run(
        monkeypatch, capsys, project, environ(salesforce), "sources", "verify",
        "--period", month,
    )  # fmt: skip
    assert code == 1 and month in out


def test_secrets_never_appear_in_output_or_the_warehouse(
    salesforce: FakeSalesforce,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = write_project(tmp_path / "p", salesforce)
    wrong = {ENV_ID: salesforce.client_id, ENV_SECRET: "wrong-secret-0815"}
    code, out = _run(monkeypatch, capsys, project, wrong, "sync", "--json")
    assert code == 1 and "KT931" in out and "wrong-secret-0815" not in out
    code, out = _run(monkeypatch, capsys, project, environ(salesforce), "sync", "--json")
    assert code == 0, out
    salesforce.expire_tokens()
    code, listing = _run(monkeypatch, capsys, project, environ(salesforce), "sources", "--json")
    assert code == 0 and json.loads(listing)["sources"][0]["source"] == "sfdc"
    stored = b"".join(p.read_bytes() for p in (project / ".kpitree").rglob("*") if p.is_file())
    for secret in (salesforce.client_secret, "wrong-secret-0815", *salesforce.issued):
        assert secret not in out and secret not in listing
        assert secret.encode() not in stored


ORGANISATION = """\
kpitree: 1
name: Salesforce people
fiscal_year: 2026
nodes:
  opportunities: {kind: kgi, unit: count, metric: opportunities, target: {monthly: 10}}
organisation:
  field_sales:
    teams:
      inside: {share: 0.34, reps: {"佐藤健": 0.34, "田中 美咲さん": 0.33, "山本　大輔": 0.33}}
      east: {share: 0.33, reps: {"鈴木 花子": 0.5, "伊藤 翔": 0.5}}
      west: {share: 0.33, reps: {"高橋 誠": 0.5, "渡辺 愛": 0.5}}
"""
# The organisation's spelling of each Salesforce user, and the team of its role.
TEAMS = {"インサイドセールス": "inside", "フィールドセールス東日本": "east",
         "フィールドセールス西日本": "west"}  # fmt: skip


def test_owners_land_in_the_organisations_teams(
    salesforce: FakeSalesforce,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from collections import Counter

    project = write_project(tmp_path / "p", salesforce)
    definition = project / "kpitree.yaml"
    definition.write_text(ORGANISATION + definition.read_text(encoding="utf-8").split(
        "\n", 1)[1], encoding="utf-8")  # fmt: skip
    code, out = _run(monkeypatch, capsys, project, environ(salesforce), "sync")
    assert code == 0, out
    org = salesforce.org
    roles = {r["Id"]: r["Name"] for r in org.records["UserRole"].values()}
    team_of = {u["Id"]: TEAMS[roles[u["UserRoleId"]]] for u in org.records["User"].values()}
    tokyo = dt.timezone(dt.timedelta(hours=9))
    months = Counter(
        d["created_at"].astimezone(tokyo).strftime("%Y-%m") for d in org.truth()["deals"].values()
    )
    month = months.most_common(1)[0][0]
    want = Counter(
        team_of[d["owner_id"]]
        for d in org.truth()["deals"].values()
        if d["created_at"].astimezone(tokyo).strftime("%Y-%m") == month
    )
    code, out = _run(
        monkeypatch, capsys, project, {}, "status", "-p", month, "--by", "team", "--json"
    )
    assert code == 0, out
    got = {
        r["segment"]["team"]: r["actual"]
        for r in json.loads(out)["rows"]
        if r["node"] == "opportunities" and r["segment"]
    }
    # Every owner matched (no team-less row), each in its role's team.
    assert {team: n for team, n in got.items() if n} == {t: float(n) for t, n in want.items()}


def test_sources_test_checks_parent_fields_by_their_relationship(
    salesforce: FakeSalesforce,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mapping = (
        Path(__file__).parents[3] / "src/kpitree/connectors/salesforce/mappings/accounts.yaml"
    ).read_text(encoding="utf-8")
    project = write_project(tmp_path / "p", salesforce, "    mappings: {accounts: accounts.yaml}\n")
    (project / "accounts.yaml").write_text(
        mapping + "    attributes: [Owner.Name, Parent.Name]\n", encoding="utf-8"
    )
    code, out = _run(monkeypatch, capsys, project, environ(salesforce), "sources", "test")
    failed = [line for line in out.splitlines() if "✗" in line]
    assert code == 1 and len(failed) == 1, out  # Owner is a relationship of Account
    assert "Account.Parent.Name" in failed[0]
