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
- ``GET /crm/v3/properties/{object}``.
- ``Authorization: Bearer``: a wrong token is a 401, a missing scope a 403
  with ``category: MISSING_SCOPES`` and the required scopes.
- ``throttle_every``: every n-th request is a 429 without ``Retry-After``.

Every request is counted in ``calls``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
]
CANONICAL = {
    "subscriber": "subscriber",
    "lead": "lead",
    "marketingqualifiedlead": "mql",
    "salesqualifiedlead": "sql",
    "opportunity": "opportunity",
    "customer": "won",
}
SOURCES = {
    "ORGANIC_SEARCH": "organic_search",
    "PAID_SEARCH": "paid_search",
    "EMAIL_MARKETING": "email",
    "REFERRALS": "referral",
    "DIRECT_TRAFFIC": "direct",
    "OFFLINE": "offline",
}
SCOPES = {"contacts": "crm.objects.contacts.read", "companies": "crm.objects.companies.read",
          "deals": "crm.objects.deals.read"}  # fmt: skip
CONTACT_PROPERTIES = [
    "hs_object_id", "createdate", "lastmodifieddate", "lifecyclestage", "hs_analytics_source",
    "hubspot_owner_id", "industry", "country", "associatedcompanyid", "email", "firstname",
    "lastname", *(f"hs_v2_date_entered_{s}" for s in LIFECYCLE),
    *(f"hs_v2_date_exited_{s}" for s in LIFECYCLE),
]  # fmt: skip


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


@dataclass
class Portal:
    """The state of a fake portal: records, token, knobs and counters."""

    token: str = "pat-na1-11111111-2222-3333-4444-555555555555"
    scopes: set[str] = field(default_factory=lambda: set(SCOPES.values()))
    objects: dict[str, dict[str, Record]] = field(default_factory=lambda: {"contacts": {}})
    throttle_every: int | None = None
    empty_pages: bool = False
    search_per_second: int = 5
    calls: list[tuple[str, str]] = field(default_factory=list)
    throttled: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _clock: int = 0
    _searches: list[float] = field(default_factory=list)

    def now_ms(self) -> int:
        """The portal's clock: real time, strictly increasing."""
        with self.lock:
            self._clock = max(int(time.time() * 1000), self._clock + 1)
            return self._clock


# -- the generated company --------------------------------------------------------


