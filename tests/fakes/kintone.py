"""A fake kintone domain on loopback (``https://<sub>.cybozu.com/k/v1/...``), as
Cybozu documents its REST API (cybozu.dev, "kintone REST APIの共通仕様",
"複数のレコードを取得する", "カーソルを作成する", "カーソルからレコードを取得する",
"カーソルを削除する", "フィールドの一覧を取得する"):

- ``GET /k/v1/records.json``: ``app``, ``query`` (see
  :mod:`fakes.kintone_query`; ``limit`` at most 500, default 100; ``offset`` at
  most 10,000), ``fields[0]=...`` (unknown codes are left out), ``totalCount``
  (``"N"`` as a string, else ``null``). Records come as kintone writes them:
  every field ``{"type": ..., "value": ...}``, ``$id`` and ``$revision`` included.
- ``POST /k/v1/records/cursor.json`` ``{app, fields, query, size}`` (no
  ``limit``/``offset`` in the query; ``size`` 1..500, default 100) ->
  ``{"id", "totalCount"}``; ``GET ...?id=`` -> ``{"records", "next"}`` (the
  cursor is gone once ``next`` is false); ``DELETE`` ``{id}``. At most 10
  cursors per domain (the 11th: 429 ``GAIA_TM12``); a cursor unused for 10
  minutes expires.
- ``GET /k/v1/app/form/fields.json?app=`` -> ``{"properties": {code: {type,
  code, label, ...}}, "revision"}`` (record view permission suffices).
- Authentication: ``X-Cybozu-API-Token`` (several tokens comma-separated, at
  most 9): a token that is not one of the app's is 400 ``GAIA_IA02``; a token
  of the app without the view permission is 403 ``GAIA_NO01``; no
  authentication at all is 401 ``CB_WA01``.
- Errors are ``{"code", "id", "message"}``: unknown app 404 ``GAIA_AP01``,
  unknown field in a query 400 ``GAIA_IQ11``, a bad query 400 ``GAIA_IQ03``,
  limit/offset out of range 400 ``CB_VA01`` (with ``errors``), and the domain's
  concurrent-request limit 429 ``GAIA_TO04`` (``max_concurrent``; ``throttle``
  refuses the next n requests the same way).
- Guest spaces: an app in one (``App.guest_space``) answers only under
  ``/k/guest/<space id>/v1/...``; under ``/k/v1/`` it is 400 ``GAIA_IL23``.

Every request is counted in ``calls``; record times have kintone's minute
precision.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fakes.kintone_query import BadQuery, UnknownField, comparable, parse_query
from fakes.loopback import run_on_loopback

__all__ = ["SYSTEM_FIELDS", "App", "Domain", "Token", "kintone_time", "serve"]

SYSTEM_FIELDS = {
    "レコード番号": "RECORD_NUMBER",
    "作成者": "CREATOR",
    "作成日時": "CREATED_TIME",
    "更新者": "MODIFIER",
    "更新日時": "UPDATED_TIME",
}
"""The system fields of an app created in Japanese, by their default codes."""
CURSOR_LIMIT = 10
CURSOR_IDLE_SECONDS = 600


def kintone_time(moment: datetime) -> str:
    """How kintone writes a record time: UTC, to the minute, ``...:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


@dataclass
class Token:
    app: int
    view: bool = True


@dataclass
class App:
    """One app: its fields (code -> type) and records by ``$id``."""

    id: int
    fields: dict[str, str]
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1
    revision: int = 1
    guest_space: int | None = None
    """The guest space the app is in: it answers only under ``/k/guest/<id>/v1/``."""

    def types(self) -> dict[str, str]:
        return {"$id": "__ID__", "$revision": "__REVISION__", **self.fields}


@dataclass
class _Cursor:
    app: int
    records: list[dict[str, Any]]
    size: int
    used_at: float


