"""Raw definition model of the web server's settings (``web:`` in
``kpitree.yaml``): which host names it answers, which proxies it trusts, how
long sessions live and whether the API description is public. ``kpitree
serve`` options add to (hosts, proxies) or replace (the rest) these."""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from kpitree.i18n import t

__all__ = ["SsoSpec", "WebSpec", "check_host_name", "check_proxy"]


def _invalid(key: str, **params: Any) -> PydanticCustomError:
    return PydanticCustomError("kpitree_invalid", t(key, **params).replace("{", "{{"))


def check_host_name(value: str) -> str | None:
    """A host name as compared with ``Host`` headers (lower case, no port, no
    trailing dot; an IPv6 address without brackets), or ``None`` when it is not one."""
    name = value.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    labels = name.split(".")
    ok = bool(name) and len(name) <= 253
    ok = ok and all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in label)
        for label in labels
    )
    return name if ok else None


def check_proxy(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """An address or CIDR network (``10.0.0.0/8``), or ``None`` when it is not one."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


class SsoSpec(BaseModel):
    """``web.sso:``: single sign-on through an OpenID Connect provider (Google
    Workspace, Microsoft Entra ID, Okta, Keycloak...), beside the local users.
    The client secret is read from the environment variable named here, never
    from a file."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    issuer: str = Field(
        description="The provider's issuer URL (its /.well-known/openid-configuration is read).",
        pattern=r"^https?://",
    )
    client_id: str = Field(min_length=1, description="The client (application) id.")
    client_secret_env: str = Field(
        "KPITREE_OIDC_CLIENT_SECRET",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the client secret.",
    )
    label: str = Field("SSO", max_length=60, description="Text of the login button.")
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "email", "profile"],
        description="Scopes asked for (openid is always asked).",
    )
    name_claim: str = Field("email", description="Claim whose value is the user name.")
    groups_claim: str = Field("groups", description="Claim listing the user's groups.")
    roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Role -> groups that give it (admin, editor, viewer); '*' is anyone.",
    )
    allowed_domains: list[str] = Field(
        default_factory=list,
        description="Only names (e-mail addresses) in these domains may log in (default: any).",
    )

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for role in value:
            if role not in ("viewer", "editor", "admin"):
                raise _invalid(
                    "web.users.bad_role", role=role, roles="viewer, editor, admin", hint=""
                )
        return value


class WebSpec(BaseModel):
    """``web:``: the settings of ``kpitree serve`` that belong with the project."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the server answers besides 127.0.0.1, localhost, [::1] "
        "and its --host (DNS-rebinding protection).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR networks of reverse proxies whose X-Forwarded-For, "
        "X-Forwarded-Proto and Forwarded headers are believed (default: none).",
    )
    session_idle_minutes: int = Field(
        480, ge=1, le=525600, description="A session unused this long ends (minutes)."
    )
    session_lifetime_hours: int = Field(
        336, ge=1, le=87600, description="A session ends this long after its login (hours)."
    )
    public_api_docs: bool = Field(
        False,
        description="Serve /openapi.json and /docs without a login (default: viewers only).",
    )
    sso: SsoSpec | None = Field(
        None, description="Single sign-on through an OpenID Connect provider (docs/web.md)."
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            if check_host_name(host) is None:
                raise _invalid("web.settings.bad_host", host=host)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for proxy in value:
            if check_proxy(proxy) is None:
                raise _invalid("web.settings.bad_proxy", proxy=proxy)
        return value
