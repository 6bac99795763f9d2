"""The Salesforce REST client against the fake org: both OAuth flows, paging,
token expiry, API limits and the errors that say what to grant."""

from __future__ import annotations

import pytest
from salesforce_project import client_credentials

from fakes.salesforce import FakeSalesforce
from kpitree.connectors.salesforce.auth import Credentials
from kpitree.connectors.salesforce.client import SalesforceClient
from kpitree.connectors.salesforce.errors import SalesforceError


def _count(client: SalesforceClient, soql: str, **kw: object) -> tuple[int, int]:
    pages = list(client.query(soql, **kw))  # type: ignore[arg-type]
    return sum(len(p) for p in pages), len(pages)


def test_client_credentials_and_paging(salesforce: FakeSalesforce) -> None:
    with SalesforceClient(salesforce.base_url, client_credentials(salesforce)) as client:
        rows, pages = _count(client, "SELECT Id FROM Lead ORDER BY SystemModstamp", batch_size=50)
    assert rows == 120
    assert pages == 1 + (120 - 1) // 200  # batchSize below 200 is raised to 200
    with SalesforceClient(salesforce.base_url, client_credentials(salesforce)) as client:
        rows, pages = _count(client, "SELECT Id FROM LeadHistory", batch_size=200)
    assert pages > 1
    assert rows == len(salesforce.org.records["LeadHistory"])


def test_jwt_bearer_flow(salesforce: FakeSalesforce, rsa_key: tuple[str, str]) -> None:
    credentials = Credentials(
        "jwt", salesforce.client_id, username=salesforce.username, private_key=rsa_key[0]
    )
    with SalesforceClient(salesforce.base_url, credentials) as client:
        assert _count(client, "SELECT Id FROM User")[0] == 7
    assert salesforce.tokens_issued == 1


def test_jwt_signed_with_another_key_is_refused(salesforce: FakeSalesforce) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    credentials = Credentials(
        "jwt", salesforce.client_id, username=salesforce.username, private_key=other,
        secret_names=("SF_CLIENT_ID", "SF_KEY_FILE"),
    )  # fmt: skip
    with (
        SalesforceClient(salesforce.base_url, credentials) as client,
        pytest.raises(SalesforceError) as caught,
    ):
        client.describe("Lead")
    assert caught.value.code == "KT931"
    assert "invalid assertion" in str(caught.value)
    assert "BEGIN PRIVATE KEY" not in str(caught.value)


def test_bad_secret_is_refused_without_showing_it(salesforce: FakeSalesforce) -> None:
    wrong = Credentials(
        "client_credentials", salesforce.client_id, "not-the-secret-4711",
        secret_names=("SF_CLIENT_ID", "SF_CLIENT_SECRET"),
    )  # fmt: skip
    with (
        SalesforceClient(salesforce.base_url, wrong) as client,
        pytest.raises(SalesforceError) as caught,
    ):
        client.describe("Lead")
    text = str(caught.value)
    assert caught.value.code == "KT931"
    assert "invalid_client" in text and "SF_CLIENT_SECRET" in text
    assert "not-the-secret-4711" not in text and "not-the-secret-4711" not in repr(wrong)


def test_a_refusal_that_echoes_the_request_does_not_show_the_secret(
    salesforce: FakeSalesforce,
) -> None:
    salesforce.echo_refused = True
    wrong = Credentials(
        "client_credentials", salesforce.client_id, "echoed-secret-9931" * 40,
        secret_names=("SF_CLIENT_ID", "SF_CLIENT_SECRET"),
    )  # fmt: skip
    with (
        SalesforceClient(salesforce.base_url, wrong) as client,
        pytest.raises(SalesforceError) as caught,
    ):
        client.describe("Lead")
    text = str(caught.value)
    assert caught.value.code == "KT931" and "invalid client credentials" in text
    assert "echoed-secret-9931" not in text
    assert "***" in text


def test_expired_session_gets_a_new_token(salesforce: FakeSalesforce) -> None:
    salesforce.expire_every = 1  # every token works for one request only
    with SalesforceClient(salesforce.base_url, client_credentials(salesforce)) as client:
        rows, pages = _count(client, "SELECT Id FROM LeadHistory", batch_size=200)
    assert rows == len(salesforce.org.records["LeadHistory"]) and pages == 2
    assert salesforce.tokens_issued == pages


