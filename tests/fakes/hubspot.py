"""A fake HubSpot CRM API on loopback, serving a generated company whose true
funnel is known.

It implements what the connector uses, as HubSpot documents it
(developers.hubspot.com, CRM objects v3, search, properties):

- ``GET /crm/v3/objects/{object}``: ``limit`` (at most 100, else 400),
  ``after`` (an opaque cursor), ``properties`` (comma-separated; unknown ones
  are left out silently, as HubSpot does), ``archived`` (only archived records,
  with ``archivedAt``); ``paging.next.after`` and ``link`` while more remain.
  With ``empty_pages`` set, some pages come back empty with a next cursor.
- ``POST /crm/v3/objects/{object}/search``: ``filterGroups`` (OR of ANDs;
  ``EQ``, ``NEQ``, ``GT``, ``GTE``, ``LT``, ``LTE``, ``BETWEEN``, ``HAS_PROPERTY``),
  one sort, ``limit`` at most 200, ``after`` an offset; paging past 10,000
  results is a 400; ``total``; no ``link`` and no associations; archived
  records are never found; at most 5 searches per second (else 429 without
  ``Retry-After``, as HubSpot's search answers).
- ``POST /crm/v3/objects/{object}/batch/read``: ``inputs`` (at most 100, 50
  with ``propertiesWithHistory``, else 400), ``properties``; ids it cannot find
  (deleted, archived) come back under ``errors`` (``OBJECT_NOT_FOUND``) with
  HTTP 207.
- ``GET /crm/v3/properties/{object}``.
- ``Authorization: Bearer``: a wrong token is a 401, a missing scope a 403
  with ``category: MISSING_SCOPES`` and the required scopes.
- ``throttle_every``: every n-th request is a 429 without ``Retry-After``.

Every request is counted in ``calls``.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fakes.loopback import run_on_loopback

SCOPES = {"contacts": "crm.objects.contacts.read", "companies": "crm.objects.companies.read",
          "deals": "crm.objects.deals.read", "owners": "crm.objects.owners.read"}  # fmt: skip


_MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate",
             "deals": "hs_lastmodifieddate"}  # fmt: skip


def iso(ms: int) -> str:
    """HubSpot's way of writing an instant: ISO 8601 in UTC with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}Z"
    )


def ms_of(text: str) -> int:
    if text.isdigit():
        return int(text)
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class Record:
    id: str
    properties: dict[str, str | None]
    created_ms: int
    archived: bool = False
    archived_ms: int | None = None
    associations: dict[str, list[str]] = field(default_factory=dict)
    """Object type -> associated ids, the primary one first."""


@dataclass
class Portal:
    """The state of a fake portal: records, token, knobs and counters."""

    token: str = "pat-na1-11111111-2222-3333-4444-555555555555"
    scopes: set[str] = field(default_factory=lambda: set(SCOPES.values()))
    objects: dict[str, dict[str, Record]] = field(
        default_factory=lambda: {"contacts": {}, "companies": {}, "deals": {}}
    )
    owners: list[dict[str, Any]] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, list[str]] = field(default_factory=dict)
    throttle_every: int | None = None
    empty_pages: bool = False
    search_per_second: int = 5
    search_lag_ms: int = 0
    """Search leaves out records modified this recently (HubSpot: a write shows
    in search "after a few moments"); listings and batch reads show it at once."""
    search_cap: int = 10_000
    """Results one search query can page through (HubSpot: 10,000; then a 400)."""
    calls: list[tuple[str, str]] = field(default_factory=list)
    throttled: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _clock: int = 0
    _searches: list[float] = field(default_factory=list)
    _ordered: dict[tuple[str, bool], list[Record]] = field(default_factory=dict)
    rotate: tuple[int, str, Any] | None = None
    """(n, new token, callback): from the n-th request on, only the new token
    is valid (the old one expired) and ``callback(new token)`` runs once, as a
    token helper would rewrite the token file."""
    requests: list[tuple[str, str, Any]] | None = None
    """When a list: every authorised request as (method, path with query, JSON body)."""

    def ordered(self, obj: str, archived: bool) -> list[Record]:
        """The (archived) records of ``obj`` by id, kept between requests until
        ``changed()`` (a 200,000-record listing would sort them per page)."""
        key = (obj, archived)
        if key not in self._ordered:
            self._ordered[key] = sorted(
                (r for r in self.objects[obj].values() if r.archived == archived),
                key=lambda r: int(r.id),
            )
        return self._ordered[key]

    def changed(self) -> None:
        with self.lock:
            self._ordered.clear()

    def now_ms(self) -> int:
        """The portal's clock: real time, strictly increasing."""
        with self.lock:
            self._clock = max(int(time.time() * 1000), self._clock + 1)
            return self._clock


