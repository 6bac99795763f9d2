"""The kintone connector (``type: kintone``): the records of the apps the user
names, each through a mapping like a file's.

.. code-block:: yaml

    sources:
      kintone:
        type: kintone
        base_url: https://example.cybozu.com
        apps:
          deals: {app: 12, token_env: KINTONE_DEALS_TOKEN, mapping: mappings/kintone-deals.yaml}

Each app is an object of the source. Its mapping reads the app's **field
codes** (``$id``, ``レコード番号``, ``作成日時``, the codes set in the app's form);
without ``mapping`` the ``kintone-deals`` preset is used. The record id is the
field the mapping's first key column reads (``$id`` or the record number).

- **First sync** (and ``--full``): every record, by the ``$id`` seek.
- **Later syncs**: the records whose updated time (the app's ``UPDATED_TIME``
  field, ``更新日時`` unless renamed) is at or after the cursor; kintone keeps
  times to the minute, so the minute of the cursor is read again and its
  records, unchanged, are counted as such. kintone has no log of deleted
  records: the ids of every live record are listed (``$id`` only, 500 a
  request) and the records kpitree holds that are no longer there leave the
  warehouse.
- ``sources test``: the token, the app, the view permission, and every mapped
  field code (with its type: a table or a file cannot be one value of a row).
- ``sources verify``: kintone's ``totalCount`` of records created in each month.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kpitree.connectors.base import Check, ConnectorContext, ObjectInfo, Page, VendorCount, register
from kpitree.connectors.http import check_base_url
from kpitree.connectors.kintone.api import UNREADABLE, KintoneApp, flatten, query_text
from kpitree.connectors.secrets import read_secret, redact
from kpitree.errors import DataError, KpitreeError, UserError
from kpitree.i18n import t
from kpitree.source import did_you_mean

__all__ = ["DEFAULT_MAPPING", "KintoneConnector"]

DEFAULT_MAPPING = "kintone-deals"
"""The preset an app without ``mapping`` is read with."""


@dataclass
class _AppState:
    info: ObjectInfo
    api: KintoneApp
    optional: frozenset[str]
    """Fields the mapping reads only if present (``optional: true``)."""
    types: dict[str, str] | None = None


def _mapping_facts(mapping: Any) -> tuple[str, frozenset[str]]:
    """The record-id field (first spelling of the first table's key column) and
    the fields only optional rules read."""
    from kpitree.data.schema import table

    id_field = "$id"
    if mapping.tables:
        first = mapping.tables[0]
        rule = first.columns.get(table(first.table).primary_key[0])
        if rule is not None and rule.headers:
            id_field = rule.headers[0]
    required: set[str] = set()
    optional: set[str] = set()
    for _table, _column, rule in mapping.rules():
        for header in rule.headers[:1]:
            (optional if rule.optional else required).add(header)
    return id_field, frozenset(optional - required)


@register("kintone")
class KintoneConnector:
    """A kintone domain as a source of records, app by app."""

    def __init__(self, spec: Any, context: ConnectorContext, transport: Any = None) -> None:
        from kpitree.data.mapping import load_mapping

        self.spec = spec
        self.context = context
        self.name = context.name
        base_url = check_base_url(spec.base_url, source=context.name, key="base_url")
        self._apps: dict[str, _AppState] = {}
        for obj, app in spec.apps.items():
            where = spec.mappings.get(obj) or app.mapping
            mapping_ref: Path | str = DEFAULT_MAPPING
            if where:
                path = Path(where)
                mapping_ref = path if path.is_absolute() else context.project_dir / path
            try:
                id_field, optional = _mapping_facts(load_mapping(mapping_ref))
            except KpitreeError:
                # The engine loads the mapping itself and reports its problems.
                id_field, optional = "$id", frozenset()
            api = KintoneApp(
                base_url,
                app.app,
                self._token_reader(app.token_env),
                source=context.name,
                object_name=obj,
                token_env=app.token_env,
                transport=transport,
                guest_space=app.guest_space,
            )
            info = ObjectInfo(obj, id_field, mapping_ref, f"app {app.app}")
            self._apps[obj] = _AppState(info, api, optional)

    def _token_reader(self, env: str) -> Any:
        cache: list[str] = []

        def read() -> str:
            if not cache:
                cache.append(
                    read_secret(
                        env, source=self.name, key="token_env", environ=self.context.environ
                    )
                )
            return cache[0]

        return read

    def objects(self) -> Sequence[ObjectInfo]:
        return [state.info for state in self._apps.values()]

    def close(self) -> None:
        for state in self._apps.values():
            state.api.close()

    # -- fields ----------------------------------------------------------------

    def _types(self, state: _AppState) -> dict[str, str]:
        if state.types is None:
            state.types = state.api.field_types()
        return state.types

    def _field_problems(self, state: _AppState, fields: Sequence[str]) -> list[UserError]:
        types = self._types(state)
        problems = []
        for code in fields:
            kind = types.get(code)
            if kind is None and code not in state.optional:
                problems.append(
                    UserError.of(
                        "KT953",
                        "sources.kintone.unknown_field",
                        None,
                        source=self.name,
                        object=state.info.name,
                        app=state.api.app,
                        field=code,
                        hint=did_you_mean(code, sorted(types)),
                    )
                )
            elif kind in UNREADABLE:
                problems.append(
                    UserError.of(
                        "KT956",
                        "sources.kintone.unreadable_field",
                        None,
                        source=self.name,
                        object=state.info.name,
                        app=state.api.app,
                        field=code,
                        type=kind,
                    )
                )
        return problems

    def present_fields(self, obj: str, fields: Sequence[str]) -> set[str]:
        """Which of ``fields`` (field codes) the app has."""
        return set(fields) & set(self._types(self._apps[obj]))

    def _time_field(self, state: _AppState, kind: str) -> str:
        for code, found in self._types(state).items():
            if found == kind:
                return code
        raise state.api.http.unexpected(None, f"the app has no {kind} field")

    # -- fetching --------------------------------------------------------------

    def fetch(self, obj: str, fields: Sequence[str], cursor: str | None) -> Iterator[Page]:
        state = self._apps[obj]
        problems = self._field_problems(state, fields)
        if problems:
            raise DataError([p.diagnostics[0] for p in problems])
        types = self._types(state)
        present = [f for f in fields if f in types]
        updated = self._time_field(state, "UPDATED_TIME")
        since = _cursor_time(cursor)
        wanted = list(dict.fromkeys([*present, updated]))
        reached = since
        condition = "" if since is None else f"{updated} >= {query_text(since)}"
        for records in state.api.seek(condition, wanted):
            rows = [flatten(r, fields) for r in records]
            stamps = [row_time for r in records if (row_time := _value(r, updated))]
            if stamps:
                reached = max([*stamps, *([reached] if reached else [])], key=_instant)
            yield Page(rows=rows, snapshot=since is None)
        new_cursor = json.dumps({"updated": reached}) if reached else None
        if since is None:
            yield Page(cursor=new_cursor, snapshot=True)
            return
        live: list[str] = []
        id_field = state.info.id_field
        for records in state.api.seek("", [id_field]):
            live += [v for r in records if (v := flatten(r, [id_field])[id_field]) is not None]
        yield Page(cursor=new_cursor, present=live)

    # -- test and verify -------------------------------------------------------

    def test(self, fields: Mapping[str, Sequence[str]]) -> list[Check]:
        checks: list[Check] = []
        for obj, wanted in fields.items():
            state = self._apps[obj]
            what = t("sources.kintone.check.app", object=obj, app=state.api.app)
            try:
                state.api.count("")
                problems = self._field_problems(state, wanted)
            except UserError as exc:
                detail = "; ".join(redact(d.message()) for d in exc.diagnostics)
                checks.append(Check(what, False, detail))
                continue
            if problems:
                detail = "; ".join(redact(p.diagnostics[0].message()) for p in problems)
                checks.append(Check(what, False, detail))
                continue
            checks.append(Check(what, True, t("sources.check.fields", count=len(wanted))))
            types = self._types(state)
            for code in wanted:
                if code not in types:
                    hint = did_you_mean(code, sorted(types))
                    checks.append(
                        Check(
                            what, True, t("sources.kintone.optional_missing", field=code, hint=hint)
                        )
                    )
        return checks

    def verify(self, months: Sequence[date]) -> list[VendorCount]:
        zone = ZoneInfo(self.context.timezone)
        counts = []
        for state in self._apps.values():
            created = self._time_field(state, "CREATED_TIME")
            for first in months:
                nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
                start = query_text(_at_midnight(first, zone))
                end = query_text(_at_midnight(nxt, zone))
                n = state.api.count(f"{created} >= {start} and {created} < {end}")
                counts.append(VendorCount(state.info.name, created, f"{first:%Y-%m}", n))
        return counts


def _at_midnight(day: date, zone: ZoneInfo) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=zone).strftime("%Y-%m-%dT%H:%M:%S%z")


def _value(record: Mapping[str, Any], code: str) -> str | None:
    cell = record.get(code)
    value = cell.get("value") if isinstance(cell, dict) else None
    return str(value) if value else None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _cursor_time(cursor: str | None) -> str | None:
    """The updated time a cursor holds (``None``: read everything)."""
    if not cursor:
        return None
    try:
        value = json.loads(cursor).get("updated")
        _instant(str(value))
    except (ValueError, AttributeError, TypeError):
        return None
    return str(value)
