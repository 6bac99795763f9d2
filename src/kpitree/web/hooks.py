"""Verifying HubSpot's webhook requests (signature v3, as HubSpot documents it:
"Validating requests", developers.hubspot.com).

HubSpot sends ``X-HubSpot-Signature-v3`` and ``X-HubSpot-Request-Timestamp``
(milliseconds since the epoch). The signature is the base64 of the HMAC-SHA256,
keyed with the app's client secret, of the UTF-8 string ``method + URI + body +
timestamp``, where the URI is the full URL HubSpot called (scheme, host, path
and query) with the characters HubSpot lists URL-decoded. A request more than
five minutes old (or as far in the future) is refused, and signatures are
compared in constant time.

A verified body is a JSON array of events. Each names its object by its
``subscriptionType`` (``contact.propertyChange``, ``deal.creation``, ... or, in
the generic form, ``object.propertyChange`` with ``objectTypeId`` ``0-1``
contacts, ``0-2`` companies, ``0-3`` deals) and the record by ``objectId``
(a merge: ``primaryObjectId`` and ``mergedObjectIds``); :func:`changed_records`
turns them into the records to sync.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable

__all__ = ["MAX_AGE_MS", "MAX_BODY_BYTES", "changed_records", "sign", "signed_uri", "verify"]

MAX_AGE_MS = 5 * 60 * 1000
MAX_BODY_BYTES = 256 * 1024
"""HubSpot sends at most 100 events a request, a few hundred bytes each."""
_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip


def signed_uri(url: str) -> str:
    """The URI as HubSpot signs it: the URL with the listed escapes decoded."""
    for escaped, char in _DECODED.items():
        url = url.replace(escaped, char).replace(escaped.lower(), char)
    return url


def sign(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The v3 signature of a request."""
    message = method.encode() + signed_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(
    secrets: Iterable[str],
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now_ms: int | None = None,
) -> int | None:
    """The index of the secret that signed the request, or ``None`` when it is
    unsigned, stale or signed with none of them."""
    if not signature or not timestamp or not timestamp.isdigit() or len(timestamp) > 15:
        return None
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - int(timestamp)) > MAX_AGE_MS:
        return None
    found = None
    for index, secret in enumerate(secrets):
        expected = sign(secret, method, uri, body, timestamp)
        # Every secret is compared (no early exit): the time says nothing.
        if hmac.compare_digest(expected.encode(), signature.encode()) and found is None:
            found = index
    return found


_LEGACY = {"contact": "contacts", "company": "companies", "deal": "deals"}
_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}


def changed_records(body: bytes) -> dict[str, set[str]] | None:
    """Object (``contacts``, ``companies``, ``deals``) -> ids of the records the
    events say changed (created, changed, deleted, merged, restored,
    associations changed); events of other objects are left out. ``None`` when
    the body is not a list of events (the whole source is synced then)."""
    try:
        events = json.loads(body)
    except ValueError:
        return None
    if not isinstance(events, list):
        return None
    out: dict[str, set[str]] = {}
    for event in events:
        if not isinstance(event, dict):
            return None
        kind = str(event.get("subscriptionType") or "")
        prefix = kind.split(".", 1)[0]
        obj = (
            _TYPE_IDS.get(str(event.get("objectTypeId")))
            if prefix == "object"
            else _LEGACY.get(prefix)
        )
        if obj is None:
            continue
        ids = [event.get("objectId"), event.get("primaryObjectId")]
        merged = event.get("mergedObjectIds")
        ids += merged if isinstance(merged, list) else []
        found = out.setdefault(obj, set())
        found |= {str(i) for i in ids if isinstance(i, int | str) and str(i).isdigit()}
    return out