@dataclass
class Domain:
    """The state of a fake kintone domain: apps, tokens, cursors and counters."""

    apps: dict[int, App] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    max_concurrent: int = 100
    throttle: int = 0
    """Refuse the next n requests with the concurrent-request 429."""
    calls: list[tuple[str, str]] = field(default_factory=list)
    throttled: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    cursors: dict[str, _Cursor] = field(default_factory=dict)
    clock: Any = None
    """A callable giving "now" (default: the real time)."""
    _in_flight: int = 0

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def add_app(self, app_id: int, fields: dict[str, str]) -> App:
        app = App(app_id, {**SYSTEM_FIELDS, **fields})
        self.apps[app_id] = app
        return app

    def new_token(self, app_id: int, *, view: bool = True) -> str:
        token = secrets.token_urlsafe(30)[:40]
        self.tokens[token] = Token(app_id, view)
        return token

    def add_record(
        self, app_id: int, values: dict[str, Any], *, at: datetime | None = None, by: str = "sato"
    ) -> int:
        """A new record (``values``: field code -> value as kintone writes it)."""
        with self.lock:
            app = self.apps[app_id]
            rid = app.next_id
            app.next_id += 1
            when = kintone_time(at or self.now())
            user = {"code": by, "name": by}
            record: dict[str, Any] = {
                code: {"type": kind, "value": _empty(kind)} for code, kind in app.fields.items()
            }
            record.update(
                {
                    "$id": {"type": "__ID__", "value": str(rid)},
                    "$revision": {"type": "__REVISION__", "value": "1"},
                    "レコード番号": {"type": "RECORD_NUMBER", "value": str(rid)},
                    "作成者": {"type": "CREATOR", "value": user},
                    "作成日時": {"type": "CREATED_TIME", "value": when},
                    "更新者": {"type": "MODIFIER", "value": user},
                    "更新日時": {"type": "UPDATED_TIME", "value": when},
                }
            )
            for code, value in values.items():
                record[code]["value"] = value
            app.records[rid] = record
            return rid

    def update_record(
        self, app_id: int, rid: int, values: dict[str, Any], *, at: datetime | None = None
    ) -> None:
        with self.lock:
            record = self.apps[app_id].records[rid]
            for code, value in values.items():
                record[code]["value"] = value
            record["$revision"]["value"] = str(int(record["$revision"]["value"]) + 1)
            record["更新日時"]["value"] = kintone_time(at or self.now())

    def delete_record(self, app_id: int, rid: int) -> None:
        with self.lock:
            del self.apps[app_id].records[rid]