# -- the API -----------------------------------------------------------------------


def _error(status: int, message: str, category: str, **extra: Any) -> JSONResponse:
    body = {"status": "error", "message": message, "correlationId": "fake", "category": category}
    body.update(extra)
    return JSONResponse(body, status_code=status)


def _shape(record: Record, props: list[str], base: str, obj: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "properties": {p: record.properties.get(p) for p in props if p in record.properties},
        "createdAt": iso(record.created_ms),
        "updatedAt": record.properties.get("lastmodifieddate"),
        "archived": record.archived,
    }
    if record.archived:
        out["archivedAt"] = iso(record.archived_ms or 0)
    return out


def _matches(record: Record, flt: dict[str, Any]) -> bool:
    name = flt.get("propertyName")
    op = flt.get("operator", "EQ")
    raw = record.properties.get(str(name)) if name != "hs_object_id" else record.id
    if op == "HAS_PROPERTY":
        return raw is not None
    if raw is None:
        return op == "NOT_HAS_PROPERTY"

    def key(text: Any) -> Any:
        text = str(text)
        if str(name).endswith("date") or str(name).startswith("hs_v2_date") or "T" in text:
            try:
                return ms_of(text)
            except ValueError:
                return text
        try:
            return float(text)
        except ValueError:
            return text.lower()

    value, target = key(raw), key(flt.get("value"))
    return {
        "EQ": lambda: value == target,
        "NEQ": lambda: value != target,
        "GT": lambda: value > target,
        "GTE": lambda: value >= target,
        "LT": lambda: value < target,
        "LTE": lambda: value <= target,
        "BETWEEN": lambda: target <= value <= key(flt.get("highValue")),
    }[op]()


