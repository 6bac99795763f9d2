"""The HTTP client every connector uses: httpx with timeouts, client-side rate
limits, backoff, a token-refresh hook and redacted errors.

- **Rate limits.** A connector declares its vendor's documented limits as
  :class:`RateLimit` windows (e.g. 100 requests per 10 s); a request waits until
  every window it is subject to has room.
- **429.** Waited out: for ``Retry-After`` seconds when the vendor sends it,
  else with exponential backoff (base ``KPITREE_SYNC_BACKOFF`` seconds, default
  1; HubSpot's search sends no ``Retry-After``). After ``max_retries`` in a row
  the request fails with KT908.
- **5xx and network errors** (refused connection, reset, timeout): retried
  with the same backoff, then KT909 / KT905.
- **401.** The connector's ``refresh`` hook (if any) gets a new token once,
  then the request is sent again; a second 401 goes to the connector.
- **Other 4xx** go to the connector's ``translate(response)``, which turns the
  vendor's error body into a located, actionable :class:`DataError`.

Every message passes through :func:`kpitree.connectors.secrets.redact`.
Plain ``http://`` is refused except to a loopback address (KT906).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kpitree.connectors.secrets import redact
from kpitree.errors import DataError, KpitreeError, UserError

if TYPE_CHECKING:
    import httpx

__all__ = ["BACKOFF_ENV", "Http", "RateLimit", "check_base_url"]

BACKOFF_ENV = "KPITREE_SYNC_BACKOFF"
"""Base of the exponential backoff, in seconds (default 1)."""
_MAX_WAIT = 60.0


def check_base_url(url: str, *, source: str, key: str) -> str:
    """``url`` without a trailing slash; KT906 unless it is ``https://host...``
    or ``http://`` to a loopback address (a local proxy or a test server)."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if (
        not host
        or parts.scheme not in ("https", "http")
        or (parts.scheme == "http" and not loopback)
    ):
        raise DataError.of("KT906", "sources.bad_url", source=source, field=key, url=url)
    return url.strip().rstrip("/")


@dataclass
class RateLimit:
    """At most ``requests`` per ``seconds`` (a sliding window)."""

    requests: int
    seconds: float
    _sent: deque[float] = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def acquire(self, sleep: Callable[[float], None]) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.seconds:
                    self._sent.popleft()
                if len(self._sent) < self.requests:
                    self._sent.append(now)
                    return
                wait = self.seconds - (now - self._sent[0])
            sleep(max(wait, 0.001))


class Http:
    """A connector's HTTP session on one vendor API (close it when done)."""

    def __init__(
        self,
        base_url: str,
        *,
        source: str,
        headers: Callable[[], Mapping[str, str]],
        translate: Callable[[httpx.Response], KpitreeError],
        refresh: Callable[[], None] | None = None,
        limits: tuple[RateLimit, ...] = (),
        max_retries: int = 8,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx

        self.source = source
        self.base_url = base_url
        self._headers = headers
        self._translate = translate
        self._refresh = refresh
        self._limits = limits
        self._max_retries = max_retries
        self._sleep = sleep
        self.backoff = float(os.environ.get(BACKOFF_ENV) or 1.0)
        self.requests = 0
        """Requests sent (retries included)."""
        self.throttled = 0
        """429 answers received."""
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def _wait(self, attempt: int, retry_after: str | None = None) -> None:
        delay = min(self.backoff * (2**attempt), _MAX_WAIT)
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = min(max(float(retry_after), 0.0), _MAX_WAIT)
        self._sleep(delay)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        limits: tuple[RateLimit, ...] = (),
    ) -> Any:
        """Send the request and return its decoded JSON body (retrying as the
        module says); ``limits`` are extra windows for this kind of request."""
        import httpx

        attempt = refreshed = 0
        while True:
            for limit in (*self._limits, *limits):
                limit.acquire(self._sleep)
            self.requests += 1
            try:
                response = self._client.request(
                    method, url, params=params, json=json, headers=dict(self._headers())
                )
            except httpx.TransportError as exc:
                if attempt >= min(self._max_retries, 4):
                    raise DataError.of(
                        "KT905",
                        "sources.unreachable",
                        source=self.source,
                        url=redact(self.base_url),
                        error=redact(f"{type(exc).__name__}: {exc}"),
                    ) from None
                self._wait(attempt)
                attempt += 1
                continue
            status = response.status_code
            if 200 <= status < 300:
                try:
                    return response.json() if response.content else None
                except ValueError:
                    raise self._unexpected(response, "not JSON") from None
            if status == 429:
                self.throttled += 1
                if attempt >= self._max_retries:
                    raise DataError.of(
                        "KT908", "sources.rate_limited", source=self.source, tries=attempt + 1
                    )
                self._wait(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            if status >= 500:
                if attempt >= min(self._max_retries, 4):
                    raise DataError.of(
                        "KT909",
                        "sources.server_error",
                        source=self.source,
                        status=status,
                        body=redact(response.text[:300]),
                    )
                self._wait(attempt)
                attempt += 1
                continue
            if status == 401 and self._refresh is not None and not refreshed:
                refreshed = 1
                self._refresh()
                continue
            raise self._translate(response)

    def _unexpected(self, response: httpx.Response, what: str) -> UserError:
        return DataError.of(
            "KT910",
            "sources.unexpected",
            source=self.source,
            url=redact(str(response.request.url)),
            problem=what,
            body=redact(response.text[:300]),
        )

    def unexpected(self, response: httpx.Response | None, what: str) -> UserError:
        """KT910: the vendor answered something this connector does not understand."""
        if response is None:
            return DataError.of(
                "KT910",
                "sources.unexpected",
                source=self.source,
                url=redact(self.base_url),
                problem=what,
                body="",
            )
        return self._unexpected(response, what)
