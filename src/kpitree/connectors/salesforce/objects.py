"""What kpitree reads from a Salesforce org, object by object, and how.

Four objects feed the funnel, each read incrementally by ``SystemModstamp`` (the
system's own last-change time, which migrations cannot set back, unlike
``LastModifiedDate``):

========== ================= ==============================================================
object     sObject           also read
========== ================= ==============================================================
users      User              UserRole (the role's name becomes ``Role``)
accounts   Account
leads      Lead              LeadHistory (``Status`` changes and the conversion), if on
opportunities Opportunity    OpportunityHistory (every stage change)
========== ================= ==============================================================

A record reaches the mapping layer as one row of text, its fields by API name,
plus columns the connector works out from the history objects:

- ``Status entered: <status>``: when the lead first entered that status
  (LeadHistory ``Field = 'Status'``);
- ``ConvertedAt``: when the lead was converted (the LeadHistory ``leadConverted``
  row; without field history, ``ConvertedDate``, a day);
- ``Stage entered: <stage>``: when the opportunity first entered that stage
  (OpportunityHistory rows whose ``StageName`` differs from the row before: an
  amount or close-date change is not a stage entry);
- ``LeadId``: the lead the opportunity was converted from
  (``Lead.ConvertedOpportunityId``; the first one when several were). A lead
  converted into an existing opportunity does not change the opportunity, so an
  incremental read also reads again the opportunities of leads converted since
  the cursor;
- ``Role``, ``ParentRole``: the user's role and the role above it.

An incremental read uses ``queryAll`` (deleted rows too) with
``SystemModstamp >= cursor - 5 minutes`` (a transaction that commits late can
carry an older stamp): rows with ``IsDeleted = true`` leave the warehouse,
the others are written again with their complete history (re-read for exactly
those records), so a stage entry is never half-known. Records are read again on
purpose (SOQL datetimes have whole seconds, and the look-back): writing a record
twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kpitree.connectors.salesforce.bulk import bulk_query
from kpitree.connectors.salesforce.client import SalesforceClient
from kpitree.connectors.salesforce.errors import SalesforceError

__all__ = [
    "CONVERTED_AT",
    "LEAD_ID",
    "OBJECTS",
    "PARENT_ROLE",
    "ROLE",
    "STAGE_ENTERED",
    "STATUS_ENTERED",
    "Extract",
    "SalesforceObject",
    "read_object",
    "soql_datetime",
]

STATUS_ENTERED = "Status entered: "
STAGE_ENTERED = "Stage entered: "
CONVERTED_AT = "ConvertedAt"
LEAD_ID = "LeadId"
ROLE = "Role"
PARENT_ROLE = "ParentRole"
CURSOR_FIELD = "SystemModstamp"
# Ids per IN (...) list: 200 ids of 18 characters keep the URL far below its limit.
ID_BATCH = 200
# A record saved in a transaction that commits after a sync's query can carry a
# SystemModstamp older than that sync's cursor: each read starts this much earlier
# (records read again are unchanged, and change nothing).
LOOKBACK = dt.timedelta(minutes=5)
# A whole read of an object at least this large goes through a Bulk API 2.0 query
# job (50,000 records a request instead of 2,000), as do its history rows.
BULK_FROM = 20_000
# Salesforce empties the recycle bin after 15 days: an incremental read older than
# that could miss deletions, so it reads everything instead.
RECYCLE_DAYS = 14


@dataclass(frozen=True)
class SalesforceObject:
    name: str
    sobject: str
    required: tuple[str, ...]
    """Fields the connector itself needs (besides what the mapping reads)."""
    history: str | None = None
    """History sObject read for changed records (its absence is allowed)."""
    deletable: bool = True


OBJECTS: dict[str, SalesforceObject] = {
    o.name: o
    for o in (
        SalesforceObject("users", "User", ("Id", "UserRoleId", CURSOR_FIELD), deletable=False),
        SalesforceObject("accounts", "Account", ("Id", CURSOR_FIELD)),
        SalesforceObject(
            "leads",
            "Lead",
            ("Id", "IsConverted", "ConvertedDate", CURSOR_FIELD),
            history="LeadHistory",
        ),
        SalesforceObject(
            "opportunities", "Opportunity", ("Id", CURSOR_FIELD), history="OpportunityHistory"
        ),
    )
}
DERIVED_PREFIXES = (STATUS_ENTERED, STAGE_ENTERED)
DERIVED = {CONVERTED_AT, LEAD_ID, ROLE, PARENT_ROLE}


@dataclass
class Extract:
    """What one read of an object brought."""

    rows: list[dict[str, str | None]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cursor: str | None = None
    full: bool = False
    bulk: bool = False
    """Whole reads (the object's and its history's) go through Bulk API 2.0."""
    notes: list[str] = field(default_factory=list)
    """Message keys of things the user should know (e.g. field history off)."""


def soql_datetime(stamp: str) -> str:
    """A SOQL datetime literal (``2025-01-31T09:00:00Z``) from an API value
    (``2025-01-31T09:00:00.000+0000``), cut to the second."""
    return parse_stamp(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def since(cursor: str) -> str:
    """Where an incremental read starts: the cursor less :data:`LOOKBACK`."""
    return (parse_stamp(cursor) - LOOKBACK).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp_key(stamp: str) -> str:
    """A text that sorts as the instant ``stamp`` does. Salesforce writes every
    datetime in UTC (``2025-01-31T09:00:00.000+0000``), which already sorts so;
    anything else is rewritten that way (parsing 100,000s of stamps is slow)."""
    if len(stamp) == 28 and stamp.endswith("+0000"):
        return stamp
    return parse_stamp(stamp).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "+0000"


def parse_stamp(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(dt.UTC)


def source_fields(headers: Iterable[str]) -> list[str]:
    """The fields of ``headers`` that are Salesforce fields (not worked out here)."""
    return [h for h in headers if h not in DERIVED and not h.startswith(DERIVED_PREFIXES)]


def read_object(
    client: SalesforceClient,
    obj: SalesforceObject,
    headers: Iterable[str],
    cursor: str | None,
    *,
    now: dt.datetime | None = None,
    page_rows: Callable[[int], None] | None = None,
) -> Extract:
    """Read ``obj`` changed since ``cursor`` (everything when ``None``): the fields the
    mapping needs (``headers``), the derived columns, the deleted ids, the new cursor."""
    fields = list(dict.fromkeys([*obj.required, *source_fields(headers)]))
    now = now or dt.datetime.now(dt.UTC)
    if cursor is not None and parse_stamp(cursor) < now - dt.timedelta(days=RECYCLE_DAYS):
        cursor = None
    out = Extract(full=cursor is None, cursor=stamp_key(cursor) if cursor else None)
    if cursor is None:
        soql = f"SELECT {', '.join(fields)} FROM {obj.sobject}"
        out.bulk = _count(client, obj.sobject) >= BULK_FROM
        pages = _whole(client, soql, out.bulk, order=CURSOR_FIELD)
    else:
        with_deleted = [*fields, "IsDeleted"] if obj.deletable else fields
        soql = (
            f"SELECT {', '.join(with_deleted)} FROM {obj.sobject} "
            f"WHERE {CURSOR_FIELD} >= {since(cursor)} ORDER BY {CURSOR_FIELD}"
        )
        pages = client.query(soql, include_deleted=obj.deletable)
    records: list[dict[str, Any]] = []
    for page in pages:
        for record in page:
            stamp = record.get(CURSOR_FIELD)
            if stamp and (out.cursor is None or stamp_key(stamp) > out.cursor):
                out.cursor = stamp_key(stamp)
            if record.pop("IsDeleted", False):
                out.deleted.append(str(record["Id"]))
            else:
                records.append(record)
        if page_rows is not None:
            page_rows(len(page))
    if obj.name == "opportunities" and cursor is not None:
        records += _converted_into(client, fields, cursor, {str(r["Id"]) for r in records})
    derive = {"users": _roles, "leads": _lead_history, "opportunities": _stage_history}.get(
        obj.name
    )
    if derive is not None and records:
        derive(client, records, out)
    out.rows = [{k: _text(v) for k, v in r.items()} for r in records]
    return out


def _converted_into(
    client: SalesforceClient, fields: list[str], cursor: str, known: set[str]
) -> list[dict[str, Any]]:
    """Opportunities that leads converted since ``cursor`` went into, when the
    opportunity itself did not change (a conversion into an existing one): read
    again so that their originating lead is known."""
    soql = (
        "SELECT ConvertedOpportunityId FROM Lead WHERE IsConverted = true "
        f"AND {CURSOR_FIELD} >= {since(cursor)}"
    )
    ids = sorted(
        {str(r["ConvertedOpportunityId"]) for page in client.query(soql) for r in page
         if r["ConvertedOpportunityId"]} - known
    )  # fmt: skip
    found: list[dict[str, Any]] = []
    for id_list in _in_batches(ids):
        for page in client.query(
            f"SELECT {', '.join(fields)} FROM Opportunity WHERE Id IN ({id_list})"
        ):
            found += page
    return found


def _count(client: SalesforceClient, sobject: str) -> int:
    """How many live records ``sobject`` has (one aggregate query)."""
    rows = [r for page in client.query(f"SELECT COUNT(Id) FROM {sobject}") for r in page]
    return int(rows[0]["expr0"]) if rows else 0


def _whole(
    client: SalesforceClient, soql: str, bulk: bool, order: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of ``soql``: a Bulk API 2.0 job (unordered), or REST (``ORDER BY order``)."""
    if bulk:
        return bulk_query(client, soql)
    return client.query(f"{soql} ORDER BY {order}" if order else soql)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _in_batches(ids: list[str]) -> Iterator[str]:
    for start in range(0, len(ids), ID_BATCH):
        yield ", ".join(f"'{i}'" for i in ids[start : start + ID_BATCH])


