"""The kintone REST API as the connector uses it (cybozu.dev, "kintone REST API").

- ``GET /k/v1/records.json`` with a query, read by the seek method Cybozu
  recommends when no other order is needed: ``<condition> and $id > N order by
  $id asc limit 500`` (500 is the documented maximum; ``offset`` is never used,
  so the 10,000 offset limit never applies). ``totalCount=true`` only where a
  count is wanted (it slows large queries).
- An app in a guest space answers under ``/k/guest/<space id>/v1/`` instead
  of ``/k/v1/`` (``guest_space:`` on the app; kintone refuses the other path
  with ``GAIA_IL23``, which kpitree explains: KT970).
- ``GET /k/v1/app/form/fields.json`` for the app's fields (code -> type): the
  record view permission is enough.
- ``X-Cybozu-API-Token``: one token per app (several comma-separated are
  accepted by kintone and passed through as given).
- The domain allows 100 concurrent requests, shared by every integration; the
  connector sends one at a time, and a 429 (``GAIA_TO04``) is waited out with
  backoff by :class:`~kpitree.connectors.http.Http`.
- Refusals come as ``{"code", "id", "message"}``; each becomes a located error
  that says what to grant or rename (:func:`translate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.connectors.http import Http
from kpitree.connectors.secrets import redact
from kpitree.errors import DataError, KpitreeError

if TYPE_CHECKING:
    import httpx

__all__ = ["PAGE_SIZE", "KintoneApp", "flatten", "query_text"]

PAGE_SIZE = 500
"""Records per request: kintone's documented maximum ``limit``."""
MULTI_VALUED = {
    "CHECK_BOX",
    "MULTI_SELECT",
    "CATEGORY",
    "USER_SELECT",
    "ORGANIZATION_SELECT",
    "GROUP_SELECT",
    "STATUS_ASSIGNEE",
}
UNREADABLE = {"SUBTABLE", "FILE", "REFERENCE_TABLE", "GROUP", "LABEL", "SPACER", "HR"}
"""Field types that are not one value of a row (a table, files, layout)."""
SYSTEM = {"$id": "__ID__", "$revision": "__REVISION__"}


def query_text(value: str) -> str:
    """``value`` as a quoted string literal of kintone's query language."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _one(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("code") or value.get("name")
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


def flatten(record: Mapping[str, Any], fields: Sequence[str]) -> dict[str, str | None]:
    """A record as kintone returns it (``{code: {type, value}}``) as a row of
    text: users, organisations and groups by their code, several values joined
    with ``", "``, empty values as ``None``."""
    row: dict[str, str | None] = {}
    for code in fields:
        cell = record.get(code)
        value = cell.get("value") if isinstance(cell, dict) else None
        if isinstance(value, list):
            items = [v for v in (_one(item) for item in value) if v is not None]
            row[code] = ", ".join(items) if items else None
        else:
            row[code] = _one(value)
    return row


class KintoneApp:
    """One app of a kintone domain, read with its API token."""

    def __init__(
        self,
        base_url: str,
        app: int,
        token: Callable[[], str],
        *,
        source: str,
        object_name: str,
        token_env: str,
        transport: httpx.BaseTransport | None = None,
        guest_space: int | None = None,
    ) -> None:
        self.app = app
        self.prefix = "/k/v1" if guest_space is None else f"/k/guest/{guest_space}/v1"
        """Where the app's API is: ``/k/v1``, or ``/k/guest/<space id>/v1`` for
        an app in a guest space."""
        self.source = source
        self.object_name = object_name
        self.token_env = token_env
        self.http = Http(
            base_url,
            source=source,
            headers=lambda: {"X-Cybozu-API-Token": token()},
            translate=self.translate,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def translate(self, response: httpx.Response) -> KpitreeError:
        """kintone's refusal as an error that says what to do."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = str(body.get("code") or "") if isinstance(body, dict) else ""
        message = redact(str(body.get("message") or "")) if isinstance(body, dict) else ""
        where: dict[str, Any] = {
            "source": self.source,
            "object": self.object_name,
            "app": self.app,
        }
        status = response.status_code
        if code == "GAIA_IA02" or status == 401:
            return DataError.of(
                "KT950",
                "sources.kintone.token_refused",
                env=self.token_env,
                vendor_code=code or str(status),
                **where,
            )
        if code == "GAIA_NO01" or status == 403:
            return DataError.of("KT951", "sources.kintone.no_view", env=self.token_env, **where)
        if code == "GAIA_IL23":
            return DataError.of("KT970", "sources.kintone.guest_space", **where)
        if code == "GAIA_AP01" or status == 404:
            return DataError.of("KT952", "sources.kintone.no_app", **where)
        return DataError.of(
            "KT954",
            "sources.kintone.refused",
            status=status,
            vendor_code=code or "-",
            message=message or redact(response.text[:200]),
            path=response.request.url.path,
            **where,
        )

    def field_types(self) -> dict[str, str]:
        """Field code -> type, the system fields ``$id`` and ``$revision`` included."""
        body = self.http.request(
            "GET", f"{self.prefix}/app/form/fields.json", params={"app": self.app}
        )
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise self.http.unexpected(None, "form fields without properties")
        types = {str(code): str(p.get("type")) for code, p in props.items() if isinstance(p, dict)}
        return {**SYSTEM, **types}

    def _page(
        self, query: str, fields: Sequence[str], *, total: bool = False
    ) -> tuple[list[dict[str, Any]], int | None]:
        params: dict[str, Any] = {"app": self.app, "query": query}
        for i, code in enumerate(fields):
            params[f"fields[{i}]"] = code
        if total:
            params["totalCount"] = "true"
        body = self.http.request("GET", f"{self.prefix}/records.json", params=params)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise self.http.unexpected(None, "records.json without records")
        count = body.get("totalCount")
        return body["records"], int(count) if count not in (None, "") else None

    def seek(self, condition: str, fields: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
        """Every record matching ``condition`` (``""``: all), in ``$id`` order, a
        page of at most 500 at a time, by the seek method."""
        wanted = list(dict.fromkeys(["$id", *fields]))
        last = 0
        while True:
            where = f"$id > {last}" if not condition else f"({condition}) and $id > {last}"
            records, _ = self._page(f"{where} order by $id asc limit {PAGE_SIZE}", wanted)
            if not records:
                return
            yield records
            ids = [int(r["$id"]["value"]) for r in records]
            if max(ids) <= last:
                raise self.http.unexpected(None, "the $id seek did not advance")
            last = max(ids)
            if len(records) < PAGE_SIZE:
                return

    def count(self, condition: str) -> int:
        """kintone's own count of the records matching ``condition``."""
        _, total = self._page(f"{condition} limit 1", ["$id"], total=True)
        if total is None:
            raise self.http.unexpected(None, "records.json without totalCount")
        return total
