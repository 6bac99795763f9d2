"""A small client for the Salesforce REST API: SOQL query/queryAll with paging, describe.

- Every request carries ``Authorization: Bearer <token>``. A 401
  ``INVALID_SESSION_ID`` (the session timed out) gets one new token and the request
  again; a second refusal is an error (the app's policies, IP ranges or API access).
- ``/query`` and ``/queryAll`` (which also returns deleted rows, ``IsDeleted``)
  follow ``nextRecordsUrl`` until ``done``; ``Sforce-Query-Options: batchSize=``
  asks for pages of 200 to 2,000 rows.
- Polite to the org's API allowance: ``Sforce-Limit-Info: api-usage=N/LIMIT`` is read
  from every answer, and the client stops before it would eat into the share of the
  daily limit left for the org's other integrations (``reserve``). A 403
  ``REQUEST_LIMIT_EXCEEDED`` stops at once (retrying only spends more).
- Transient failures (connection errors, 5xx, 503 "server busy") are retried with
  exponential backoff and jitter.
- Refusals name what to fix: an object the integration user cannot see
  (``INVALID_TYPE``, 404 on describe), a field it cannot read (``INVALID_FIELD``).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kpitree.connectors.salesforce.auth import Credentials, fetch_token
from kpitree.connectors.salesforce.errors import SalesforceError, salesforce_error

if TYPE_CHECKING:
    import httpx

__all__ = ["API_VERSION", "ApiUsage", "SalesforceClient"]

API_VERSION = "v62.0"
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_FIELD = re.compile(r"No such column '([^']+)' on entity '([^']+)'")
_TYPE = re.compile(r"sObject type '([^']+)' is not supported")


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int


class SalesforceClient:
    """Talks to one org. ``instance_url`` is the org's My Domain URL (or a test
    server); every path is built from it, port included."""

    def __init__(
        self,
        instance_url: str,
        credentials: Credentials,
        *,
        api_version: str = API_VERSION,
        reserve: float = 0.1,
        retries: int = 5,
        backoff: float = 0.5,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.instance_url = instance_url.rstrip("/")
        self.credentials = credentials
        self.api_version = api_version
        self.reserve = reserve
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.usage: ApiUsage | None = None
        self.requests = 0
        self._token: str | None = None
        self.scope: str | None = None
        """Scopes of the current session, when Salesforce said."""
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SalesforceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------
    def authenticate(self) -> None:
        from kpitree.connectors.secrets import remember_secret

        attempt = 0
        while True:
            try:
                token = fetch_token(self._http, self.instance_url, self.credentials)
                break
            except SalesforceError as exc:
                # A network error or a server error (5xx) may pass; a refusal does not.
                status = exc.diagnostics[0].params.get("status", 0)
                transient = exc.code == "KT939" or (isinstance(status, int) and status >= 500)
                if not transient or attempt >= self.retries:
                    raise
                self._wait(attempt)
                attempt += 1
        remember_secret(token.access_token)  # a session is a secret too: never logged
        self._token, self.scope = token.access_token, token.scope

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        """GET ``path`` (from ``/services/...``) and return the JSON body."""
        return self.send("GET", path, headers=headers).json()

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send a request to ``path`` (from ``/services/...``) as the module says
        (session renewal, retries, limits) and return the successful response."""
        import httpx

        if self._token is None:
            self.authenticate()
        self._check_reserve()
        refreshed = False
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    self.instance_url + path,
                    headers={"Authorization": f"Bearer {self._token}", **(headers or {})},
                    json=json,
                )
            except httpx.HTTPError as exc:
                if attempt < self.retries:
                    self._wait(attempt)
                    attempt += 1
                    continue
                raise salesforce_error(
                    "KT939", "salesforce.http.unreachable", url=self.instance_url,
                    reason=type(exc).__name__,
                ) from None  # fmt: skip
            self.requests += 1
            self._read_usage(response)
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self.authenticate()
                continue
            if response.status_code in (500, 502, 503, 504) and attempt < self.retries:
                self._wait(attempt)
                attempt += 1
                continue
            if response.status_code >= 400:
                raise self._refusal(response, path)
            return response

    def _wait(self, attempt: int) -> None:
        delay = self.backoff * (2**attempt)
        self.sleep(delay + random.uniform(0, delay / 2))

    def _read_usage(self, response: httpx.Response) -> None:
        match = _USAGE.search(response.headers.get("sforce-limit-info", ""))
        if match:
            self.usage = ApiUsage(int(match[1]), int(match[2]))

    def _check_reserve(self) -> None:
        usage = self.usage
        if usage is None or usage.limit <= 0 or self.reserve <= 0:
            return
        if usage.used >= usage.limit * (1 - self.reserve):
            raise salesforce_error(
                "KT936", "salesforce.limit.reserve", used=usage.used, limit=usage.limit,
                reserve=round(self.reserve * 100),
            )  # fmt: skip

    def _refusal(self, response: httpx.Response, path: str) -> SalesforceError:
        try:
            body = response.json()
        except ValueError:
            body = None
        first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
        code = str(first.get("errorCode", "")) or str(response.status_code)
        message = str(first.get("message", "")) or response.reason_phrase
        if code == "INVALID_SESSION_ID":
            return salesforce_error("KT937", "salesforce.auth.session", message=message)
        if code == "REQUEST_LIMIT_EXCEEDED":
            usage = self.usage
            return salesforce_error(
                "KT935", "salesforce.limit.exceeded",
                usage=f"{usage.used}/{usage.limit}" if usage else "-",
            )  # fmt: skip
        field = _FIELD.search(message)
        if code == "INVALID_FIELD" and field:
            return salesforce_error(
                "KT934", "salesforce.access.field", field=field[1], sobject=field[2]
            )
        kind = _TYPE.search(message)
        if code == "INVALID_TYPE" and kind:
            return salesforce_error("KT933", "salesforce.access.object", sobject=kind[1])
        return salesforce_error(
            "KT938", "salesforce.http.refused", status=response.status_code, error_code=code,
            message=message, path=path.split("?", 1)[0],
        )  # fmt: skip

    # -- resources ---------------------------------------------------------------------
    def describe(self, sobject: str) -> dict[str, Any]:
        """The object's describe, or KT933 when the user cannot see the object."""
        path = f"/services/data/{self.api_version}/sobjects/{sobject}/describe"
        try:
            body = self.get(path)
        except SalesforceError as exc:
            if exc.code == "KT938" and exc.diagnostics[0].params.get("status") == 404:
                raise salesforce_error(
                    "KT933", "salesforce.access.object", sobject=sobject
                ) from None
            raise
        assert isinstance(body, dict)
        return body

    def query(
        self, soql: str, *, include_deleted: bool = False, batch_size: int = 2000
    ) -> Iterator[list[dict[str, Any]]]:
        """The query's rows, one page at a time (``queryAll`` with ``include_deleted``)."""
        resource = "queryAll" if include_deleted else "query"
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
        path: str | None = f"/services/data/{self.api_version}/{resource}?q={quote(soql, safe='')}"
        while path is not None:
            body = self.get(path, headers)
            records = body.get("records", [])
            yield [_plain(r) for r in records]
            path = None if body.get("done", True) else body.get("nextRecordsUrl")


def _plain(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A record without ``attributes``, its parent relationships flattened the way
    SOQL names them (``Owner: {Name: ...}`` -> ``Owner.Name``)."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict) and "attributes" in value:
            flat.update(_plain(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
