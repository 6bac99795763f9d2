"""The fake Salesforce answers in the shapes Salesforce documents
(``tests/fakes/salesforce_contract.json``: examples from the documentation, with
their pages): a change to the fake must keep to them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from fakes.salesforce import FakeSalesforce

CONTRACT = json.loads(
    (Path(__file__).parents[2] / "fakes" / "salesforce_contract.json").read_text("utf-8")
)


def _shape(value: Any) -> Any:
    """Keys and value types, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_the_fake_answers_in_the_documented_shapes(salesforce: FakeSalesforce) -> None:
    base = salesforce.base_url
    token = httpx.post(
        f"{base}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": salesforce.client_id,
              "client_secret": salesforce.client_secret},
    ).json()  # fmt: skip
    documented = CONTRACT["token_client_credentials"]["example"]
    assert set(documented) <= set(token)
    assert _shape(token)["access_token"] == "str"

    refused = httpx.post(f"{base}/services/oauth2/token", data={"grant_type": "password"})
    assert refused.status_code == 400
    assert set(refused.json()) == set(CONTRACT["token_error"]["example"])

    headers = {"Authorization": f"Bearer {token['access_token']}",
               "Sforce-Query-Options": "batchSize=200"}  # fmt: skip
    page = httpx.get(
        f"{base}/services/data/v62.0/query", params={"q": "SELECT Field FROM LeadHistory"},
        headers=headers,
    )  # fmt: skip
    body = page.json()
    example = CONTRACT["query"]["example"]
    assert _shape(body) | {"records": None} == _shape(example) | {"records": None}
    assert set(body["records"][0]["attributes"]) == set(example["records"][0]["attributes"])
    assert re.fullmatch(r"/services/data/v\d+\.\d/query/[0-9A-Za-z]+-\d+", body["nextRecordsUrl"])
    assert re.fullmatch(r"api-usage=\d+/\d+", page.headers["Sforce-Limit-Info"])

    expired = httpx.get(f"{base}/services/data/v62.0/sobjects/Lead/describe")
    assert expired.status_code == 401
    assert _shape(expired.json()) == _shape(CONTRACT["error"]["example"])
