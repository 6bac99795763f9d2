"""``kpitree sync``, ``kpitree sources`` (list, test, verify, mapping): output,
located errors, and no secret anywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.conftest import (
    CONTACTS,
    TOKEN_ENV,
    HubSpotSetup,
    Run,
    verify_follows_hubspot,
    write_project,
)
from kpitree.connectors.secrets import redact


def test_sync_json_reports_counts_per_source_and_table(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    done = kpitree("sync", hubspot.project, "--json")
    assert done.code == 0, done.err
    [source] = done.json()["sources"]
    assert source["source"] == "hubspot" and source["import_id"] == 1 and source["errors"] is None
    assert [o["object"] for o in source["objects"]] == ["owners", "companies", "contacts", "deals"]
    contacts = source["objects"][2]
    assert contacts["read"] == CONTACTS and contacts["cursor"].isdigit()
    leads = next(t for t in contacts["tables"] if t["table"] == "leads")
    assert leads == {
        "table": "leads",
        "rows": CONTACTS,
        "inserted": CONTACTS,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
    }
    again = kpitree("sync", hubspot.project)
    assert again.code == 0 and "hubspot: nothing changed" in again.out


def test_sources_lists_state_and_test_checks_everything(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    listed = kpitree("sources", hubspot.project)
    assert listed.code == 0
    assert "hubspot (hubspot): owners, companies, contacts, deals" in listed.out
    assert "never synced" in listed.out
    kpitree("sync", hubspot.project)
    listed = kpitree("sources", hubspot.project)
    assert f"contacts: {CONTACTS} records, cursor 20" in listed.out
    tested = kpitree("sources", "test", hubspot.project)
    assert tested.code == 0, tested.out
    assert "✓ token" in tested.out and "✓ contacts" in tested.out and "✓ owners" in tested.out


def test_sources_test_says_which_scope_to_grant(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    hubspot.portal.scopes.discard("crm.objects.contacts.read")
    tested = kpitree("sources", "test", hubspot.project, "hubspot")
    assert tested.code == 1
    assert "✗ contacts" in tested.out and "grant crm.objects.contacts.read" in tested.out
    failed = kpitree("sync", hubspot.project)
    assert failed.code == 1 and "KT916" not in failed.out
    assert "crm.objects.contacts.read" in failed.err


def test_an_unknown_property_is_named_with_the_closest_one(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run], tmp_path: Path
) -> None:
    mapping = hubspot.project / "mappings" / "contacts.yaml"
    mapping.parent.mkdir()
    mapping.write_text(
        "mapping: 1\ntables:\n  leads:\n    lead_id: id\n    created_at: createdate\n"
        "    current_stage: lifecyclestag\n",
        encoding="utf-8",
    )
    write_project(
        hubspot.project, hubspot.url, "    mappings: {contacts: mappings/contacts.yaml}\n"
    )
    failed = kpitree("sync", hubspot.project)
    assert failed.code == 1
    assert "no property 'lifecyclestag'" in failed.err and "lifecyclestage" in failed.err
    tested = kpitree("sources", "test", hubspot.project)
    assert tested.code == 1 and "lifecyclestag" in tested.out


def test_sources_verify_compares_monthly_counts_with_hubspot(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    verify_follows_hubspot(hubspot, kpitree)


def test_sources_mapping_prints_the_default_mapping(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    shown = kpitree("sources", "mapping", "hubspot", "contacts", "--project", hubspot.project)
    assert shown.code == 0 and "hs_v2_date_entered_marketingqualifiedlead" in shown.out
    unknown = kpitree("sources", "mapping", "hubspot", "contact", "--project", hubspot.project)
    assert unknown.code == 1 and "did you mean 'contacts'" in unknown.err


def test_the_token_never_appears_in_output_logs_or_the_warehouse(
    hubspot: HubSpotSetup,
    kpitree: Callable[..., Run],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = hubspot.portal.token
    caplog.set_level(logging.DEBUG)
    texts = []
    texts.append(kpitree("sync", hubspot.project, "--json"))
    hubspot.portal.token = "pat-na1-other"  # now the stored token is refused
    texts.append(kpitree("sync", hubspot.project, "--json"))
    texts.append(kpitree("sync", hubspot.project))
    texts.append(kpitree("sources", hubspot.project, "--json"))
    texts.append(kpitree("sources", "test", hubspot.project))
    texts.append(kpitree("imports", "--project", hubspot.project, "--json"))
    for run in texts:
        assert token not in run.out and token not in run.err
    assert token not in caplog.text
    assert "401" in texts[2].err or "refused the token" in texts[2].err
    warehouse = (hubspot.project / ".kpitree" / "warehouse.duckdb").read_bytes()
    assert token.encode() not in warehouse
    assert redact(f"x {token} y") == "x *** y"


def test_a_token_pasted_into_the_definition_is_refused_without_repeating_it(
    tmp_path: Path, kpitree: Callable[..., Run]
) -> None:
    secret = "pat-na1-00000000-aaaa-bbbb-cccc-dddddddddddd"
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "kpitree.yaml").write_text(
        f"kpitree: 1\nname: x\nsources:\n  hubspot:\n    type: hubspot\n    token_env: {secret}\n",
        encoding="utf-8",
    )
    for args in (("sync", folder), ("sources", folder), ("check", folder)):
        run = kpitree(*args)
        assert run.code == 1
        assert secret not in run.out + run.err
        assert "kpitree.yaml:6:16: error: token_env must name an environment variable" in run.err


def test_source_definitions_are_checked_with_located_errors(
    tmp_path: Path, kpitree: Callable[..., Run]
) -> None:
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "kpitree.yaml").write_text(
        "kpitree: 1\nname: x\nsources:\n"
        "  hs:\n    type: hubspot\n    token_env: HS_TOKEN\n    token: abc\n"
        "    schedule: {every: 5x}\n"
        "  sf:\n    type: salesforce\n    instance_url: https://example.my.salesforce.com\n"
        "    auth: {flow: jwt, client_id_env: SF_ID}\n"
        "  kt:\n    type: kintone\n    base_url: https://example.cybozu.com\n"
        "    apps: {deals: {app: 12, token_env: KT_TOKEN, mapping: m.yaml}}\n"
        "  both:\n    type: hubspot\n",
        encoding="utf-8",
    )
    run = kpitree("sources", folder)
    assert run.code == 1
    assert "kpitree.yaml:7:5: error: unknown key 'token'" in run.err
    assert "missing" in run.err and "username" in run.err
    ok = (folder / "kpitree.yaml").read_text(encoding="utf-8").replace("    token: abc\n", "")
    ok = ok.replace(
        "auth: {flow: jwt, client_id_env: SF_ID}",
        "auth: {flow: jwt, client_id_env: SF_ID, username: a@b.c, private_key_file_env: SF_KEY}",
    )
    (folder / "kpitree.yaml").write_text(ok, encoding="utf-8")
    run = kpitree("sources", folder)
    assert "kpitree.yaml:7:23: error: schedule every: '5x'" in run.err
    assert "source 'both' needs exactly one of token_env" in run.err


def test_secret_files_must_live_outside_the_project(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run], tmp_path: Path
) -> None:
    inside = hubspot.project / "token.txt"
    inside.write_text(hubspot.portal.token, encoding="utf-8")
    outside = tmp_path / "secret" / "hubspot-token"
    outside.parent.mkdir()
    outside.write_text(hubspot.portal.token + "\n", encoding="utf-8")
    text = (hubspot.project / "kpitree.yaml").read_text(encoding="utf-8")
    (hubspot.project / "kpitree.yaml").write_text(
        text.replace(f"token_env: {TOKEN_ENV}", "token_file: token.txt"), encoding="utf-8"
    )
    refused = kpitree("sync", hubspot.project)
    assert refused.code == 1 and "inside the project folder" in refused.err
    (hubspot.project / "kpitree.yaml").write_text(
        text.replace(f"token_env: {TOKEN_ENV}", f"token_file: {outside}"), encoding="utf-8"
    )
    done = kpitree("sync", hubspot.project)
    assert done.code == 0, done.err


def test_an_unset_token_variable_says_what_to_export(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    run = kpitree("sync", hubspot.project)
    assert run.code == 1
    assert f"the environment variable {TOKEN_ENV} (token_env) is not set" in run.err
    assert not hubspot.portal.calls  # nothing was asked without a token


def test_plain_http_is_refused_except_to_loopback(
    tmp_path: Path, kpitree: Callable[..., Run]
) -> None:
    folder = write_project(tmp_path / "plan", "http://api.example.com")
    run = kpitree("sync", folder)
    assert run.code == 1 and "must be an https:// address" in run.err


def test_unknown_source_names_get_a_suggestion(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    run = kpitree("sync", hubspot.project, "--source", "hubspt")
    assert run.code == 1 and "did you mean 'hubspot'" in run.err


def test_synced_owners_are_matched_to_the_organisation(
    hubspot: HubSpotSetup, kpitree: Callable[..., Run]
) -> None:
    write_project(
        hubspot.project,
        hubspot.url,
        "organisation:\n  field_sales:\n    teams:\n"
        "      east: {share: 1, reps: {佐藤健: 0.5, 鈴木: 0.5}}\n",
    )
    text = kpitree("sync", hubspot.project)
    assert "5 owner(s)" in text.out and "match no rep of the organisation" in text.out
    hubspot.company.advance(1)
    done = kpitree("sync", hubspot.project, "--json")
    assert done.code == 0, done.err
    owners = done.json()["owners"]
    # HubSpot owner 70000 is 佐藤 健: matched by name to 佐藤健; 70001 (鈴木 花子)
    # to 鈴木 by the family name alone; the other five match nobody.
    assert owners["matched"] == 2 and len(owners["unmatched"]) == 5
    assert owners["by_family_name"][0]["owner"] == "70001"
    assert owners["by_family_name"][0]["rep"] == "鈴木"