def _history_rows(
    client: SalesforceClient,
    soql: str,
    parent: str,
    ids: list[str],
    everything: bool,
    bulk: bool = False,
) -> Iterator[dict[str, Any]]:
    """History rows of the records ``ids`` (all rows of the object when the read
    covers every record anyway), oldest first per record."""
    if everything:
        for page in _whole(client, soql, bulk, order=f"{parent}, CreatedDate"):
            yield from page
        return
    for id_list in _in_batches(ids):
        for page in client.query(f"{soql} WHERE {parent} IN ({id_list}) ORDER BY CreatedDate"):
            yield from page


def _first_entries(
    rows: Iterable[dict[str, Any]], parent: str, value: str
) -> dict[str, dict[str, str]]:
    """Per parent: value -> first time it was entered, counting a row as an entry
    only when its value differs from the row before."""
    ordered = sorted(rows, key=lambda r: (r[parent], stamp_key(r["CreatedDate"])))
    entries: dict[str, dict[str, str]] = {}
    previous: dict[str, Any] = {}
    for row in ordered:
        key, new = row[parent], row[value]
        if new is None or (key in previous and previous[key] == new):
            continue
        previous[key] = new
        entries.setdefault(key, {}).setdefault(str(new), row["CreatedDate"])
    return entries