def test_session_refused_twice_is_an_error(salesforce: FakeSalesforce) -> None:
    salesforce.expire_every = 0  # no token is ever accepted
    client = SalesforceClient(salesforce.base_url, client_credentials(salesforce))
    with client, pytest.raises(SalesforceError) as caught:
        client.describe("Lead")
    assert caught.value.code == "KT937"
    assert salesforce.tokens_issued == 2


def test_request_limit_exceeded_stops_at_once(salesforce: FakeSalesforce) -> None:
    salesforce.api_limit, salesforce.api_usage = 10, 10
    with (
        SalesforceClient(salesforce.base_url, client_credentials(salesforce), reserve=0) as client,
        pytest.raises(SalesforceError) as caught,
    ):
        client.describe("Lead")
    assert caught.value.code == "KT935"
    assert salesforce.requests.count("/services/data/v62.0/sobjects/Lead/describe") == 1


def test_reserve_of_the_daily_limit_is_left_alone(salesforce: FakeSalesforce) -> None:
    salesforce.api_limit, salesforce.api_usage = 100, 85
    with SalesforceClient(salesforce.base_url, client_credentials(salesforce)) as client:
        client.describe("Lead")  # 86/100: fine
        assert client.usage is not None and client.usage.used == 86
        for _ in range(4):
            client.describe("Lead")
        with pytest.raises(SalesforceError) as caught:
            client.describe("Lead")  # 90/100 used: the last 10% are the org's
    assert caught.value.code == "KT936"
    assert salesforce.api_usage == 90


def test_missing_permissions_say_what_to_grant(salesforce: FakeSalesforce) -> None:
    salesforce.hidden_objects.add("OpportunityHistory")
    salesforce.hidden_fields["Lead"] = {"LeadSource"}
    with SalesforceClient(salesforce.base_url, client_credentials(salesforce)) as client:
        with pytest.raises(SalesforceError) as no_object:
            list(client.query("SELECT Id FROM OpportunityHistory"))
        with pytest.raises(SalesforceError) as no_describe:
            client.describe("OpportunityHistory")
        with pytest.raises(SalesforceError) as no_field:
            list(client.query("SELECT Id, LeadSource FROM Lead"))
    assert no_object.value.code == no_describe.value.code == "KT933"
    assert "OpportunityHistory" in str(no_object.value)
    assert no_field.value.code == "KT934"
    assert "Lead.LeadSource" in str(no_field.value)


def test_parent_fields_are_named_as_soql_names_them() -> None:
    from kpitree.connectors.salesforce.client import _plain

    record = {
        "attributes": {"type": "Opportunity", "url": "/services/data/v62.0/sobjects/x/006"},
        "Id": "006",
        "Owner": {"attributes": {"type": "User"}, "Name": "佐藤 健",
                  "UserRole": {"attributes": {"type": "UserRole"}, "Name": "営業"}},
        "Account": None,
    }  # fmt: skip
    assert _plain(record) == {
        "Id": "006", "Owner.Name": "佐藤 健", "Owner.UserRole.Name": "営業", "Account": None
    }  # fmt: skip


def test_a_busy_token_endpoint_is_tried_again(salesforce: FakeSalesforce) -> None:
    salesforce.token_failures = 2
    waits: list[float] = []
    client = SalesforceClient(
        salesforce.base_url, client_credentials(salesforce), sleep=waits.append
    )
    with client:
        client.describe("Lead")
    assert len(waits) == 2 and salesforce.tokens_issued == 1


def test_stamps_sort_as_instants_without_parsing_utc_ones() -> None:
    from kpitree.connectors.salesforce.bulk import _cell
    from kpitree.connectors.salesforce.objects import since, stamp_key

    assert stamp_key("2025-01-31T09:00:00.000+0000") == "2025-01-31T09:00:00.000+0000"
    assert stamp_key("2025-01-31T18:00:00.120+0900") == "2025-01-31T09:00:00.120+0000"
    assert stamp_key("2025-01-31T08:59:59.000-0100") > stamp_key("2025-01-31T09:00:00.000+0000")
    assert since("2025-01-31T09:03:07.000+0000") == "2025-01-31T08:58:07Z"
    assert _cell("2025-01-31T09:00:00.000Z") == "2025-01-31T09:00:00.000+0000"
    assert _cell("") is None and _cell("Zoe") == "Zoe"
