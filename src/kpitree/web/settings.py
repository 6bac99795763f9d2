"""The security settings of one running server: ``web:`` in ``kpitree.yaml``
merged with the options of ``kpitree serve``.

>>> settings = WebSettings.of(project.tree.web, host="0.0.0.0",          # doctest: +SKIP
...                           allowed_hosts=["kpi.example.co.jp"])
>>> settings.host_allowed("kpi.example.co.jp:8000")                     # doctest: +SKIP
True
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from kpitree.definition.spec_web import SsoSpec, WebSpec, check_host_name, check_proxy
from kpitree.errors import UserError

__all__ = ["LOOPBACK_NAMES", "Network", "WebSettings", "split_host"]

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
"""Host names every server answers: this machine."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_host(header: str) -> tuple[str, int | None] | None:
    """``Host`` header -> (name as compared, port or None); ``None`` when malformed."""
    value = header.strip()
    port: int | None = None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    else:
        name, sep, digits = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
        if sep:
            if not digits.isdigit():
                return None
            port = int(digits)
    if port is not None and not 0 < port < 65536:
        return None
    checked = check_host_name(name)
    return None if checked is None else (checked, port)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class WebSettings:
    """What the guard and the sessions of one server follow.

    ``allowed_hosts`` are the names answered besides :data:`LOOPBACK_NAMES` and
    IP addresses (a page can only rebind a *name* to this machine, so an address
    in ``Host`` is never the work of DNS rebinding).
    """

    allowed_hosts: frozenset[str] = frozenset()
    trusted_proxies: tuple[Network, ...] = ()
    session_idle: int = 480 * 60
    session_lifetime: int = 336 * 3600
    public_api_docs: bool = False
    secure_cookies: bool | None = None
    sso: SsoSpec | None = None
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", LOOPBACK_NAMES | self.allowed_hosts)

    @classmethod
    def of(
        cls,
        spec: WebSpec | None = None,
        *,
        host: str | None = None,
        allowed_hosts: Iterable[str] = (),
        trusted_proxies: Iterable[str] = (),
        session_idle_minutes: int | None = None,
        session_lifetime_hours: int | None = None,
        public_api_docs: bool | None = None,
        secure_cookies: bool | None = None,
    ) -> WebSettings:
        """The settings of ``web:`` (``spec``) with the command line's on top:
        hosts and proxies are added, the other values replace. Bad values
        given on the command line raise KT630/KT632."""
        spec = spec or WebSpec()
        names: set[str] = set()
        for given in (*spec.allowed_hosts, *allowed_hosts, *([host] if host else [])):
            name = check_host_name(given)
            if name is None:
                raise UserError.of("KT630", "web.settings.bad_host", None, host=given)
            if name not in ("0.0.0.0", "::"):
                names.add(name)
        proxies: list[Network] = []
        for given in (*spec.trusted_proxies, *trusted_proxies):
            network = check_proxy(given)
            if network is None:
                raise UserError.of("KT632", "web.settings.bad_proxy", None, proxy=given)
            proxies.append(network)
        idle = session_idle_minutes or spec.session_idle_minutes
        lifetime = session_lifetime_hours or spec.session_lifetime_hours
        return cls(
            allowed_hosts=frozenset(names),
            trusted_proxies=tuple(proxies),
            session_idle=idle * 60,
            session_lifetime=lifetime * 3600,
            public_api_docs=spec.public_api_docs if public_api_docs is None else public_api_docs,
            secure_cookies=secure_cookies,
            sso=spec.sso,
        )

    def host_allowed(self, name: str) -> bool:
        """Whether a host name (as :func:`split_host` gives it) is answered."""
        return name in self.names or _is_ip(name)

    def trusts(self, address: str) -> bool:
        """Whether the peer ``address`` is a configured trusted proxy."""
        if not self.trusted_proxies:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)
