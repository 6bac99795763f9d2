"""Raw definition model of ``sources:`` in ``kpitree.yaml``: the MA/SFA systems
``kpitree sync`` reads through their APIs.

Secrets never appear here: a source names the environment variable that holds
its token (``token_env``), or a file outside the project (``token_file``). The
``*_env`` names are checked to be environment-variable names; a value that
looks like anything else is refused without being repeated, since it may be
the secret itself.

:func:`read_sources` reads only the ``sources`` key of a project's
``kpitree.yaml`` (as imports read only ``data.warehouse``), so a tree still
being fixed does not stop a sync; every problem is reported at once, located.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kpitree.errors import DefinitionError, Diagnostic, Severity, Span
from kpitree.source import Document, KeyPath, load_yaml

__all__ = [
    "ENV_NAME",
    "ClientCredentialsAuthSpec",
    "HubSpotSourceSpec",
    "JwtAuthSpec",
    "KintoneAppSpec",
    "KintoneSourceSpec",
    "SalesforceSourceSpec",
    "ScheduleSpec",
    "SourceSpec",
    "SourcesSpec",
    "parse_every",
    "read_sources",
    "sources_diagnostics",
]

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a ``*_env`` value must look like: an environment variable's name."""
_EVERY = re.compile(r"(\d+)\s*(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ScheduleSpec(_Strict):
    """``schedule: {every: 15m}``: how often ``kpitree serve`` syncs the source."""

    every: str = Field(
        description="Interval: a number and s, m, h or d (15m, 1h, 1d); at least 1m."
    )


def parse_every(text: str) -> int | None:
    """Seconds of a schedule's ``every`` (``15m`` -> 900), or ``None`` when it is
    not an interval of at least a minute."""
    match = _EVERY.fullmatch(text.strip())
    if match is None:
        return None
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    return seconds if seconds >= 60 else None


class _SourceBase(_Strict):
    schedule: ScheduleSpec | None = Field(
        None, description="Sync on a schedule while kpitree serve runs: {every: 15m}."
    )
    objects: list[str] | None = Field(
        None,
        description="Objects to sync (default: every object the connector offers, "
        "as `kpitree sources` lists them).",
    )
    mappings: dict[str, str] = Field(
        default_factory=dict,
        description="Per object: a mapping file (relative to the project) instead of "
        "the connector's default mapping.",
    )
    timezone: str | None = Field(
        None, description="Zone of the source's timestamps without one (default: the project's)."
    )


class HubSpotSourceSpec(_SourceBase):
    """A HubSpot portal, read with a private-app token or a service key."""

    type: Literal["hubspot"]
    token_env: str | None = Field(
        None, description="Environment variable holding the private-app token or service key."
    )
    token_file: str | None = Field(
        None, description="Or: a file outside the project holding the token (one line)."
    )
    base_url: str = Field(
        "https://api.hubapi.com",
        description="API root (a proxy, a sandbox, a test server); https unless loopback.",
    )
    webhook_secret_env: str | None = Field(
        None,
        description="Environment variable holding the client secret of the HubSpot app whose "
        "webhooks call POST /hooks/hubspot (each verified request syncs this source).",
    )
    portal_id: int | None = Field(
        None,
        ge=1,
        description="The portal's account id (the number in its app URLs): record lists "
        "link each contact, deal and company to its record in HubSpot.",
    )
    app_url: str = Field(
        "https://app.hubspot.com",
        pattern=r"^https://\S+$",
        description="HubSpot's app address for those links (https://app-eu1.hubspot.com "
        "for a portal in the EU data centre).",
    )
    rate_limit: int = Field(
        100,
        ge=1,
        le=1000,
        description="Requests per 10 seconds kpitree allows itself (HubSpot's burst limit: "
        "100 on Free and Starter, 190 on Professional and Enterprise).",
    )


class ClientCredentialsAuthSpec(_Strict):
    flow: Literal["client_credentials"]
    client_id_env: str = Field(description="Environment variable holding the consumer key.")
    client_secret_env: str = Field(description="Environment variable holding the consumer secret.")


class JwtAuthSpec(_Strict):
    flow: Literal["jwt"]
    client_id_env: str = Field(description="Environment variable holding the consumer key.")
    username: str = Field(description="The Salesforce user the integration runs as.")
    private_key_file_env: str = Field(
        description="Environment variable holding the path of the private key file."
    )


class SalesforceSourceSpec(_SourceBase):
    """A Salesforce org, read through the REST API with an OAuth flow."""

    type: Literal["salesforce"]
    instance_url: str = Field(description="https://<domain>.my.salesforce.com")
    auth: Annotated[ClientCredentialsAuthSpec | JwtAuthSpec, Field(discriminator="flow")] = Field(
        description="{flow: client_credentials | jwt, ...}"
    )


class KintoneAppSpec(_Strict):
    app: int = Field(ge=1, description="App id.")
    token_env: str = Field(description="Environment variable holding the app's API token.")
    mapping: str | None = Field(None, description="Mapping file (relative to the project).")
    guest_space: int | None = Field(
        None,
        ge=1,
        description="The guest space the app is in (the id in its URL /k/guest/<id>/...): "
        "its API is under /k/guest/<id>/v1/.",
    )


class KintoneSourceSpec(_SourceBase):
    """A kintone domain, read app by app with API tokens."""

    type: Literal["kintone"]
    base_url: str = Field(description="https://<subdomain>.cybozu.com")
    apps: dict[str, KintoneAppSpec] = Field(description="Object name -> {app, token_env, mapping}.")


SourceSpec = Annotated[
    HubSpotSourceSpec | SalesforceSourceSpec | KintoneSourceSpec, Field(discriminator="type")
]


class SourcesSpec(_Strict):
    """The ``sources`` key alone (what :func:`read_sources` validates)."""

    sources: dict[str, SourceSpec] = Field(default_factory=dict)


def _env_keys(value: Any, path: KeyPath) -> list[tuple[KeyPath, Any]]:
    """Every ``*_env`` key under ``value`` with its path."""
    found: list[tuple[KeyPath, Any]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(key, str) and key.endswith("_env"):
                found.append(((*path, key), inner))
            else:
                found += _env_keys(inner, (*path, key))
    return found


def sources_diagnostics(doc: Document, raw: Any) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Validate ``raw`` (the value of ``sources``) from ``doc``: the specs by name
    and every problem, located."""
    from kpitree.definition.pydantic_errors import validation_diagnostics

    diags: list[Diagnostic] = []
    for path, value in _env_keys(raw, ("sources",)):
        if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
            # Never echo the value (nor its line, under a caret): it may be the
            # token pasted in by mistake.
            at = doc.span(path)
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    "KT900",
                    "sources.bad_env_name",
                    {"key": path[-1]},
                    Span(at.file, at.line, at.column),
                )
            )
    try:
        model = SourcesSpec.model_validate({"sources": raw})
    except ValidationError as exc:
        diags += [
            d
            for d in validation_diagnostics(exc, SourcesSpec, doc)
            if not (d.span and any(d.span == doc.span(p) for p, _ in _env_keys(raw, ("sources",))))
        ]
        return {}, diags
    for name, spec in model.sources.items():
        if spec.schedule is not None and parse_every(spec.schedule.every) is None:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    "KT901",
                    "sources.bad_every",
                    {"value": spec.schedule.every},
                    doc.span(("sources", name, "schedule", "every")),
                )
            )
        if isinstance(spec, HubSpotSourceSpec) and (spec.token_env is None) == (
            spec.token_file is None
        ):
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    "KT902",
                    "sources.one_token",
                    {"name": name},
                    doc.key_span(("sources", name)),
                )
            )
    return dict(model.sources), diags


def read_sources(project_dir: str | Path) -> dict[str, Any]:
    """The sources of the project's ``kpitree.yaml`` by name (``{}`` when it has
    none). Only the ``sources`` key is read; a :class:`DefinitionError` lists
    every problem in it."""
    path = Path(project_dir) / "kpitree.yaml"
    if not path.is_file():
        return {}
    doc = load_yaml(path)
    raw = doc.data.get("sources") if isinstance(doc.data, dict) else None
    if raw is None:
        return {}
    specs, diags = sources_diagnostics(doc, raw)
    if diags:
        raise DefinitionError(diags)
    return specs
