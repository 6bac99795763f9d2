"""The HubSpot connector (``type: hubspot``).

Objects (owners, companies, contacts, deals), their default mappings and the
fields the connector derives from pipelines and associations are described in
:mod:`kpitree.connectors.hubspot.objects`; endpoints, limits and paging in
:mod:`kpitree.connectors.hubspot.api`.

The first sync (and ``--full``) lists every record; later syncs search for the
records modified since the cursor (the modified-date property, minus a
five-minute look-back for HubSpot's indexing lag) and list the archived ones,
which leave the warehouse. Owners are listed whole every time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
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
from kpitree.connectors.hubspot.objects import (
    DERIVED,
    OBJECTS,
    STAGE_ENTERED,
    Pipelines,
    owner_row,
)
from kpitree.connectors.secrets import read_secret, read_secret_file, redact
from kpitree.errors import DataError, KpitreeError, UserError
from kpitree.i18n import t
from kpitree.source import did_you_mean

__all__ = ["LOOKBACK_MS", "HubSpotConnector"]

LOOKBACK_MS = 5 * 60 * 1000
"""How far before its cursor an incremental sync searches again: HubSpot's
search shows a write "after a few moments"."""
_TOP = {"id", "createdAt", "updatedAt", "archived", "archivedAt"}
_OWNER_FIELDS = {"id", "email", "type", "firstName", "lastName", "userId",
                 "userIdIncludingInactive", "createdAt", "updatedAt", "archived", "teams",
                 "name"}  # fmt: skip
"""An owner's fields (``GET /crm/v3/owners``) and the derived ``name``."""
_STAGE_COUNTS = {
    "contacts": (
        "hs_v2_date_entered_lead",
        "hs_v2_date_entered_marketingqualifiedlead",
        "hs_v2_date_entered_salesqualifiedlead",
        "hs_v2_date_entered_opportunity",
        "hs_v2_date_entered_customer",
    )
}
"""Stage-entry properties ``sources verify`` counts per month besides creation."""


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
            refresh=self._forget_token,
        )
        self._objects = {o.info.name: o for o in OBJECTS}
        self._properties: dict[str, set[str]] = {}
        self._pipelines: Pipelines | None = None

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

    def _forget_token(self) -> None:
        """On a 401: read the token again once (a ``token_file`` that a token
        helper rewrote when the token expired), then retry the request."""
        self._token = None

    def objects(self) -> Sequence[ObjectInfo]:
        return [o.info for o in OBJECTS]

    def close(self) -> None:
        self.api.close()

    # -- fetching ----------------------------------------------------------------

    def _check_fields(self, obj: str, fields: Sequence[str]) -> None:
        """KT919 for fields the object does not have: a listing would silently
        leave them out, and a mapping would read blanks."""
        if obj == "owners":
            return
        if obj not in self._properties:
            self._properties[obj] = self.api.property_names(obj)
        known = self._properties[obj] | _TOP | set(DERIVED.get(obj, {}))
        if obj == "deals" and any(f.startswith(STAGE_ENTERED) for f in fields):
            known |= set(self.pipelines().stage_fields())
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

    def present_fields(self, obj: str, fields: Sequence[str]) -> set[str]:
        """Which of ``fields`` ``obj`` has (properties, record fields, derived
        fields), for mappings that give alternatives."""
        if obj == "owners":
            return set(fields) & _OWNER_FIELDS
        if obj not in self._properties:
            self._properties[obj] = self.api.property_names(obj)
        known = self._properties[obj] | _TOP | set(DERIVED.get(obj, {}))
        if obj == "deals" and any(f.startswith(STAGE_ENTERED) for f in fields):
            known |= set(self.pipelines().stage_fields())
        return set(fields) & known

    def pipelines(self) -> Pipelines:
        if self._pipelines is None:
            self._pipelines = Pipelines.of(self.api.pipelines("deals"))
        return self._pipelines

    def _properties_for(self, obj: str, fields: Sequence[str]) -> list[str]:
        """The properties to ask for: the fields that are properties, and what
        the derived ones are computed from."""
        derived = DERIVED.get(obj, {})
        stages = [f for f in fields if obj == "deals" and f.startswith(STAGE_ENTERED)]
        props = [f for f in fields if f not in derived and f not in stages]
        for f in fields:
            props += derived.get(f, ())
        if stages:
            offered = set(self.pipelines().stage_fields())
            # A label no pipeline has stays in the list: the field check names it.
            props += [f for f in stages if f not in offered]
            props += ["pipeline", "dealstage", *self.pipelines().entry_properties(open_stages=True)]
        elif obj == "deals" and {"date_entered_won", "date_entered_lost"} & set(fields):
            props += self.pipelines().entry_properties()
        return list(dict.fromkeys(props))

    def history_stages(self, obj: str) -> dict[str, str]:
        """Stages the default mapping of ``obj`` does not name but the source
        knows: for deals, each open stage label of the portal's pipelines ->
        its derived ``Stage entered: <label>`` field."""
        if obj != "deals":
            return {}
        return {label: f"{STAGE_ENTERED}{label}" for label in self.pipelines().open_labels()}

    def _rows(
        self, obj: str, results: list[dict[str, Any]], fields: Sequence[str], props: Sequence[str]
    ) -> list[dict[str, str | None]]:
        rows = []
        for record in results:
            if obj != "deals":
                rows.append(flatten(record, fields))
                continue
            row = flatten(record, fields)
            self.pipelines().derive(row, record.get("properties") or {})
            rows.append(row)
        if obj == "deals" and rows:
            ids = [str(r["id"]) for r in rows]
            for field_name, target in (("company_id", "companies"), ("contact_id", "contacts")):
                if field_name in fields:
                    found = self.api.associated("deals", target, ids)
                    for row in rows:
                        row[field_name] = next(iter(found.get(str(row["id"]), [])), None)
        return rows

    def fetch(self, obj: str, fields: Sequence[str], cursor: str | None) -> Iterator[Page]:
        spec = self._objects[obj]
        if spec.modified is None:  # owners: listed whole, active and archived
            for archived in (False, True):
                for results in self.api.owners(archived=archived):
                    rows = [owner_row(o, fields, archived) for o in results]
                    yield Page(rows=rows, snapshot=True)
            return
        props = self._properties_for(obj, fields)
        self._check_fields(obj, props)
        if cursor is None:
            # Changes made while the listing runs are found by the next search.
            started = int(time.time() * 1000)
            for results in self.api.listing(obj, props):
                yield Page(rows=self._rows(obj, results, fields, props), snapshot=True)
            yield Page(cursor=str(started), snapshot=True)
            return
        since = max(int(cursor) - LOOKBACK_MS, 0)
        reached = int(cursor)
        for results, stamp in self.api.modified_since(obj, spec.modified, since, props):
            reached = max(reached, stamp)
            yield Page(rows=self._rows(obj, results, fields, props))
        deleted: list[str] = []
        for results in self.api.listing(obj, [], archived=True):
            deleted += [str(r["id"]) for r in results if r.get("id") is not None]
        yield Page(deleted=deleted, cursor=str(reached))

    def fetch_records(self, obj: str, fields: Sequence[str], ids: Sequence[str]) -> Iterator[Page]:
        """The records ``ids`` of ``obj`` as they are now (a batch read: unlike
        search, it shows a write at once); ids HubSpot no longer has are left to
        the archived listing of the same sync."""
        spec = self._objects[obj]
        if spec.modified is None or not ids:
            return
        props = self._properties_for(obj, fields)
        self._check_fields(obj, props)
        for results in self.api.read_by_id(obj, list(dict.fromkeys(ids)), props):
            yield Page(rows=self._rows(obj, results, fields, props))

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
                if obj == "owners":
                    self.api.get("/crm/v3/owners", {"limit": 1})
                else:
                    self.api.get(f"/crm/v3/objects/{obj}", {"limit": 1})
                    self._check_fields(obj, self._properties_for(obj, wanted))
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
            start, end = _ms(first, zone), _ms(nxt, zone)
            for spec in OBJECTS:
                if spec.created is None:
                    continue
                obj = spec.info.name
                for prop in (spec.created, *_STAGE_COUNTS.get(obj, ())):
                    n = self.api.count(obj, prop, start, end)
                    counts.append(VendorCount(obj, prop, f"{first:%Y-%m}", n))
        return counts


def _ms(day: date, zone: ZoneInfo) -> int:
    return epoch_ms(datetime(day.year, day.month, day.day, tzinfo=zone).isoformat())
