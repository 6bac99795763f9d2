"""Where a record lives in its source system: the URL pattern (``{id}`` for the
record's id) of each fact table a synced source fills.

A HubSpot portal with ``portal_id`` links contacts, deals and companies to their
record pages (``https://app.hubspot.com/contacts/<portal>/record/<type>/<id>``);
a Salesforce org links leads, opportunities and accounts to their Lightning
record pages (``<instance_url>/lightning/r/<sObject>/<id>/view``). Only an
object synced through its default mapping counts (a mapping of the user's may
fill another table), and a table two sources fill gets no link (a row does not
say which one it came from). ``data.record_links`` overrides all of these.
"""

from __future__ import annotations

from collections.abc import Mapping

from kpitree.definition.spec_sources import HubSpotSourceSpec, SalesforceSourceSpec, SourceSpec

__all__ = ["source_record_links"]

# Object -> (table it fills, HubSpot's object type id).
_HUBSPOT = {
    "contacts": ("leads", "0-1"),
    "companies": ("accounts", "0-2"),
    "deals": ("deals", "0-3"),
}
# Object -> (table it fills, sObject).
_SALESFORCE = {
    "leads": ("leads", "Lead"),
    "accounts": ("accounts", "Account"),
    "opportunities": ("deals", "Opportunity"),
}


def _patterns(spec: SourceSpec) -> dict[str, tuple[str, str]]:
    """Object -> (table, URL pattern) of one source."""
    if isinstance(spec, HubSpotSourceSpec):
        if spec.portal_id is None:
            return {}
        app = spec.app_url.rstrip("/")
        return {
            obj: (table, f"{app}/contacts/{spec.portal_id}/record/{kind}/{{id}}")
            for obj, (table, kind) in _HUBSPOT.items()
        }
    if isinstance(spec, SalesforceSourceSpec):
        root = spec.instance_url.rstrip("/")
        return {
            obj: (table, f"{root}/lightning/r/{sobject}/{{id}}/view")
            for obj, (table, sobject) in _SALESFORCE.items()
        }
    return {}


def source_record_links(sources: Mapping[str, SourceSpec]) -> dict[str, str]:
    """Table -> URL pattern of its records, from the synced sources that fill it.

    >>> from kpitree.definition.spec_sources import SourcesSpec
    >>> spec = SourcesSpec.model_validate(
    ...     {"sources": {"crm": {"type": "hubspot", "token_env": "T", "portal_id": 123}}}
    ... )
    >>> source_record_links(spec.sources)["deals"]
    'https://app.hubspot.com/contacts/123/record/0-3/{id}'
    """
    found: dict[str, set[str]] = {}
    for spec in sources.values():
        for obj, (table, pattern) in _patterns(spec).items():
            if spec.objects is not None and obj not in spec.objects:
                continue
            if obj in spec.mappings:
                continue
            found.setdefault(table, set()).add(pattern)
    return {table: next(iter(p)) for table, p in sorted(found.items()) if len(p) == 1}
