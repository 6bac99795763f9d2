"""Delivering one notification to one channel: Slack incoming webhooks, signed
generic webhooks, SMTP e-mail, and the in-app list (nothing to send).

Webhook signature (for receivers; see docs/alerts.md): the request carries
``X-Kpitree-Timestamp`` (Unix seconds) and ``X-Kpitree-Signature``
(``sha256=`` + hex HMAC-SHA256 with the shared secret over
``timestamp + "." + body``). :func:`verify_signature` is the reference check.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from kpitree.alerts.channels import (
    Channel,
    DeliveryError,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
)

__all__ = ["deliver", "sign", "verify_signature"]

TIMESTAMP_HEADER = "X-Kpitree-Timestamp"
SIGNATURE_HEADER = "X-Kpitree-Signature"
EVENT_HEADER = "X-Kpitree-Event"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``timestamp + "." + body``."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = 300.0,
) -> bool:
    """Whether a webhook request is genuine and fresh (within ``tolerance``
    seconds, which stops a captured request being replayed later)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout: float, name: str) -> None:
    import httpx

    try:
        response = httpx.post(url, content=body, headers=dict(headers), timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{name}: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        permanent = response.status_code in (400, 401, 403, 404, 410)
        raise DeliveryError(
            f"{name}: HTTP {response.status_code} {response.text[:200]}", permanent=permanent
        )


def deliver(
    channel: Channel,
    event: Mapping[str, Any],
    *,
    lang: str,
    base_url: str | None,
    delivery_id: int | None = None,
    environ: Mapping[str, str] | None = None,
    clock: float | None = None,
) -> None:
    """Send ``event`` through ``channel``; raises ``DeliveryError`` on failure."""
    import json

    from kpitree.alerts import messages

    if isinstance(channel, SlackChannel):
        payload = messages.slack_payload(event, lang, base_url)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        _post(channel.address(environ), body, headers, channel.timeout, channel.name)
    elif isinstance(channel, WebhookChannel):
        body = messages.webhook_body(event, lang, base_url)
        stamp = str(int(time.time() if clock is None else clock))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(channel.secret(environ), stamp, body),
            EVENT_HEADER: f"{event['id']}.{delivery_id or 0}",
        }
        _post(channel.address(environ), body, headers, channel.timeout, channel.name)
    elif isinstance(channel, EmailChannel):
        from kpitree.alerts.email import send_mail

        subject, text, html = messages.email_parts(event, lang, base_url)
        send_mail(channel, subject=subject, text=text, html=html, environ=environ)
    # In-app: the event is in the app database already; nothing to send.
