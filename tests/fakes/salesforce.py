"""A fake Salesforce on loopback that speaks the documented REST API.

- ``POST /services/oauth2/token``: the client-credentials grant (client id and
  secret) and the JWT bearer grant (``urn:ietf:params:oauth:grant-type:jwt-bearer``,
  an RS256 assertion with ``iss`` = client id, ``sub`` = username, ``aud`` = the
  login URL, ``exp`` in the future, checked against the test certificate's public
  key). Answers ``{access_token, instance_url, id, token_type, issued_at, ...}`` or
  ``{error, error_description}`` with HTTP 400.
- ``GET /services/data/vXX.X/query?q=`` and ``/queryAll?q=`` (deleted rows too),
  paged by ``nextRecordsUrl`` (``/services/data/vXX.X/query/<locator>-<offset>``);
  ``Sforce-Query-Options: batchSize=`` between 200 and 2000 is honoured.
- ``GET /services/data/vXX.X/sobjects/<Object>/describe``.
- Bulk API 2.0 query jobs: ``POST /services/data/vXX.X/jobs/query`` (``query`` or
  ``queryAll``; aggregates refused), ``GET .../jobs/query/<id>`` (``InProgress``
  at the first poll, then ``JobComplete``), ``GET .../jobs/query/<id>/results``
  (CSV, ``maxRecords``, ``locator``, ``Sforce-Locator: null`` after the last set,
  409 with another API version).
- Every API response carries ``Sforce-Limit-Info: api-usage=N/LIMIT``; past the
  limit the answer is 403 ``REQUEST_LIMIT_EXCEEDED``; an expired or unknown token
  gets 401 ``INVALID_SESSION_ID``. Errors are ``[{"message", "errorCode"}]``.

Tests change the org between syncs through :attr:`FakeSalesforce.org` and can
expire tokens, lower the API limit, hide objects or fields (permissions), and
count requests.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fakes.loopback import run_on_loopback
from fakes.salesforce_org import SCHEMA, Org
from fakes.salesforce_soql import SoqlError, parse, run

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass
class FakeSalesforce:
    org: Org
    client_id: str = "3MVG9fakeClientId"
    client_secret: str = field(default_factory=lambda: "secret-" + secrets.token_hex(8))
    username: str = "integration@example.co.jp"
    public_key: str | None = None
    api_limit: int = 100_000
    api_usage: int = 0
    limit_after: int | None = None
    """After this many more API requests, the day's limit is used up (by others)."""
    expire_every: int | None = None
    """Invalidate every token after this many API requests (a session timeout)."""
    hidden_objects: set[str] = field(default_factory=set)
    hidden_fields: dict[str, set[str]] = field(default_factory=dict)
    client_credentials_enabled: bool = True
    token_failures: int = 0
    echo_refused: bool = False
    """A refused token request's description repeats the form it was sent."""
    """Answer this many token requests with 503 (the server busy) first."""
    scope: str = "api"
    """Scopes the app grants (``api``; ``id`` alone cannot call the REST API)."""
    requests: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    """Path and query of every API request, to replay them (the benchmark's baseline);
    a Bulk API job's creation as ``POST <path> <job id> <JSON body>``."""
    tokens_issued: int = 0
    issued: list[str] = field(default_factory=list)
    """Every access token handed out (a test checks none leaks)."""
    base_url: str = ""
    _tokens: dict[str, int] = field(default_factory=dict)
    _cursors: dict[str, tuple[list[dict[str, Any]], int]] = field(default_factory=dict)
    _jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    bulk_jobs: int = 0
    """Bulk API 2.0 query jobs created."""
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    # -- helpers the tests use -------------------------------------------------------
    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    @contextmanager
    def changing(self) -> Iterator[Org]:
        """Change the org while no request is being answered."""
        with self._lock:
            yield self.org

    def fields_of(self, sobject: str) -> set[str] | None:
        if sobject not in SCHEMA or sobject in self.hidden_objects:
            return None
        if sobject == "LeadHistory" and not self.org.field_history:
            return None
        return set(SCHEMA[sobject]) - self.hidden_fields.get(sobject, set())

    # -- the app ---------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/services/oauth2/token", self._token, methods=["POST"]),
                Route("/services/data/{version}/query", self._query),
                Route("/services/data/{version}/queryAll", self._query_all),
                Route("/services/data/{version}/query/{locator}", self._more),
                Route("/services/data/{version}/queryAll/{locator}", self._more),
                Route("/services/data/{version}/sobjects/{sobject}/describe", self._describe),
                Route("/services/data/{version}/jobs/query", self._create_job, methods=["POST"]),
                Route("/services/data/{version}/jobs/query/{job}", self._job),
                Route("/services/data/{version}/jobs/query/{job}/results", self._results),
            ]
        )

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        with self._lock:
            self.requests.append("token")
            if self.token_failures > 0:
                self.token_failures -= 1
                return JSONResponse({"error": "server_error"}, status_code=503)
            grant = form.get("grant_type")
            if grant == "client_credentials":
                if form.get("client_id") != self.client_id or not secrets.compare_digest(
                    str(form.get("client_secret", "")), self.client_secret
                ):
                    echoed = f" {dict(form)}" if self.echo_refused else ""
                    return _oauth_error("invalid_client", "invalid client credentials" + echoed)
                if not self.client_credentials_enabled:
                    return _oauth_error("invalid_grant", "no client credentials user enabled")
            elif grant == JWT_GRANT:
                problem = self._check_assertion(str(form.get("assertion", "")))
                if problem:
                    return _oauth_error(*problem)
            else:
                return _oauth_error("unsupported_grant_type", "grant type not supported")
            token = f"00D5g000004fake!{secrets.token_urlsafe(24)}"
            self._tokens[token] = 0
            self.tokens_issued += 1
            self.issued.append(token)
            return JSONResponse(
                {
                    "access_token": token,
                    "signature": secrets.token_urlsafe(16),
                    "scope": self.scope,
                    "instance_url": self.base_url,
                    "id": f"{self.base_url}/id/00D5g000004fakeEAA/005000000000001AAA",
                    "token_type": "Bearer",
                    "issued_at": str(int(time.time() * 1000)),
                }
            )

    def _check_assertion(self, assertion: str) -> tuple[str, str] | None:
        if self.public_key is None:
            return ("invalid_grant", "invalid assertion")
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience=list(AUDIENCES),
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            return ("invalid_grant", "expired authorization code")
        except jwt.InvalidAudienceError:
            return ("invalid_grant", "audience is invalid")
        except jwt.PyJWTError:
            return ("invalid_grant", "invalid assertion")
        if claims["iss"] != self.client_id:
            return ("invalid_client_id", "client identifier invalid")
        if claims["sub"] != self.username:
            return ("invalid_grant", "user hasn't approved this consumer")
        return None

    def _authorise(self, request: Request) -> JSONResponse | None:
        self.requests.append(request.url.path)
        query = request.url.query
        self.urls.append(request.url.path + (f"?{query}" if query else ""))
        header = request.headers.get("authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if token not in self._tokens:
            return _api_error(401, "INVALID_SESSION_ID", "Session expired or invalid", self)
        self._tokens[token] += 1
        if self.expire_every is not None and self._tokens[token] > self.expire_every:
            del self._tokens[token]
            return _api_error(401, "INVALID_SESSION_ID", "Session expired or invalid", self)
        if self.limit_after is not None:
            self.limit_after -= 1
            if self.limit_after < 0:
                self.api_usage, self.limit_after = self.api_limit, None
        if self.api_usage >= self.api_limit:
            return _api_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", self)
        self.api_usage += 1
        return None

    async def _query(self, request: Request) -> JSONResponse:
        return self._run(request, include_deleted=False)

    async def _query_all(self, request: Request) -> JSONResponse:
        return self._run(request, include_deleted=True)

    def _run(self, request: Request, *, include_deleted: bool) -> JSONResponse:
        with self._lock:
            refused = self._authorise(request)
            if refused:
                return refused
            try:
                query = parse(request.query_params.get("q", ""), self.fields_of)
            except SoqlError as exc:
                return _api_error(400, exc.code, exc.message, self)
            records = list(self.org.records[query.sobject].values())
            if not include_deleted:
                records = [r for r in records if not r.get("IsDeleted")]
            rows = [
                {"attributes": self._attributes(query.sobject, r, query.aggregate), **r}
                for r in run(query, records)
            ]
            batch = _batch_size(request.headers.get("sforce-query-options", ""))
            locator = f"01g5g{next(self._ids):010d}"
            self._cursors[locator] = (rows, batch)
            version = request.path_params["version"]
            kind = "queryAll" if include_deleted else "query"
            return self._page(rows, 0, batch, f"/services/data/{version}/{kind}/{locator}")

    def _attributes(self, sobject: str, row: dict[str, Any], aggregate: bool) -> dict[str, str]:
        if aggregate:
            return {"type": "AggregateResult"}
        return {"type": sobject, "url": f"/services/data/v62.0/sobjects/{sobject}/{row.get('Id')}"}

    async def _more(self, request: Request) -> JSONResponse:
        with self._lock:
            refused = self._authorise(request)
            if refused:
                return refused
            locator, _, offset = request.path_params["locator"].rpartition("-")
            cursor = self._cursors.get(locator)
            if cursor is None or not offset.isdigit():
                return _api_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator", self)
            path = request.url.path.rsplit("/", 1)[0] + "/" + locator
            # Follow-up pages keep the first page's size, as a query locator does.
            return self._page(cursor[0], int(offset), cursor[1], path)

    def _page(self, rows: list[dict[str, Any]], start: int, size: int, path: str) -> JSONResponse:
        chunk = rows[start : start + size]
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": start + size >= len(rows),
            "records": [{k: _json_value(v) for k, v in r.items()} for r in chunk],
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"{path}-{start + size}"
        return JSONResponse(body, headers=_limit_headers(self))

    # -- Bulk API 2.0 query jobs ------------------------------------------------------
    async def _create_job(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            refused = self._authorise(request)
            if refused:
                return refused
            operation = body.get("operation")
            try:
                query = parse(str(body.get("query", "")), self.fields_of)
            except SoqlError as exc:
                return _api_error(400, exc.code, exc.message, self)
            if operation not in ("query", "queryAll") or query.aggregate or query.group:
                return _api_error(400, "API_ERROR", "Aggregate queries are not supported", self)
            records = list(self.org.records[query.sobject].values())
            if operation == "query":
                records = [r for r in records if not r.get("IsDeleted")]
            job_id = f"7505g{next(self._ids):013d}"
            self.bulk_jobs += 1
            # Logged with the job's id and body, so that a replay can create it again.
            self.urls[-1] = f"POST {request.url.path} {job_id} {json.dumps(body)}"
            self._jobs[job_id] = {
                "info": {"id": job_id, "operation": operation, "object": query.sobject,
                         "state": "UploadComplete", "contentType": "CSV",
                         "apiVersion": request.path_params["version"].lstrip("v"),
                         "lineEnding": "LF", "columnDelimiter": "COMMA"},
                "version": request.path_params["version"],
                "select": query.select,
                "rows": run(query, records),
                "polls": 0,
            }  # fmt: skip
            return JSONResponse(self._jobs[job_id]["info"], headers=_limit_headers(self))

    async def _job(self, request: Request) -> JSONResponse:
        with self._lock:
            refused = self._authorise(request)
            if refused:
                return refused
            job = self._jobs.get(request.path_params["job"])
            if job is None:
                return _api_error(404, "NOT_FOUND", "The requested resource does not exist", self)
            job["polls"] += 1  # the first poll finds it running, the next one done
            job["info"]["state"] = "InProgress" if job["polls"] < 2 else "JobComplete"
            return JSONResponse(job["info"], headers=_limit_headers(self))

    async def _results(self, request: Request) -> Response:
        with self._lock:
            refused = self._authorise(request)
            if refused:
                return refused
            job = self._jobs.get(request.path_params["job"])
            if job is None:
                return _api_error(404, "NOT_FOUND", "The requested resource does not exist", self)
            if request.path_params["version"] != job["version"]:
                return _api_error(409, "CONFLICT", "API version mismatch", self)
            if job["info"]["state"] != "JobComplete":
                return _api_error(400, "API_ERROR", "job is not complete", self)
            start = int(request.query_params.get("locator") or 0)
            size = int(request.query_params.get("maxRecords") or 100_000)
            chunk = job["rows"][start : start + size]
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(job["select"])
            for row in chunk:
                writer.writerow([_csv_value(row[name]) for name in job["select"]])
            more = start + size < len(job["rows"])
            headers = {**_limit_headers(self), "Sforce-NumberOfRecords": str(len(chunk)),
                       "Sforce-Locator": str(start + size) if more else "null"}  # fmt: skip
            return Response(out.getvalue(), media_type="text/csv", headers=headers)

    async def _describe(self, request: Request) -> JSONResponse:
        with self._lock:
            refused = self._authorise(request)
            if refused:
                return refused
            sobject = request.path_params["sobject"]
            visible = self.fields_of(sobject)
            if visible is None:
                return _api_error(404, "NOT_FOUND", "The requested resource does not exist", self)
            fields = [
                {
                    "name": name,
                    "type": kind,
                    "label": name,
                    "nillable": name != "Id",
                    "relationshipName": name[:-2] if kind == "reference" else None,
                }
                for name, kind in SCHEMA[sobject].items()
                if name in visible
            ]
            return JSONResponse(
                {"name": sobject, "label": sobject, "queryable": True, "fields": fields},
                headers=_limit_headers(self),
            )


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _batch_size(header: str) -> int:
    match = re.search(r"batchSize=(\d+)", header)
    size = int(match[1]) if match else 2000
    return min(max(size, 200), 2000)


def _limit_headers(fake: FakeSalesforce) -> dict[str, str]:
    return {"Sforce-Limit-Info": f"api-usage={fake.api_usage}/{fake.api_limit}"}


def _api_error(status: int, code: str, message: str, fake: FakeSalesforce) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status_code=status,
                        headers=_limit_headers(fake))  # fmt: skip


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=400)


@contextmanager
def serve(fake: FakeSalesforce) -> Iterator[FakeSalesforce]:
    """Run ``fake`` on a free loopback port for the duration of the block."""
    with run_on_loopback(fake.app(), "Salesforce") as url:
        fake.base_url = url  # read per request: the token answer names it
        yield fake
