"""HubSpot's CRM API as the connector uses it: authentication, errors, paging.

- ``GET /crm/v3/objects/{object}``: the full listing, 100 records a page (the
  documented maximum), ``paging.next.after`` until there is none; with
  ``archived=true``, the archived records.
- ``POST /crm/v3/objects/{object}/search``: records modified since a cursor,
  sorted by the modified-date property ascending, up to 200 a page (the
  documented maximum). Search answers at most 10,000 results per query and
  lags a few moments behind writes; see :func:`HubSpotApi.modified_since`.
- ``POST /crm/v3/objects/{object}/batch/read``: records by id (what a webhook
  said changed), 100 a request.
- ``GET /crm/v3/properties/{object}``: which properties exist (a listing
  silently leaves out a property it does not know, so kpitree checks first).
- ``GET /crm/v3/pipelines/deals``: pipelines and their stages (id, label,
  ``metadata.isClosed``, ``metadata.probability``).
- ``GET /crm/v3/owners``: owners (``id`` is what ``hubspot_owner_id`` holds).
- ``POST /crm/v4/associations/{from}/{to}/batch/read``: associated ids, at most
  1,000 inputs a request.

Requests carry ``Authorization: Bearer <token>`` (a private-app token or a
service key). kpitree allows itself ``rate_limit`` requests per 10 seconds
(HubSpot's burst limit) and 4 searches per second (search's own limit is 5 per
second per account).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kpitree.connectors.http import Http, RateLimit
from kpitree.connectors.secrets import redact
from kpitree.errors import DataError, KpitreeError

if TYPE_CHECKING:
    import httpx

__all__ = ["LIST_LIMIT", "SEARCH_CAP", "SEARCH_LIMIT", "HubSpotApi", "epoch_ms"]

LIST_LIMIT = 100
SEARCH_LIMIT = 200
OWNERS_LIMIT = 500
BATCH_READ_LIMIT = 100
"""At most this many inputs per batch read (50 when property history is asked)."""
ASSOCIATIONS_LIMIT = 1_000
"""At most this many inputs per association batch read (since 10 Feb 2025)."""
SEARCH_CAP = 10_000
"""Search answers at most this many results per query (paging further is a 400)."""
_TOP_LEVEL = {"id", "createdAt", "updatedAt", "archived", "archivedAt"}


def epoch_ms(text: str) -> int:
    """Milliseconds since the epoch of a HubSpot instant (ISO 8601 or epoch ms)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(record: dict[str, Any], fields: Sequence[str]) -> dict[str, str | None]:
    """A record as field -> text: ``id``, ``createdAt``, ``updatedAt``,
    ``archived``, ``archivedAt`` from the record, the rest from its properties."""
    props = record.get("properties") or {}
    row: dict[str, str | None] = {}
    for f in fields:
        value = record.get(f) if f in _TOP_LEVEL else props.get(f)
        row[f] = value if value is None or type(value) is str else _text(value)
    return row


