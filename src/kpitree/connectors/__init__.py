"""Connectors: MA/SFA systems read through their APIs, synced like imports.

How the pieces fit::

    sources: in kpitree.yaml          kpitree.definition.spec_sources (validated, located)
          |
    open_connector(spec, context)     kpitree.connectors.base: registry by ``type``
          |
    Connector.fetch(object, fields, cursor) -> Page, Page, ...
          |                           rows as text, deleted ids, new cursor, snapshot flag
    the engine (connectors.sync)      last row per id; the object's mapping (user's
          |                           file or the connector's default), through the
          |                           SAME mapping layer as files (data.records)
    MappedBatch per object
          |
    data.syncstore.apply_sync         rows + deletions + cursors, ONE transaction,
                                      one import (``kpitree imports`` / ``undo``)

**Writing a connector** (one folder per vendor, ``connectors/<vendor>/``):

1. A class with the methods of :class:`~kpitree.connectors.base.Connector`:
   ``objects()`` (each :class:`~kpitree.connectors.base.ObjectInfo` names the
   field holding the record id, a default mapping YAML shipped beside the
   module, and fields the connector itself needs such as its cursor field),
   ``fetch(obj, fields, cursor)`` (pages of :class:`~kpitree.connectors.base.Page`;
   ``cursor=None`` means list everything and mark the pages ``snapshot``; put
   the new cursor on the last page), ``test(fields)``, ``verify(months)``,
   ``close()``. Its constructor takes ``(spec, context)`` and must not touch
   the network.
   Optional methods the engine uses when present: ``present_fields(obj,
   fields)`` (which fields exist, for mappings with alternative spellings or
   optional columns: :mod:`kpitree.connectors.fields`), ``history_stages(obj)``
   (stages only the source knows, added to the default mapping, e.g. a HubSpot
   portal's pipeline stages by label) and ``fetch_records(obj, fields, ids)``
   (records read by id, for what a webhook reported).
2. Register it: ``@register("<type>")`` on the class, and name its module in
   :data:`~kpitree.connectors.base.CONNECTOR_MODULES` (imported lazily).
3. HTTP through :class:`~kpitree.connectors.http.Http` (timeouts, client-side
   rate limits, backoff for 429 with or without ``Retry-After``, 5xx and
   network retries, a ``refresh`` hook called once on a 401, ``translate`` for
   the vendor's error bodies). Secrets through
   :func:`~kpitree.connectors.secrets.read_secret` /
   :func:`~kpitree.connectors.secrets.read_secret_file`, which register them
   for :func:`~kpitree.connectors.secrets.redact`.
4. Rows are ``field -> text``; leave parsing to the mapping (ISO instants,
   numbers as text). The engine keeps the last row of a repeated id.

Everything a sync writes commits together with the cursors, so an interrupted
sync (kill -9, network drop, 429 storm, expired token) leaves the warehouse as
it was, and the next one resumes from the old cursors. Records the source
deleted (``Page.deleted``, or absent from a snapshot) leave the warehouse with
the rows of every table keyed by their id; a sync that changes nothing adds no
import.
"""

from __future__ import annotations

from kpitree.connectors.base import (
    Check,
    Connector,
    ConnectorContext,
    ObjectInfo,
    Page,
    VendorCount,
    open_connector,
    register,
)

__all__ = [
    "Check",
    "Connector",
    "ConnectorContext",
    "ObjectInfo",
    "Page",
    "VendorCount",
    "open_connector",
    "register",
]