class Company:
    """A generated company in a portal: contacts moving through the lifecycle.

    ``truth()`` is what kpitree must hold after syncing: the lead rows and the
    stage entries of every live contact, computed from the records directly."""

    def __init__(self, portal: Portal, *, contacts: int, seed: int = 7) -> None:
        self.portal = portal
        self.rng = random.Random(seed)
        self.owners = [str(70000 + i) for i in range(6)]
        self._next_id = 1001
        start = int(datetime(2025, 4, 1, tzinfo=UTC).timestamp() * 1000)
        for _ in range(contacts):
            created = start + self.rng.randrange(0, 540 * 86400_000)
            self._add_contact(created, modified=None)

    def _add_contact(self, created: int, modified: int | None) -> Record:
        rid = str(self._next_id)
        self._next_id += 1
        reach = self.rng.choices(range(1, 6), weights=[40, 25, 15, 12, 8])[0]
        props: dict[str, str | None] = dict.fromkeys(CONTACT_PROPERTIES)
        at = created
        last = created
        for i, stage in enumerate(LIFECYCLE[1 : reach + 1], start=1):
            if i > 1:
                at += self.rng.randrange(1, 40) * 86400_000 + self.rng.randrange(0, 86400_000)
            props[f"hs_v2_date_entered_{stage}"] = iso(at)
            last = at
        props.update(
            hs_object_id=rid,
            createdate=iso(created),
            lifecyclestage=LIFECYCLE[reach],
            hs_analytics_source=self.rng.choice(list(SOURCES)),
            hubspot_owner_id=self.rng.choice(self.owners),
            industry=self.rng.choice(["SaaS", "製造業", None]),
            country=self.rng.choice(["Japan", "日本", None]),
            email=f"person{rid}@example.co.jp",
            firstname="太郎",
            lastname=f"山田{rid}",
        )
        props["lastmodifieddate"] = iso(modified if modified is not None else last + 60_000)
        record = Record(rid, props, created)
        self.portal.objects["contacts"][rid] = record
        return record

    def _touch(self, record: Record, at: int | None = None) -> None:
        record.properties["lastmodifieddate"] = iso(at if at is not None else self.portal.now_ms())

    def live(self) -> list[Record]:
        return [r for r in self.portal.objects["contacts"].values() if not r.archived]

    def advance(self, n: int, *, at: int | None = None) -> list[str]:
        """Move ``n`` live contacts one lifecycle stage on (now)."""
        with self.portal.lock:
            movable = [r for r in self.live() if r.properties["lifecyclestage"] != "customer"]
            chosen = self.rng.sample(movable, min(n, len(movable)))
            for record in chosen:
                nxt = LIFECYCLE[LIFECYCLE.index(str(record.properties["lifecyclestage"])) + 1]
                now = at if at is not None else self.portal.now_ms()
                record.properties["lifecyclestage"] = nxt
                record.properties[f"hs_v2_date_entered_{nxt}"] = iso(now)
                self._touch(record, now)
            return [r.id for r in chosen]

    def rename_owner(self, n: int) -> list[str]:
        with self.portal.lock:
            chosen = self.rng.sample(self.live(), min(n, len(self.live())))
            for record in chosen:
                record.properties["hubspot_owner_id"] = self.rng.choice(self.owners)
                record.properties["country"] = "Singapore"
                self._touch(record)
            return [r.id for r in chosen]

    def create(self, n: int) -> list[str]:
        with self.portal.lock:
            return [
                self._add_contact(self.portal.now_ms(), self.portal.now_ms()).id for _ in range(n)
            ]

    def archive(self, n: int) -> list[str]:
        with self.portal.lock:
            chosen = self.rng.sample(self.live(), min(n, len(self.live())))
            for record in chosen:
                record.archived = True
                record.archived_ms = self.portal.now_ms()
                self._touch(record, record.archived_ms)
            return [r.id for r in chosen]

    def purge(self, n: int) -> list[str]:
        """Delete ``n`` contacts for good (gone from listings and archive alike)."""
        with self.portal.lock:
            chosen = self.rng.sample(self.live(), min(n, len(self.live())))
            for record in chosen:
                del self.portal.objects["contacts"][record.id]
            return [r.id for r in chosen]

    def truth(self) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
        """Leads (id -> canonical values) and stage entries (id, stage, ISO) of
        every live contact."""
        leads: dict[str, dict[str, Any]] = {}
        history: set[tuple[str, str, str]] = set()
        for r in self.live():
            p = r.properties
            leads[r.id] = {
                "created_at": ms_of(str(p["createdate"])),
                "channel": SOURCES[str(p["hs_analytics_source"])],
                "owner_id": p["hubspot_owner_id"],
                "current_stage": CANONICAL[str(p["lifecyclestage"])],
                "industry": p["industry"],
                "region": p["country"],
            }
            for stage in LIFECYCLE:
                entered = p[f"hs_v2_date_entered_{stage}"]
                if entered is not None:
                    history.add((r.id, CANONICAL[stage], str(ms_of(entered))))
        return leads, history


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
            n = len(portal.calls)
        if request.headers.get("authorization") != f"Bearer {portal.token}":
            return _error(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        if portal.throttle_every and n % portal.throttle_every == 0:
            portal.throttled += 1
            return JSONResponse(
                {"status": "error", "message": "You have reached your secondly limit.",
                 "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                status_code=429,
            )  # fmt: skip
        if obj not in portal.objects:
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
            records = sorted(
                (r for r in portal.objects[obj].values() if r.archived == archived),
                key=lambda r: int(r.id),
            )
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
                start = next((i for i, r in enumerate(records) if int(r.id) >= first), len(records))
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
        limit = int(body.get("limit", 10))
        offset = int(body.get("after") or 0)
        if limit > 200:
            return _error(400, "limit must be at most 200", "VALIDATION_ERROR")
        if offset + limit > 10_000:
            return _error(400, "Cannot page past 10000 results.", "VALIDATION_ERROR")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            return _error(400, "Only one sort is supported.", "VALIDATION_ERROR")
        props = list(body.get("properties") or ["createdate", "lastmodifieddate"])
        props = list(dict.fromkeys([*props, "hs_object_id", "createdate", "lastmodifieddate"]))
        groups = body.get("filterGroups") or []
        with portal.lock:
            found = [
                r
                for r in portal.objects[obj].values()
                if not r.archived
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
        names = CONTACT_PROPERTIES if obj == "contacts" else []
        return JSONResponse(
            {
                "results": [
                    {"name": n, "label": n, "type": "string", "fieldType": "text"} for n in names
                ]
            }
        )

    return Starlette(
        routes=[
            Route("/crm/v3/objects/{object}", listing),
            Route("/crm/v3/objects/{object}/search", search, methods=["POST"]),
            Route("/crm/v3/properties/{object}", properties),
        ]
    )


@contextmanager
def serve(portal: Portal) -> Iterator[str]:
    """Run the fake on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(make_app(portal), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake HubSpot did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def day_ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


__all__ = ["Company", "Portal", "day_ms", "iso", "ms_of", "serve", "timedelta"]
