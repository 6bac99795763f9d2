"""Bulk API 2.0 queries, for reading a large object whole (a first or a full sync).

1. ``POST /services/data/vXX.X/jobs/query`` with ``{"operation": "query" |
   "queryAll", "query": "SELECT ..."}`` creates the job (no ``GROUP BY``,
   aggregates or ``ORDER BY``: ordering would stop Salesforce splitting the work).
2. ``GET .../jobs/query/{id}`` until ``state`` is ``JobComplete`` (``Failed`` and
   ``Aborted`` stop with the job's ``errorMessage``), waiting longer each time.
3. ``GET .../jobs/query/{id}/results?maxRecords=N[&locator=L]``: CSV, the next
   locator in ``Sforce-Locator`` (the text ``null`` after the last set), with the
   same API version as the job (another gives 409).

Rows come back as field -> text, an empty cell as ``None`` (CSV cannot tell an
empty text from a null; for kpitree's fields both mean "not set"). Datetimes,
written ``2025-01-15T09:30:00.000Z``, are given as REST writes them
(``2025-01-15T09:30:00.000+0000``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kpitree.connectors.salesforce.errors import salesforce_error

if TYPE_CHECKING:
    from kpitree.connectors.salesforce.client import SalesforceClient

__all__ = ["RESULT_SET", "bulk_query"]

RESULT_SET = 50_000
"""Records per result set (``maxRecords``): a few MB of CSV per request."""
_MAX_POLL_WAIT = 10.0
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def _cell(text: str) -> str | None:
    """A CSV cell as REST would give it: empty -> None, ``...000Z`` -> ``...000+0000``."""
    if text == "":
        return None
    # Cheap tests first: this runs for every cell of every record.
    if len(text) == 24 and text[-1] == "Z" and text[10] == "T" and _INSTANT.fullmatch(text):
        return text[:-1] + "+0000"
    return text


def bulk_query(
    client: SalesforceClient, soql: str, *, include_deleted: bool = False
) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``soql`` through a Bulk API 2.0 query job, one result set at a time."""
    base = f"/services/data/{client.api_version}/jobs/query"
    job = client.send(
        "POST", base, json={"operation": "queryAll" if include_deleted else "query",
                            "query": soql},
    ).json()  # fmt: skip
    job_id = str(job["id"])
    wait = 0.2
    while job.get("state") not in ("JobComplete", "Failed", "Aborted"):
        client.sleep(wait)
        wait = min(wait * 2, _MAX_POLL_WAIT)
        job = client.send("GET", f"{base}/{job_id}").json()
    if job["state"] != "JobComplete":
        raise salesforce_error(
            "KT938", "salesforce.http.refused", status=200, error_code=job["state"],
            message=str(job.get("errorMessage") or "-"), path=f"{base}/{job_id}",
        )  # fmt: skip
    locator: str | None = ""
    while locator is not None:
        params = f"?maxRecords={RESULT_SET}" + (f"&locator={locator}" if locator else "")
        response = client.send("GET", f"{base}/{job_id}/results{params}")
        reader = csv.DictReader(io.StringIO(response.text))
        yield [{k: _cell(v) for k, v in row.items()} for row in reader]
        following = response.headers.get("sforce-locator", "null")
        locator = None if following in ("", "null") else following