def make_app(portal: Portal) -> Starlette:
    def gate(request: Request, obj: str) -> JSONResponse | None:
        with portal.lock:
            portal.calls.append((request.method, request.url.path))
            if portal.requests is not None:
                url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                portal.requests.append((request.method, url, None))
            n = len(portal.calls)
            if portal.rotate is not None and n >= portal.rotate[0]:
                _, portal.token, renewed = portal.rotate
                portal.rotate = None
                renewed(portal.token)
        if request.headers.get("authorization") != f"Bearer {portal.token}":
            return _error(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        if portal.throttle_every and n % portal.throttle_every == 0:
            portal.throttled += 1
            return JSONResponse(
                {"status": "error", "message": "You have reached your secondly limit.",
                 "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                status_code=429,
            )  # fmt: skip
        if obj not in portal.objects and obj != "owners":
            return _error(400, f"Unable to infer object type from: {obj}", "VALIDATION_ERROR")
        scope = SCOPES.get(obj)
        if scope and scope not in portal.scopes:
            return _error(
                403,
                "This app hasn't been granted all required scopes to make this call.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [scope]},
                    }
                ],
            )
        return None

    async def listing(request: Request) -> JSONResponse:
        obj = request.path_params["object"]
        if (refused := gate(request, obj)) is not None:
            return refused
        q = request.query_params
        limit = int(q.get("limit", "10"))
        if limit > 100:
            return _error(400, "limit must be at most 100", "VALIDATION_ERROR")
        archived = q.get("archived", "false") == "true"
        props = [p for p in q.get("properties", "").split(",") if p]
        with portal.lock:
            records = portal.ordered(obj, archived)
            after = q.get("after")
            if portal.empty_pages and after is not None and not after.startswith("e"):
                # An empty page that still points on (HubSpot sends these now and then).
                link = f"{request.url.replace(query=None)}?after=e{after}"
                return JSONResponse(
                    {"results": [], "paging": {"next": {"after": f"e{after}", "link": link}}}
                )
            start = 0
            if after is not None:
                first = int(after.removeprefix("e"))
                start = bisect.bisect_left(records, first, key=lambda r: int(r.id))
            page = records[start : start + limit]
            body: dict[str, Any] = {
                "results": [
                    _shape(r, props or ["createdate", "lastmodifieddate"], "", obj) for r in page
                ]
            }
            if start + limit < len(records):
                nxt = records[start + limit].id
                body["paging"] = {
                    "next": {"after": nxt, "link": f"{request.url.replace(query=None)}?after={nxt}"}
                }
        return JSONResponse(body)

    async def search(request: Request) -> JSONResponse:
        obj = request.path_params["object"]
        if (refused := gate(request, obj)) is not None:
            return refused
        now = time.monotonic()
        with portal.lock:
            portal._searches = [s for s in portal._searches if now - s < 1.0]
            if len(portal._searches) >= portal.search_per_second:
                portal.throttled += 1
                return JSONResponse(
                    {"status": "error", "message": "You have reached your secondly limit.",
                     "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                    status_code=429,
                )  # fmt: skip
            portal._searches.append(now)
        body = await request.json()
        if portal.requests is not None:
            portal.requests[-1] = (*portal.requests[-1][:2], body)
        limit = int(body.get("limit", 10))
        offset = int(body.get("after") or 0)
        if limit > 200:
            return _error(400, "limit must be at most 200", "VALIDATION_ERROR")
        if offset + limit > portal.search_cap:
            return _error(400, "Cannot page past 10000 results.", "VALIDATION_ERROR")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            return _error(400, "Only one sort is supported.", "VALIDATION_ERROR")
        props = list(body.get("properties") or ["createdate", "lastmodifieddate"])
        props = list(dict.fromkeys([*props, "hs_object_id", "createdate", "lastmodifieddate"]))
        groups = body.get("filterGroups") or []
        with portal.lock:
            indexed = portal.now_ms() - portal.search_lag_ms
            found = [
                r
                for r in portal.objects[obj].values()
                if not r.archived
                and (
                    not portal.search_lag_ms
                    or ms_of(str(r.properties.get(_MODIFIED[obj]) or "0")) <= indexed
                )
                and (
                    not groups
                    or any(all(_matches(r, f) for f in g.get("filters", [])) for g in groups)
                )
            ]
            if sorts:
                prop = sorts[0]["propertyName"]
                found.sort(
                    key=lambda r: (ms_of(str(r.properties.get(prop) or "0")), int(r.id)),
                    reverse=sorts[0].get("direction") == "DESCENDING",
                )
            else:
                found.sort(key=lambda r: int(r.id))
            page = found[offset : offset + limit]
            answer: dict[str, Any] = {
                "total": len(found),
                "results": [_shape(r, props, "", obj) for r in page],
            }
            if offset + limit < len(found):
                answer["paging"] = {"next": {"after": str(offset + limit)}}
        return JSONResponse(answer)

    async def properties(request: Request) -> JSONResponse:
        obj = request.path_params["object"]
        if (refused := gate(request, obj)) is not None:
            return refused
        names = portal.properties.get(obj, [])
        return JSONResponse(
            {
                "results": [
                    {"name": n, "label": n, "type": "string", "fieldType": "text"} for n in names
                ]
            }
        )

    async def pipelines(request: Request) -> JSONResponse:
        if (refused := gate(request, "deals")) is not None:
            return refused
        return JSONResponse({"results": portal.pipelines})

    async def owners(request: Request) -> JSONResponse:
        if (refused := gate(request, "owners")) is not None:
            return refused
        q = request.query_params
        limit = int(q.get("limit", "100"))
        if limit > 500:
            return _error(400, "limit must be at most 500", "VALIDATION_ERROR")
        archived = q.get("archived", "false") == "true"
        found = [o for o in portal.owners if o["archived"] == archived]
        start = int(q.get("after") or 0)
        body: dict[str, Any] = {"results": found[start : start + limit]}
        if start + limit < len(found):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return JSONResponse(body)

    async def associations(request: Request) -> JSONResponse:
        source, target = request.path_params["from"], request.path_params["to"]
        if (refused := gate(request, source)) is not None:
            return refused
        payload = await request.json()
        if portal.requests is not None:
            portal.requests[-1] = (*portal.requests[-1][:2], payload)
        inputs = payload.get("inputs") or []
        if len(inputs) > 1000:
            return _error(400, "at most 1000 inputs", "VALIDATION_ERROR")
        results = []
        with portal.lock:
            for item in inputs:
                record = portal.objects[source].get(str(item.get("id")))
                if record is None or not record.associations.get(target):
                    continue
                ids = record.associations[target]
                results.append(
                    {
                        "from": {"id": record.id},
                        "to": [
                            {
                                "toObjectId": int(i),
                                "associationTypes": [
                                    {"category": "HUBSPOT_DEFINED", "typeId": 5 if n == 0 else 341,
                                     "label": "Primary" if n == 0 else None}
                                ],
                            }
                            for n, i in enumerate(ids)
                        ],
                    }
                )  # fmt: skip
        return JSONResponse(
            {"status": "COMPLETE", "results": results, "startedAt": iso(portal.now_ms()),
             "completedAt": iso(portal.now_ms())}
        )  # fmt: skip

    async def batch_read(request: Request) -> JSONResponse:
        obj = request.path_params["object"]
        if (refused := gate(request, obj)) is not None:
            return refused
        payload = await request.json()
        if portal.requests is not None:
            portal.requests[-1] = (*portal.requests[-1][:2], payload)
        inputs = payload.get("inputs") or []
        limit = 50 if payload.get("propertiesWithHistory") else 100
        if len(inputs) > limit:
            return _error(400, f"at most {limit} inputs", "VALIDATION_ERROR")
        props = list(payload.get("properties") or ["createdate", "lastmodifieddate"])
        archived = bool(payload.get("archived"))
        results, missing = [], []
        with portal.lock:
            for item in inputs:
                record = portal.objects[obj].get(str(item.get("id")))
                if record is None or record.archived != archived:
                    missing.append(str(item.get("id")))
                else:
                    results.append(_shape(record, props, "", obj))
        body: dict[str, Any] = {
            "status": "COMPLETE", "results": results,
            "startedAt": iso(portal.now_ms()), "completedAt": iso(portal.now_ms()),
        }  # fmt: skip
        if missing:
            body["numErrors"] = 1
            body["errors"] = [
                {"status": "error", "category": "OBJECT_NOT_FOUND",
                 "message": "Could not get some objects, they may be deleted or not exist.",
                 "context": {"ids": missing}}
            ]  # fmt: skip
        return JSONResponse(body, status_code=207 if missing else 200)

    return Starlette(
        routes=[
            Route("/crm/v3/pipelines/deals", pipelines),
            Route("/crm/v3/owners", owners),
            Route("/crm/v4/associations/{from}/{to}/batch/read", associations, methods=["POST"]),
            Route("/crm/v3/objects/{object}", listing),
            Route("/crm/v3/objects/{object}/search", search, methods=["POST"]),
            Route("/crm/v3/objects/{object}/batch/read", batch_read, methods=["POST"]),
            Route("/crm/v3/properties/{object}", properties),
        ]
    )


@contextmanager
def serve(portal: Portal) -> Iterator[str]:
    """Run the fake on 127.0.0.1 in a thread; yields its base URL."""
    with run_on_loopback(make_app(portal), "HubSpot") as url:
        yield url


def day_ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


__all__ = ["Portal", "Record", "day_ms", "iso", "ms_of", "serve"]