def _empty(kind: str) -> Any:
    if kind in ("CHECK_BOX", "MULTI_SELECT", "USER_SELECT", "ORGANIZATION_SELECT",
                "GROUP_SELECT", "FILE", "SUBTABLE", "CATEGORY", "STATUS_ASSIGNEE"):  # fmt: skip
        return []
    nullable = ("NUMBER", "DATE", "DATETIME", "TIME", "DROP_DOWN", "RADIO_BUTTON")
    return None if kind in nullable else ""


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = {"code": code, "id": uuid.uuid4().hex[:20], "message": message, **extra}
    return JSONResponse(body, status_code=status)


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def make_app(domain: Domain) -> Starlette:
    def authorize(request: Request, app_id: Any) -> App:
        header = request.headers.get("X-Cybozu-API-Token")
        if not header:
            raise _Refused(_error(401, "CB_WA01", "ユーザーのパスワード認証に失敗しました。"))
        try:
            number = int(str(app_id))
        except ValueError:
            raise _Refused(
                _error(400, "CB_VA01", "入力内容が正しくありません。", errors={"app": {}})
            ) from None
        app = domain.apps.get(number)
        space = request.path_params.get("space")
        if app is not None and app.guest_space is not None and space is None:
            raise _Refused(
                _error(400, "GAIA_IL23", "ゲストスペース内のアプリを操作する場合は、"
                       "リクエストの送信先を「/k/guest/（ゲストスペースのID）/v1/...」にします。")
            )  # fmt: skip
        if app is None or (space is not None and app.guest_space != space):
            raise _Refused(
                _error(404, "GAIA_AP01", f"指定したアプリ（id: {number}）が見つかりません。")
            )
        tokens = [t.strip() for t in header.split(",")][:9]
        known = [domain.tokens.get(t) for t in tokens]
        if not any(k is not None and k.app == number for k in known):
            raise _Refused(
                _error(
                    400,
                    "GAIA_IA02",
                    "指定したAPIトークンは、アプリで生成されたトークンと異なります。",
                )
            )
        if not any(k is not None and k.app == number and k.view for k in known):
            raise _Refused(
                _error(403, "GAIA_NO01", "Using this API token, you cannot run the specified API.")
            )
        return app

    def shaped(app: App, record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        if not fields:
            return json.loads(json.dumps(record))
        return {c: json.loads(json.dumps(record[c])) for c in fields if c in record}

    def select(app: App, text: str) -> tuple[list[dict[str, Any]], Any]:
        query = parse_query(text, app.types())
        found = [r for r in app.records.values() if query.where(r)]
        found.sort(key=lambda r: int(r["$id"]["value"]), reverse=True)  # kintone's default
        types = app.types()
        for code, descending in reversed(query.order):
            found.sort(
                key=lambda r, c=code: (
                    (v := comparable(types[c], r[c]["value"])) is None,
                    v if v is not None else 0,
                ),
                reverse=descending,
            )
        return found, query

    async def guarded(request: Request, handler: Any) -> Response:
        with domain.lock:
            domain.calls.append((request.method, request.url.path))
            domain._in_flight += 1
            over = domain._in_flight > domain.max_concurrent or domain.throttle > 0
            if domain.throttle > 0:
                domain.throttle -= 1
            if over:
                domain.throttled += 1
        try:
            if over:
                message = "同時に処理できるリクエスト数の上限を超えています。"
                return _error(429, "GAIA_TO04", message)
            try:
                return await handler(request)
            except _Refused as refused:
                return refused.response
            except UnknownField as exc:
                message = f"指定されたフィールド（{exc.code}）が見つかりません。"
                return _error(400, "GAIA_IQ11", message)
            except BadQuery:
                return _error(400, "GAIA_IQ03", "クエリ記法が間違っています。")
        finally:
            with domain.lock:
                domain._in_flight -= 1

    async def records(request: Request) -> Response:
        params = request.query_params
        app = authorize(request, params.get("app"))
        fields = [v for k, v in params.multi_items() if k.startswith("fields[")]
        with domain.lock:
            found, query = select(app, params.get("query", ""))
            limit = 100 if query.limit is None else query.limit
            offset = query.offset or 0
            if limit > 500 or offset > 10_000:
                return _error(
                    400,
                    "CB_VA01",
                    "入力内容が正しくありません。",
                    errors={"query": {"messages": ["limitは500以下、offsetは10000以下です。"]}},
                )
            page = [shaped(app, r, fields) for r in found[offset : offset + limit]]
            total = str(len(found)) if params.get("totalCount") in ("true", "True") else None
        return JSONResponse({"records": page, "totalCount": total})

    async def cursor(request: Request) -> Response:
        now = time.monotonic()
        with domain.lock:
            idle = [c for c, v in domain.cursors.items() if now - v.used_at > CURSOR_IDLE_SECONDS]
            for cid in idle:
                del domain.cursors[cid]
        if request.method == "POST":
            body = await request.json()
            app = authorize(request, body.get("app"))
            size = int(body.get("size", 100))
            text = str(body.get("query") or "")
            with domain.lock:
                found, query = select(app, text)
                if query.limit is not None or query.offset is not None or not 1 <= size <= 500:
                    return _error(
                        400,
                        "CB_VA01",
                        "入力内容が正しくありません。",
                        errors={"query": {"messages": ["limit/offsetは指定できません。"]}},
                    )
                if len(domain.cursors) >= CURSOR_LIMIT:
                    return _error(
                        429,
                        "GAIA_TM12",
                        "作成できるカーソルの上限に達しているため、カーソルを作成できません。",
                    )
                cid = str(uuid.uuid4())
                fields = list(body.get("fields") or [])
                domain.cursors[cid] = _Cursor(
                    app.id, [shaped(app, r, fields) for r in found], size, now
                )
            return JSONResponse({"id": cid, "totalCount": str(len(found))})
        if request.method == "GET":
            cid = request.query_params.get("id", "")
        else:
            cid = str((await request.json()).get("id", ""))
        with domain.lock:
            held = domain.cursors.get(cid)
        if held is None:
            return _error(400, "GAIA_CO01", "指定したカーソルが存在しません。")
        authorize(request, held.app)
        with domain.lock:
            if request.method == "DELETE":
                domain.cursors.pop(cid, None)
                return JSONResponse({})
            page, held.records = held.records[: held.size], held.records[held.size :]
            held.used_at = now
            if not held.records:
                domain.cursors.pop(cid, None)
        return JSONResponse({"records": page, "next": bool(held.records)})

    async def form_fields(request: Request) -> Response:
        app = authorize(request, request.query_params.get("app"))
        props = {
            code: {"type": kind, "code": code, "label": code, "noLabel": False}
            for code, kind in app.fields.items()
        }
        return JSONResponse({"properties": props, "revision": str(app.revision)})

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return await guarded(request, handler)

        return Route(path, endpoint, methods=methods)

    return Starlette(
        routes=[
            route(f"{prefix}/records.json", records, ["GET"])
            for prefix in ("/k/v1", "/k/guest/{space:int}/v1")
        ]
        + [
            route(f"{prefix}/records/cursor.json", cursor, ["POST", "GET", "DELETE"])
            for prefix in ("/k/v1", "/k/guest/{space:int}/v1")
        ]
        + [
            route(f"{prefix}/app/form/fields.json", form_fields, ["GET"])
            for prefix in ("/k/v1", "/k/guest/{space:int}/v1")
        ]
    )


@contextmanager
def serve(domain: Domain) -> Iterator[str]:
    """Run the fake on 127.0.0.1 in a thread; yields its base URL."""
    with run_on_loopback(make_app(domain), "kintone") as url:
        yield url
