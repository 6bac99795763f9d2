"""What every request passes before any route (pages, ``/api``, the event
stream, static files, ``/docs``): called by
:class:`~kpitree.web.security.WebMiddleware`.

* **Proxies.** ``X-Forwarded-For``/``-Proto``/``-Host`` and ``Forwarded`` are
  believed only from a configured trusted proxy (``--trusted-proxy``,
  ``web.trusted_proxies``); otherwise the peer address is the client, the
  connection's scheme the scheme and ``Host`` the host name.
* **DNS rebinding.** The host name (``Host``, or a trusted proxy's) must name
  this server: a loopback name, the ``--host`` it listens on, an allowed host
  name, or an IP address (a page can only rebind a *name*). Otherwise 421, KT631.
* **Cross-site writes.** A POST/PUT/PATCH/DELETE that says where it comes from
  (``Origin``, else ``Referer``) must come from this very origin (scheme, host
  and port); otherwise 403, KT633. A request with neither (curl, scripts) goes
  on to the CSRF token check like every other.
"""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from kpitree.definition.spec_web import check_host_name
from kpitree.web.settings import WebSettings, split_host

__all__ = ["Refusal", "apply_proxy", "refusal"]

Scope = MutableMapping[str, Any]
Refusal = tuple[int, str, str, dict[str, Any]]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(scope: Scope, name: bytes) -> str | None:
    found = [v for k, v in scope.get("headers", []) if k == name]
    return None if not found else b",".join(found).decode("latin-1")


def _ip(value: str) -> str | None:
    """An address from a proxy header (``1.2.3.4``, ``1.2.3.4:5``, ``"[::1]:5"``)."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.split(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _forwarded(scope: Scope) -> tuple[list[str | None], str | None, str | None]:
    """Client addresses (nearest last), scheme and host name the proxies report
    (scheme and host as the nearest proxy says: what a client sent is overridden
    or comes before it)."""
    standard = _header(scope, b"forwarded")
    if standard is not None:
        chain: list[str | None] = []
        proto = host = None
        for element in standard.split(","):
            pairs = {
                k.strip().lower(): v.strip().strip('"')
                for k, _, v in (p.partition("=") for p in element.split(";"))
            }
            chain.append(_ip(pairs["for"]) if "for" in pairs else None)
            proto = pairs.get("proto", proto)
            host = pairs.get("host", host)
        return chain, proto, host
    xff = _header(scope, b"x-forwarded-for")
    proto = _header(scope, b"x-forwarded-proto")
    host = _header(scope, b"x-forwarded-host")
    chain = [_ip(part) for part in xff.split(",")] if xff else []
    return (
        chain,
        proto.split(",")[-1].strip() if proto else None,
        host.split(",")[-1].strip() if host else None,
    )


def apply_proxy(scope: Scope, settings: WebSettings) -> None:
    """When the peer is a trusted proxy, take the client address (the nearest one
    that is not itself a trusted proxy), the scheme and the host name the browser
    asked for from its headers."""
    client = scope.get("client")
    if not client or not settings.trusts(client[0]):
        return
    state = scope.setdefault("state", {})
    state["via_proxy"] = True
    chain, proto, host = _forwarded(scope)
    address = None
    for hop in reversed(chain):
        if hop is None:
            break  # an unknown hop: what lies beyond it cannot be believed
        address = hop
        if not settings.trusts(hop):
            break
    if address is not None:
        scope["client"] = (address, 0)
    if proto and proto.lower() in ("http", "https"):
        scope["scheme"] = proto.lower()
    if host:
        state["forwarded_host"] = host


def refusal(scope: Scope, settings: WebSettings) -> Refusal | None:
    """Why this request is refused before any route, or ``None``."""
    asked = scope.get("state", {}).get("forwarded_host") or _header(scope, b"host") or ""
    host = split_host(asked)
    if host is None or not settings.host_allowed(host[0]):
        return 421, "KT631", "web.error.wrong_host", {"host": asked[:100]}
    if scope.get("method", "GET") not in UNSAFE_METHODS:
        return None
    source = _header(scope, b"origin")
    if source is None:
        referer = _header(scope, b"referer")
        if referer is None:
            return None  # not a browser's cross-site request: the CSRF check decides
        source = referer
    if not _same_origin(source, scope, host, settings):
        return 403, "KT633", "web.error.cross_origin", {"origin": source[:100]}
    return None


def _same_origin(
    source: str, scope: Scope, host: tuple[str, int | None], settings: WebSettings
) -> bool:
    try:
        parts = urlsplit(source.strip())
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    name = check_host_name(parts.hostname)
    if name is None or name != host[0] or not settings.host_allowed(name):
        return False
    scheme = scope.get("scheme", "http")
    if parts.scheme != scheme:
        return False
    if scope.get("state", {}).get("via_proxy"):
        return True  # a trusted proxy may have rewritten the port
    mine = host[1] or _DEFAULT_PORTS[scheme]
    return (port or _DEFAULT_PORTS[parts.scheme]) == mine
