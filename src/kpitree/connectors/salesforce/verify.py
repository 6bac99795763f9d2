"""Salesforce's own monthly counts, for ``kpitree sources verify``.

SOQL groups datetimes by UTC (``CALENDAR_MONTH(CreatedDate)`` without
``convertTimezone()``, which would use the integration user's zone), while
kpitree counts months in the project's time zone. So each month is asked as its
own aggregate, ``SELECT COUNT(Id) FROM Lead WHERE CreatedDate >= <month start>
AND CreatedDate < <next month start>``, the bounds being the month's midnights in
the project's zone written in UTC: Salesforce's number, cut where kpitree cuts.

Counted: leads and opportunities by ``CreatedDate``, as ``query`` counts them
(records in the recycle bin are not counted).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

from kpitree.connectors.base import VendorCount
from kpitree.connectors.salesforce.client import SalesforceClient

__all__ = ["COUNTED", "monthly_counts"]

COUNTED: tuple[tuple[str, str, str, str], ...] = (
    # (object, sObject, field, extra condition)
    ("leads", "Lead", "CreatedDate", ""),
    ("opportunities", "Opportunity", "CreatedDate", ""),
)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def monthly_counts(
    client: SalesforceClient, months: Sequence[dt.date], timezone: str
) -> list[VendorCount]:
    """Per counted object and field, the records of each month (its first day in
    ``months``, in ``timezone``)."""
    zone = zoneinfo.ZoneInfo(timezone)
    out = []
    for first in sorted({dt.date(m.year, m.month, 1) for m in months}):
        label = first.strftime("%Y-%m")
        for obj, sobject, field, condition in COUNTED:
            extra = f" AND {condition}" if condition else ""
            low = _utc(dt.datetime.combine(first, dt.time(), zone))
            high = _utc(dt.datetime.combine(_next_month(first), dt.time(), zone))
            soql = (
                f"SELECT COUNT(Id) FROM {sobject} "
                f"WHERE {field} >= {low} AND {field} < {high}{extra}"
            )
            count = sum(int(r["expr0"]) for page in client.query(soql) for r in page)
            out.append(VendorCount(obj, field, label, count))
    return out