def _lead_history(client: SalesforceClient, leads: list[dict[str, Any]], out: Extract) -> None:
    ids = [str(r["Id"]) for r in leads]
    soql = "SELECT LeadId, Field, NewValue, CreatedDate FROM LeadHistory"
    try:
        rows = [
            r
            for r in _history_rows(client, soql, "LeadId", ids, out.full, out.bulk)
            if r["Field"] in ("Status", "leadConverted")
        ]
    except SalesforceError as exc:
        if exc.code != "KT933":
            raise
        out.notes.append("salesforce.history.off")
        rows = []
    status = _first_entries([r for r in rows if r["Field"] == "Status"], "LeadId", "NewValue")
    converted = {
        r["LeadId"]: r["CreatedDate"]
        for r in sorted(rows, key=lambda r: stamp_key(r["CreatedDate"]), reverse=True)
        if r["Field"] == "leadConverted"
    }
    for lead in leads:
        for name, at in status.get(lead["Id"], {}).items():
            lead[STATUS_ENTERED + name] = at
        if lead.get("IsConverted") in (True, "true"):
            lead[CONVERTED_AT] = converted.get(lead["Id"]) or lead.get("ConvertedDate")


def _stage_history(client: SalesforceClient, opps: list[dict[str, Any]], out: Extract) -> None:
    ids = [str(r["Id"]) for r in opps]
    soql = "SELECT OpportunityId, StageName, CreatedDate FROM OpportunityHistory"
    stages = _first_entries(
        _history_rows(client, soql, "OpportunityId", ids, out.full, out.bulk),
        "OpportunityId",
        "StageName",
    )
    soql = "SELECT Id, ConvertedOpportunityId, ConvertedDate FROM Lead"
    if out.full:
        queries = [f"{soql} WHERE IsConverted = true"]
    else:
        queries = [
            f"{soql} WHERE ConvertedOpportunityId IN ({batch})" for batch in _in_batches(ids)
        ]
    converted: list[dict[str, Any]] = []
    for query in queries:
        for page in _whole(client, query, out.bulk and out.full):
            converted += page
    # Several leads converted into one opportunity: the first one is its origin.
    origin: dict[str, str] = {}
    for lead in sorted(converted, key=lambda r: (r["ConvertedDate"] or "", r["Id"])):
        origin.setdefault(str(lead["ConvertedOpportunityId"]), str(lead["Id"]))
    for opp in opps:
        for name, at in stages.get(opp["Id"], {}).items():
            opp[STAGE_ENTERED + name] = at
        opp[LEAD_ID] = origin.get(opp["Id"])


def _roles(client: SalesforceClient, users: list[dict[str, Any]], out: Extract) -> None:
    del out
    roles: dict[str, dict[str, Any]] = {}
    for page in client.query("SELECT Id, Name, ParentRoleId FROM UserRole"):
        roles.update({r["Id"]: r for r in page})
    for user in users:
        role = roles.get(user.get("UserRoleId") or "")
        user[ROLE] = role["Name"] if role else None
        parent = roles.get(role["ParentRoleId"] or "") if role else None
        user[PARENT_ROLE] = parent["Name"] if parent else None
