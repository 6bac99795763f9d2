"""Notification channels resolved from ``notifications.channels``: what a
sender needs, with secrets read from the environment only when sending.

Exceptions::

    KpitreeError
    ├── UserError
    │   └── (KT722) an unknown channel name; (KT723) a secret's variable unset
    └── DeliveryError   a receiver could not be reached or refused the message
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpitree.errors import KpitreeError, UserError
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    from kpitree.definition.spec_alerts import ChannelSpec
    from kpitree.definition.tree import Tree

__all__ = [
    "Channel",
    "DeliveryError",
    "EmailChannel",
    "InAppChannel",
    "SlackChannel",
    "WebhookChannel",
    "resolve_channel",
]


class DeliveryError(KpitreeError):
    """A notification could not be delivered (network, refusal, bad status).
    ``permanent`` errors are not worth retrying as they are (bad address)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _secret(channel: str, variable: str, environ: Mapping[str, str] | None) -> str:
    env = os.environ if environ is None else environ
    value = env.get(variable)
    if not value:
        raise UserError.of("KT723", "alerts.secret_unset", None, channel=channel, variable=variable)
    return value


@dataclass(frozen=True)
class EmailChannel:
    """SMTP e-mail. The password is read from ``password_env`` when sending."""

    name: str
    host: str
    port: int
    security: str  # starttls | ssl | none
    sender: str
    to: tuple[str, ...]
    user: str | None = None
    password_env: str | None = None
    timeout: float = 10.0
    kind: str = "email"

    def password(self, environ: Mapping[str, str] | None = None) -> str | None:
        if self.password_env is None:
            return None
        return _secret(self.name, self.password_env, environ)


@dataclass(frozen=True)
class SlackChannel:
    """A Slack incoming webhook."""

    name: str
    url: str | None
    url_env: str | None = None
    timeout: float = 10.0
    kind: str = "slack"

    def address(self, environ: Mapping[str, str] | None = None) -> str:
        if self.url is not None:
            return self.url
        assert self.url_env is not None
        return _secret(self.name, self.url_env, environ)


@dataclass(frozen=True)
class WebhookChannel:
    """A generic webhook: a JSON POST signed with HMAC-SHA256 (docs/alerts.md)."""

    name: str
    url: str | None
    secret_env: str
    url_env: str | None = None
    timeout: float = 10.0
    kind: str = "webhook"

    def address(self, environ: Mapping[str, str] | None = None) -> str:
        if self.url is not None:
            return self.url
        assert self.url_env is not None
        return _secret(self.name, self.url_env, environ)

    def secret(self, environ: Mapping[str, str] | None = None) -> bytes:
        return _secret(self.name, self.secret_env, environ).encode("utf-8")


@dataclass(frozen=True)
class InAppChannel:
    """Stored in the project's app database and listed on the dashboard."""

    name: str
    kind: str = "in_app"


Channel = EmailChannel | SlackChannel | WebhookChannel | InAppChannel

_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _from_spec(name: str, spec: ChannelSpec) -> Channel:
    if spec.type == "email":
        assert spec.host and spec.from_
        return EmailChannel(
            name,
            spec.host,
            spec.port or _DEFAULT_PORTS[spec.security],
            spec.security,
            spec.from_,
            tuple(spec.to),
            spec.user,
            spec.password_env,
            spec.timeout_seconds,
        )
    if spec.type == "slack":
        return SlackChannel(name, spec.url, spec.url_env, spec.timeout_seconds)
    if spec.type == "webhook":
        assert spec.secret_env
        return WebhookChannel(name, spec.url, spec.secret_env, spec.url_env, spec.timeout_seconds)
    return InAppChannel(name)


def resolve_channel(tree: Tree, name: str) -> Channel:
    """The channel called ``name`` in the project's ``notifications.channels``
    (the definition's checks have made sure it is complete)."""
    channels = tree.notifications.channels
    if name not in channels:
        raise UserError.of(
            "KT722",
            "alerts.unknown_channel",
            None,
            channel=name,
            channels=", ".join(channels) or "-",
            hint=did_you_mean(name, list(channels)),
        )
    return _from_spec(name, channels[name])