class HubSpotApi:
    """Authenticated access to one HubSpot portal."""

    def __init__(
        self,
        base_url: str,
        token: Any,
        *,
        source: str,
        token_hint: str,
        rate_limit: int,
        transport: httpx.BaseTransport | None = None,
        refresh: Callable[[], None] | None = None,
    ) -> None:
        self._token = token
        self._hint = token_hint
        self.source = source
        self.http = Http(
            base_url,
            source=source,
            headers=self._headers,
            translate=self._error,
            limits=(RateLimit(rate_limit, 10.0),),
            transport=transport,
            refresh=refresh,
        )
        self._search_limit = (RateLimit(4, 1.0),)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}

    def close(self) -> None:
        self.http.close()

    # -- errors ------------------------------------------------------------------

    def _error(self, response: httpx.Response) -> KpitreeError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        message = redact(str(body.get("message") or response.text[:200]))
        category = str(body.get("category") or "")
        url = redact(str(response.request.url.copy_with(query=None)))
        if response.status_code == 401:
            return DataError.of(
                "KT915", "sources.hubspot.unauthorized", source=self.source, where=self._hint
            )
        if response.status_code == 403:
            scopes: list[str] = []
            for err in body.get("errors") or []:
                context = err.get("context") if isinstance(err, dict) else None
                if isinstance(context, dict):
                    for key in ("requiredGranularScopes", "requiredScopes"):
                        scopes += [str(s) for s in context.get(key) or []]
            return DataError.of(
                "KT916",
                "sources.hubspot.missing_scopes",
                source=self.source,
                url=url,
                scopes=", ".join(dict.fromkeys(scopes)) or "?",
            )
        return DataError.of(
            "KT918",
            "sources.hubspot.refused",
            source=self.source,
            url=url,
            status=response.status_code,
            category=category or "-",
            message=message,
        )

    # -- reading -----------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.http.request("GET", path, params=params)
        if not isinstance(body, dict):
            raise self.http.unexpected(None, f"GET {path}: not a JSON object")
        return body

    def property_names(self, obj: str) -> set[str]:
        """Names of the properties of ``obj`` (archived ones left out)."""
        body = self.get(f"/crm/v3/properties/{obj}")
        return {
            str(p["name"]) for p in body.get("results") or [] if isinstance(p, dict) and "name" in p
        }

    def listing(
        self, obj: str, properties: Sequence[str], *, archived: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """Every (archived) record of ``obj``, a page at a time; an empty page
        with a next link is followed like any other."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": LIST_LIMIT, "archived": str(archived).lower()}
            props = [p for p in properties if p not in _TOP_LEVEL]
            if props:
                params["properties"] = ",".join(props)
            if after is not None:
                params["after"] = after
            body = self.get(f"/crm/v3/objects/{obj}", params)
            results = body.get("results")
            if not isinstance(results, list):
                raise self.http.unexpected(None, f"GET /crm/v3/objects/{obj}: no results")
            yield results
            nxt = (body.get("paging") or {}).get("next") or {}
            after = nxt.get("after")
            if not after:
                return
            after = str(after)

    def pipelines(self, obj: str) -> list[dict[str, Any]]:
        """The pipelines of ``obj`` (``deals``) with their stages:
        ``GET /crm/v3/pipelines/{object}``."""
        results = self.get(f"/crm/v3/pipelines/{obj}").get("results")
        if not isinstance(results, list):
            raise self.http.unexpected(None, f"GET /crm/v3/pipelines/{obj}: no results")
        return [p for p in results if isinstance(p, dict)]

    def owners(self, *, archived: bool) -> Iterator[list[dict[str, Any]]]:
        """Every (archived) owner: ``GET /crm/v3/owners``, 500 a page."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": OWNERS_LIMIT, "archived": str(archived).lower()}
            if after is not None:
                params["after"] = after
            body = self.get("/crm/v3/owners", params)
            results = body.get("results")
            if not isinstance(results, list):
                raise self.http.unexpected(None, "GET /crm/v3/owners: no results")
            yield results
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            after = str(after)

    def associated(self, from_obj: str, to_obj: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """For each id of ``from_obj``, the ids of the ``to_obj`` records it is
        associated with, primary first: ``POST /crm/v4/associations/{from}/{to}/batch/read``,
        at most 1,000 ids a request."""
        out: dict[str, list[str]] = {}
        for start in range(0, len(ids), ASSOCIATIONS_LIMIT):
            chunk = ids[start : start + ASSOCIATIONS_LIMIT]
            body = self.http.request(
                "POST",
                f"/crm/v4/associations/{from_obj}/{to_obj}/batch/read",
                json={"inputs": [{"id": i} for i in chunk]},
            )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise self.http.unexpected(None, f"associations {from_obj}->{to_obj}: no results")
            for result in body["results"]:
                source = str((result.get("from") or {}).get("id"))
                targets = result.get("to") or []

                def rank(target: dict[str, Any]) -> tuple[int, int]:
                    labels = [
                        str(a.get("label") or "") for a in target.get("associationTypes") or []
                    ]
                    return (0 if "Primary" in labels else 1, int(target.get("toObjectId") or 0))

                out[source] = [str(t.get("toObjectId")) for t in sorted(targets, key=rank)]
        return out

    def read_by_id(
        self, obj: str, ids: Sequence[str], properties: Sequence[str]
    ) -> Iterator[list[dict[str, Any]]]:
        """The live records of ``obj`` among ``ids``, 100 a request:
        ``POST /crm/v3/objects/{object}/batch/read``. An id HubSpot cannot find
        (deleted or archived: its answer's ``errors``) is left out."""
        props = [p for p in properties if p not in _TOP_LEVEL]
        for start in range(0, len(ids), BATCH_READ_LIMIT):
            chunk = ids[start : start + BATCH_READ_LIMIT]
            body = self.http.request(
                "POST",
                f"/crm/v3/objects/{obj}/batch/read",
                json={"inputs": [{"id": i} for i in chunk], "properties": props},
            )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise self.http.unexpected(None, f"batch read of {obj}: no results")
            yield [r for r in body["results"] if isinstance(r, dict)]

    def search(self, obj: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.request(
            "POST", f"/crm/v3/objects/{obj}/search", json=body, limits=self._search_limit
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            raise self.http.unexpected(None, f"POST /crm/v3/objects/{obj}/search: no results")
        return answer

    def count(self, obj: str, prop: str, start_ms: int, end_ms: int) -> int:
        """How many records of ``obj`` have ``prop`` in [start, end) (search's
        ``total``)."""
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": prop, "operator": "GTE", "value": str(start_ms)},
                        {"propertyName": prop, "operator": "LT", "value": str(end_ms)},
                    ]
                }
            ],
            "properties": ["hs_object_id"],
            "limit": 1,
        }
        return int(self.search(obj, body).get("total") or 0)

    def modified_since(
        self, obj: str, prop: str, since_ms: int, properties: Sequence[str]
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Records of ``obj`` whose ``prop`` (its modified date) is at or after
        ``since_ms``, oldest first, as pages with the modified time reached.

        Every page is a new search from the last modified time seen (keyset
        paging), leaving out the ids already read at that exact time: a record
        modified while the sync reads (it moves to the end of the order) cannot
        push an unread one past a page boundary, and no query comes near the
        10,000-result cap. Only when a whole page shares one modified time does
        the query page on with ``after``; should one instant hold more than
        10,000 records, the sync stops (KT917) instead of skipping any.
        """
        cursor = since_ms
        seen_at_cursor: set[str] = set()
        offset = 0
        while True:
            body: dict[str, Any] = {
                "filterGroups": [
                    {"filters": [{"propertyName": prop, "operator": "GTE", "value": str(cursor)}]}
                ],
                "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                "properties": list(dict.fromkeys([*properties, prop])),
                "limit": SEARCH_LIMIT,
            }
            if offset:
                if offset + SEARCH_LIMIT > SEARCH_CAP:
                    raise DataError.of(
                        "KT917",
                        "sources.hubspot.same_instant",
                        source=self.source,
                        object=obj,
                        cap=SEARCH_CAP,
                    )
                body["after"] = str(offset)
            answer = self.search(obj, body)
            results = answer["results"]
            fresh = []
            last = cursor
            for record in results:
                stamp = (record.get("properties") or {}).get(prop)
                if stamp is None:
                    raise self.http.unexpected(None, f"search of {obj}: a record without {prop}")
                ms = epoch_ms(str(stamp))
                rid = str(record.get("id"))
                if ms == cursor and rid in seen_at_cursor:
                    continue  # the boundary of the previous query
                fresh.append(record)
                last = max(last, ms)
            more = bool((answer.get("paging") or {}).get("next"))
            if last > cursor:
                seen_at_cursor = set()
                offset = 0
            else:
                offset += len(results)
            for record in fresh:
                if epoch_ms(str(record["properties"][prop])) == last:
                    seen_at_cursor.add(str(record.get("id")))
            cursor = last
            yield fresh, cursor
            if not more or not results:
                return
