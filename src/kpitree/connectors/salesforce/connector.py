"""The Salesforce connector: ``type: salesforce`` under ``sources:``.

Built from the source's spec without touching the network; the first request
logs in (client credentials or JWT bearer, secrets read from the environment
then). :meth:`SalesforceConnector.fetch` reads one object through
:func:`~kpitree.connectors.salesforce.objects.read_object`;
:meth:`~SalesforceConnector.test` checks the login, every object and field the
mappings read (describe) and the API allowance; :meth:`~SalesforceConnector.verify`
asks Salesforce's own aggregate SOQL for the monthly counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kpitree.connectors.base import (
    Check,
    ConnectorContext,
    ObjectInfo,
    Page,
    VendorCount,
    register,
)
from kpitree.connectors.http import check_base_url
from kpitree.connectors.salesforce.auth import LOGIN_AUDIENCE, Credentials
from kpitree.connectors.salesforce.client import SalesforceClient
from kpitree.connectors.salesforce.errors import SalesforceError, salesforce_error
from kpitree.connectors.salesforce.objects import OBJECTS, read_object, source_fields
from kpitree.connectors.salesforce.verify import monthly_counts
from kpitree.connectors.secrets import read_secret, remember_secret
from kpitree.i18n import t

__all__ = ["SalesforceConnector"]

MAPPINGS = Path(__file__).parent / "mappings"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
_DESCRIPTIONS = {
    "users": "User, UserRole -> reps",
    "accounts": "Account -> accounts",
    "leads": "Lead, LeadHistory -> leads, lead_stage_history",
    "opportunities": "Opportunity, OpportunityHistory -> deals, deal_stage_history",
}


@register("salesforce")
class SalesforceConnector:
    """One Salesforce org (see :mod:`kpitree.connectors.salesforce`)."""

    def __init__(self, spec: Any, context: ConnectorContext) -> None:
        self.spec = spec
        self.context = context
        self.instance_url = check_base_url(
            spec.instance_url, source=context.name, key="instance_url"
        )
        self._client: SalesforceClient | None = None

    # -- the session -------------------------------------------------------------------
    def credentials(self) -> Credentials:
        """The login, with secrets read from the environment (KT903 when unset)."""
        auth, name, env = self.spec.auth, self.context.name, self.context.environ
        client_id = read_secret(auth.client_id_env, source=name, key="client_id_env", environ=env)
        if auth.flow == "client_credentials":
            secret = read_secret(
                auth.client_secret_env, source=name, key="client_secret_env", environ=env
            )
            return Credentials(
                "client_credentials", client_id, secret,
                secret_names=(auth.client_id_env, auth.client_secret_env),
            )  # fmt: skip
        key_path = read_secret(
            auth.private_key_file_env, source=name, key="private_key_file_env", environ=env
        )
        try:
            key = Path(key_path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise salesforce_error(
                "KT932", "salesforce.auth.bad_key", names=auth.private_key_file_env,
                reason=type(exc).__name__,
            ) from None  # fmt: skip
        remember_secret(key)
        sandbox = ".sandbox.my.salesforce.com" in self.instance_url
        return Credentials(
            "jwt", client_id, username=auth.username, private_key=key,
            audience=SANDBOX_AUDIENCE if sandbox else LOGIN_AUDIENCE,
            secret_names=(auth.client_id_env, auth.private_key_file_env),
        )  # fmt: skip

    @property
    def client(self) -> SalesforceClient:
        if self._client is None:
            self._client = SalesforceClient(self.instance_url, self.credentials())
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- the protocol --------------------------------------------------------------------
    def objects(self) -> Sequence[ObjectInfo]:
        return [
            ObjectInfo(
                name=o.name,
                id_field="Id",
                mapping=MAPPINGS / f"{o.name}.yaml",
                description=_DESCRIPTIONS[o.name],
                requires=o.required,
            )
            for o in OBJECTS.values()
        ]

    def fetch(self, obj: str, fields: Sequence[str], cursor: str | None) -> Iterator[Page]:
        extract = read_object(self.client, OBJECTS[obj], fields, cursor)
        rows = [{f: row.get(f) for f in fields} for row in extract.rows]
        yield Page(rows=rows, deleted=extract.deleted, cursor=extract.cursor,
                   snapshot=extract.full)  # fmt: skip

    def present_fields(self, obj: str, fields: Sequence[str]) -> set[str]:
        """Which of ``fields`` the object has (its describe; a parent field such as
        ``Owner.Name`` by its relationship; the fields the connector works out)."""
        asked = set(source_fields(fields))
        derived = set(fields) - asked
        if not asked:
            return derived
        describe = self.client.describe(OBJECTS[obj].sobject)
        have = {str(f.get("name")) for f in describe.get("fields", [])}
        parents = {
            f"{f['relationshipName']}."
            for f in describe.get("fields", [])
            if f.get("relationshipName")
        }
        return derived | {f for f in asked if f in have or f.split(".", 1)[0] + "." in parents}

    def test(self, fields: Mapping[str, Sequence[str]]) -> list[Check]:
        checks = []
        try:
            self.client.authenticate()
        except SalesforceError as exc:
            return [Check(t("salesforce.test.login"), False, _first(exc))]
        flow = self.spec.auth.flow
        checks.append(Check(t("salesforce.test.login"), True, t(f"salesforce.test.flow.{flow}")))
        scopes = set((self.client.scope or "").split())
        if scopes and not scopes & {"api", "full"}:
            checks.append(
                Check(t("salesforce.test.scope"), False,
                      t("salesforce.test.no_api_scope", scopes=" ".join(sorted(scopes))))
            )  # fmt: skip
        for name, wanted in fields.items():
            obj = OBJECTS.get(name)
            if obj is None:
                continue
            checks += self._test_object(obj.sobject, source_fields(wanted))
            if obj.history is not None:
                history = self._test_object(obj.history, [])
                if obj.history == "LeadHistory" and not history[0].ok:
                    history = [Check(history[0].what, False, t("salesforce.history.off"))]
                checks += history
            if name == "users":
                checks += self._test_object("UserRole", ["Name", "ParentRoleId"])
        usage = self.client.usage
        if usage is not None:
            room = usage.used < usage.limit * (1 - self.client.reserve)
            checks.append(
                Check(
                    t("salesforce.test.api"),
                    room,
                    t("salesforce.test.api_usage", used=usage.used, limit=usage.limit),
                )
            )
        return checks

    def _test_object(self, sobject: str, fields: Sequence[str]) -> list[Check]:
        what = t("salesforce.test.object", sobject=sobject)
        try:
            describe = self.client.describe(sobject)
        except SalesforceError as exc:
            return [Check(what, False, _first(exc))]
        have = {f.get("name") for f in describe.get("fields", [])}
        # A parent field (Owner.Name) is checked by its relationship's name.
        have |= {
            f"{f['relationshipName']}."
            for f in describe.get("fields", [])
            if f.get("relationshipName")
        }
        missing = [f for f in fields if f not in have and f.split(".", 1)[0] + "." not in have]
        if not missing:
            return [Check(what, True, t("salesforce.test.fields", count=len(fields)))]
        return [
            Check(
                t("salesforce.test.field", sobject=sobject, field=f),
                False,
                t("salesforce.access.field", sobject=sobject, field=f),
            )
            for f in missing
        ]

    def verify(self, months: Sequence[dt.date]) -> list[VendorCount]:
        return monthly_counts(self.client, months, self.context.timezone)


def _first(exc: SalesforceError) -> str:
    return exc.diagnostics[0].message()
