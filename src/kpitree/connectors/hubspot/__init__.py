"""The HubSpot connector (``type: hubspot``).

Objects, in the order they are synced, each with a default mapping in
``mappings/`` beside this module:

- ``contacts`` -> ``leads`` and ``lead_stage_history`` (lifecycle-stage entry
  times from ``hs_v2_date_entered_<stage>``).

The first sync (and ``--full``) lists every record; later syncs search for the
records modified since the cursor (the modified-date property, minus a
five-minute look-back for HubSpot's indexing lag) and list the archived ones,
which leave the warehouse. See :mod:`kpitree.connectors.hubspot.api` for the
endpoints, limits and paging.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kpitree.connectors.base import (
    Check,
    ConnectorContext,
    ObjectInfo,
    Page,
    VendorCount,
    register,
)
from kpitree.connectors.http import check_base_url
from kpitree.connectors.hubspot.api import HubSpotApi, epoch_ms, flatten
from kpitree.connectors.secrets import read_secret, read_secret_file, redact
from kpitree.errors import DataError, KpitreeError, UserError
from kpitree.i18n import t
from kpitree.source import did_you_mean

__all__ = ["LOOKBACK_MS", "HubSpotConnector"]

LOOKBACK_MS = 5 * 60 * 1000
"""How far before its cursor an incremental sync searches again: HubSpot's
search shows a write "after a few moments"."""
_MAPPINGS = Path(__file__).parent / "mappings"


@dataclass(frozen=True)
class _Object:
    info: ObjectInfo
    modified: str
    """The modified-date property the cursor follows."""
    created: str
    """The create-date property (``sources verify`` counts by it)."""


_OBJECTS = (
    _Object(
        ObjectInfo(
            "contacts",
            "id",
            _MAPPINGS / "contacts.yaml",
            "leads, lifecycle stage history",
            requires=("lastmodifieddate",),
        ),
        "lastmodifieddate",
        "createdate",
    ),
)


@register("hubspot")
class HubSpotConnector:
    """A HubSpot portal as a source of records."""

    def __init__(self, spec: Any, context: ConnectorContext, transport: Any = None) -> None:
        self.spec = spec
        self.context = context
        self.name = context.name
        base_url = check_base_url(spec.base_url, source=context.name, key="base_url")
        self._token: str | None = None
        hint = (
            f"token_env: {spec.token_env}" if spec.token_env else f"token_file: {spec.token_file}"
        )
        self.api = HubSpotApi(
            base_url,
            self._read_token,
            source=context.name,
            token_hint=hint,
            rate_limit=spec.rate_limit,
            transport=transport,
        )
        self._objects = {o.info.name: o for o in _OBJECTS}
        self._properties: dict[str, set[str]] = {}

    def _read_token(self) -> str:
        if self._token is None:
            if self.spec.token_env:
                self._token = read_secret(
                    self.spec.token_env,
                    source=self.name,
                    key="token_env",
                    environ=self.context.environ,
                )
            else:
                self._token = read_secret_file(
                    self.spec.token_file, source=self.name, project_dir=self.context.project_dir
                )
        return self._token

    def objects(self) -> Sequence[ObjectInfo]:
        return [o.info for o in _OBJECTS]

    def close(self) -> None:
        self.api.close()

    # -- fetching ----------------------------------------------------------------

    def _check_fields(self, obj: str, fields: Sequence[str]) -> None:
        """KT919 for fields the object does not have: a listing would silently
        leave them out, and a mapping would read blanks."""
        if obj not in self._properties:
            self._properties[obj] = self.api.property_names(obj)
        known = self._properties[obj] | {"id", "createdAt", "updatedAt", "archived", "archivedAt"}
        missing = [f for f in fields if f not in known]
        if missing:
            raise DataError(
                [
                    UserError.of(
                        "KT919",
                        "sources.hubspot.unknown_property",
                        None,
                        source=self.name,
                        object=obj,
                        property=f,
                        hint=did_you_mean(f, sorted(known)),
                    ).diagnostics[0]
                    for f in missing
                ]
            )

    def fetch(self, obj: str, fields: Sequence[str], cursor: str | None) -> Iterator[Page]:
        spec = self._objects[obj]
        self._check_fields(obj, fields)
        if cursor is None:
            # Changes made while the listing runs are found by the next search.
            started = int(time.time() * 1000)
            for results in self.api.listing(obj, fields):
                yield Page(rows=[flatten(r, fields) for r in results], snapshot=True)
            yield Page(cursor=str(started), snapshot=True)
            return
        since = max(int(cursor) - LOOKBACK_MS, 0)
        reached = int(cursor)
        for results, stamp in self.api.modified_since(obj, spec.modified, since, fields):
            reached = max(reached, stamp)
            yield Page(rows=[flatten(r, fields) for r in results])
        deleted: list[str] = []
        for results in self.api.listing(obj, [], archived=True):
            deleted += [str(r["id"]) for r in results if r.get("id") is not None]
        yield Page(deleted=deleted, cursor=str(reached))

    # -- test and verify ---------------------------------------------------------

    def test(self, fields: Mapping[str, Sequence[str]]) -> list[Check]:
        checks: list[Check] = []
        try:
            self._read_token()
        except UserError as exc:
            return [Check(t("sources.check.token"), False, exc.diagnostics[0].message())]
        checks.append(Check(t("sources.check.token"), True))
        for obj, wanted in fields.items():
            what = t("sources.check.object", object=obj)
            try:
                self.api.get(f"/crm/v3/objects/{obj}", {"limit": 1})
                self._check_fields(obj, wanted)
            except UserError as exc:
                detail = "; ".join(redact(d.message()) for d in exc.diagnostics)
                checks.append(Check(what, False, detail))
                if exc.diagnostics[0].code in ("KT905", "KT915"):
                    break  # nothing else can pass
                continue
            except KpitreeError as exc:
                checks.append(Check(what, False, redact(str(exc))))
                continue
            checks.append(Check(what, True, t("sources.check.fields", count=len(wanted))))
        return checks

    def verify(self, months: Sequence[date]) -> list[VendorCount]:
        zone = ZoneInfo(self.context.timezone)
        counts = []
        for first in months:
            nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            start = _ms(first, zone)
            end = _ms(nxt, zone)
            for spec in _OBJECTS:
                n = self.api.count(spec.info.name, spec.created, start, end)
                counts.append(VendorCount(spec.info.name, spec.created, f"{first:%Y-%m}", n))
        return counts


def _ms(day: date, zone: ZoneInfo) -> int:
    from datetime import datetime

    return epoch_ms(datetime(day.year, day.month, day.day, tzinfo=zone).isoformat())
